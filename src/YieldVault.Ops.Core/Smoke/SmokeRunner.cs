using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using System.Net;
using System.Security;
using System.Threading;
using System.Threading.Tasks;
using YieldVault.Ops.Hosts;

namespace YieldVault.Ops.Smoke;

/// <summary>What a smoke run checks and how (Test-VaultSmoke's parameters, as Core sees them).</summary>
public sealed class SmokeOptions
{
    /// <summary>Check through this URL from this machine (runbook 9.2) instead of the target's localhost.</summary>
    public Uri? BaseUrl { get; init; }

    /// <summary>The admin API key for the write test; null: ADMIN_API_KEY from the target's env file.</summary>
    public SecureString? ApiKey { get; init; }

    public bool IncludeWrite { get; init; }

    public bool RateLimitProbe { get; init; }

    /// <summary>The time one request may take.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>A check refused with 429 waits for Retry-After and asks once more, when Retry-After is at most this.</summary>
    public TimeSpan RetryAfterLimit { get; init; } = TimeSpan.FromSeconds(30);
}

/// <summary>
/// Runbook Step 8 (and 9.2 through a public URL): the checks one after another, so that a burst never
/// skews the others, with the rate-limit probe last. A check that fails is a result, not an exception.
/// </summary>
public static class SmokeRunner
{
    private const int ProgressId = 3500;

    /// <summary>What to do about <see cref="ErrorIds.BaseUrlNotSecure"/>.</summary>
    public const string InsecureAction = "Give an https:// -BaseUrl, or leave out -IncludeWrite and -ApiKey (the read checks need no key).";

    /// <summary>Why a -BaseUrl cannot be used, or null.</summary>
    public static string? BaseUrlProblem(Uri url)
    {
        if (!url.IsAbsoluteUri || (url.Scheme != Uri.UriSchemeHttp && url.Scheme != Uri.UriSchemeHttps))
        {
            return "-BaseUrl must be an absolute http:// or https:// URL, such as https://api.yieldvault.finance.";
        }

        if (!string.IsNullOrEmpty(url.UserInfo))
        {
            // Never repeat the URL itself: its user information is a credential.
            return "-BaseUrl must not contain a user name or password.";
        }

        if (!string.IsNullOrEmpty(url.Query) || !string.IsNullOrEmpty(url.Fragment))
        {
            return "-BaseUrl must not have a query or fragment; give the scheme, host, port and an optional path prefix.";
        }

        return null;
    }

    /// <summary>
    /// Why the admin API key (the write check) must not be sent to a -BaseUrl, or null: over plain http it would cross the
    /// network in clear text, so only https, or http to a loopback address, carries it.
    /// </summary>
    public static string? ApiKeyTransportProblem(Uri url) =>
        url.Scheme == Uri.UriSchemeHttps || IsLoopback(url)
            ? null
            : $"-BaseUrl {url.GetLeftPart(UriPartial.Authority)} is plain http to an address that is not loopback: the write check (-IncludeWrite or -ApiKey) " +
              "would send the admin API key in clear text. Nothing was sent.";

    public static async Task<IReadOnlyList<VaultSmokeResult>> RunAsync(VaultTarget target, IHostShell shell, SmokeOptions options, SecretRedactor redactor,
        Action<VaultSmokeResult>? onResult, CancellationToken cancellationToken)
    {
        var sendsKey = options.IncludeWrite || options.ApiKey is not null;
        if (sendsKey && options.BaseUrl is not null && ApiKeyTransportProblem(options.BaseUrl) is { } insecure)
        {
            throw new VaultException(ErrorIds.BaseUrlNotSecure, VaultErrorKind.SecurityError, insecure, InsecureAction);
        }

        var checks = SmokeChecks.For(target, sendsKey, options.RateLimitProbe);
        var baseUri = options.BaseUrl ?? await shell.GetHttpBaseAsync(target.Port, cancellationToken).ConfigureAwait(false);
        var viaProxy = options.BaseUrl is not null && !IsLoopback(options.BaseUrl);
        var results = new List<VaultSmokeResult>();
        var activity = $"Smoke tests on {target.Name}" + (options.BaseUrl is null ? "" : $" through {options.BaseUrl.GetLeftPart(UriPartial.Authority)}");
        (string? Key, string? Problem)? apiKey = null;
        try
        {
            for (var i = 0; i < checks.Count; i++)
            {
                var check = checks[i];
                cancellationToken.ThrowIfCancellationRequested();
                Reporting.Current.Progress(ProgressId, activity, $"{check.Name} ({i + 1}/{checks.Count})", i * 100 / checks.Count);
                var url = SmokeHttp.Combine(baseUri, check.Path);
                var shown = redactor.Redact(options.BaseUrl is null ? check.Path : url.AbsoluteUri);
                Reporting.Current.Verbose($"{target.Name}: smoke check {check.Name}: {check.Method} {shown}" + (check.Repeat > 1 ? $" (up to {check.Repeat} requests)" : ""));

                string? key = null;
                Outcome outcome;
                if (check.SendsApiKey)
                {
                    apiKey ??= await ResolveApiKeyAsync(target, shell, options, redactor, cancellationToken).ConfigureAwait(false);
                    key = apiKey.Value.Key;
                }

                if (check.SendsApiKey && key is null)
                {
                    outcome = new Outcome(false, null, null, apiKey!.Value.Problem ?? "no API key", false);
                }
                else if (check.Kind == SmokeCheckKind.RateLimitProbe)
                {
                    outcome = await ProbeRateLimitAsync(check, url, viaProxy, options.Timeout, cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    outcome = await RequestAsync(target, check, url, key, viaProxy, options, cancellationToken).ConfigureAwait(false);
                }

                var result = new VaultSmokeResult
                {
                    Target = target, Name = check.Name, Passed = outcome.Passed, StatusCode = outcome.StatusCode, LatencyMs = outcome.LatencyMs is { } ms ? Math.Round(ms, 1) : null,
                    Detail = redactor.Redact(outcome.Detail), Url = shown, BlockedByMaintenance = outcome.Maintenance,
                };
                Reporting.Current.Verbose($"{target.Name}: smoke check {check.Name} {(result.Passed ? "passed" : "FAILED")}: {result.Detail}");
                results.Add(result);
                onResult?.Invoke(result);
            }
        }
        finally
        {
            Reporting.Current.Progress(ProgressId, activity, "done", 100, completed: true);
        }

        return results;
    }

    /// <summary>
    /// Invoke-VaultDeployment's Step 9: runs the checks and returns why they failed, or null. Under
    /// <paramref name="maintenance"/> the backend refuses its API with 503 while the flag exists, so those
    /// answers do not fail the deployment; a warning names the checks that could not run.
    /// </summary>
    public static async Task<string?> RunForDeploymentAsync(VaultTarget target, IHostShell shell, SmokeOptions options, SecretRedactor redactor,
        bool maintenance, CancellationToken cancellationToken)
    {
        var results = await RunAsync(target, shell, options, redactor, null, cancellationToken).ConfigureAwait(false);
        var blocked = results.Where(r => !r.Passed && maintenance && r.BlockedByMaintenance).Select(r => r.Name).ToList();
        if (blocked.Count > 0)
        {
            Reporting.Current.Warning($"{target.Name}: the smoke checks {string.Join(", ", blocked)} could not run: the backend answers 503 while MAINTENANCE_MODE is set. " +
                "Run Test-VaultSmoke after the deployment.");
        }

        return FailureText(results, maintenance);
    }

    /// <summary>"smoke checks failed: StellarRpc (answered 502, ...); fees (...)", or null when none failed.</summary>
    public static string? FailureText(IReadOnlyList<VaultSmokeResult> results, bool ignoreMaintenance)
    {
        var failed = results.Where(r => !r.Passed && !(ignoreMaintenance && r.BlockedByMaintenance)).ToList();
        if (failed.Count == 0)
        {
            return null;
        }

        return (failed.Count == 1 ? "smoke check failed: " : $"{failed.Count} smoke checks failed: ")
            + string.Join("; ", failed.Select(r => $"{r.Name} ({r.Detail})")) + ".";
    }

    private static async Task<Outcome> RequestAsync(VaultTarget target, SmokeCheck check, Uri url, string? apiKey, bool viaProxy, SmokeOptions options,
        CancellationToken cancellationToken)
    {
        double slowest = 0;
        SmokeVerdict verdict = default;
        SmokeResponse? response = null;
        var retried = "";
        for (var attempt = 1; attempt <= check.Repeat; attempt++)
        {
            response = await SmokeHttp.SendAsync(url, check.Method, apiKey, viaProxy, options.Timeout, cancellationToken).ConfigureAwait(false);
            if (check.Repeat == 1 && response.StatusCode == 429 && check.ExpectedStatus != 429
                && response.RetryAfter is { } wait && wait <= options.RetryAfterLimit)
            {
                // Another client (or an earlier probe) used up the window; that says nothing about this version.
                var delay = wait > TimeSpan.Zero ? wait : TimeSpan.Zero;
                Reporting.Current.Verbose($"{target.Name}: smoke check {check.Name}: refused with 429; asking again after Retry-After ({delay.TotalSeconds:0} s).");
                await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
                response = await SmokeHttp.SendAsync(url, check.Method, apiKey, viaProxy, options.Timeout, cancellationToken).ConfigureAwait(false);
                retried = string.Format(CultureInfo.InvariantCulture, " (asked again after a 429 and Retry-After {0:0} s)", delay.TotalSeconds);
            }

            slowest = Math.Max(slowest, response.LatencyMs);
            verdict = SmokeEvaluation.Evaluate(check, response);
            if (!verdict.Passed)
            {
                var which = check.Repeat > 1 ? $"request {attempt} of {check.Repeat}: " : "";
                return new Outcome(false, response.StatusCode, response.LatencyMs, which + verdict.Detail + retried, verdict.Maintenance);
            }
        }

        var detail = check.Repeat > 1
            ? string.Format(CultureInfo.InvariantCulture, "{0} of {0} answered {1}, none refused (slowest {2:0} ms)", check.Repeat, response!.StatusCode, slowest)
            : verdict.Detail + retried;
        return new Outcome(true, response!.StatusCode, slowest, detail, false);
    }

    private static async Task<Outcome> ProbeRateLimitAsync(SmokeCheck check, Uri url, bool viaProxy, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var watch = Stopwatch.StartNew();
        var sent = 0;
        SmokeResponse? last = null;
        while (sent < check.Repeat && watch.Elapsed < SmokeChecks.RateLimitProbeWindow)
        {
            var remaining = SmokeChecks.RateLimitProbeWindow - watch.Elapsed;
            var perRequest = remaining < timeout ? (remaining > TimeSpan.FromMilliseconds(200) ? remaining : TimeSpan.FromMilliseconds(200)) : timeout;
            last = await SmokeHttp.SendAsync(url, check.Method, null, viaProxy, perRequest, cancellationToken).ConfigureAwait(false);
            sent++;
            var seconds = watch.Elapsed.TotalSeconds;
            if (last.StatusCode == check.ExpectedStatus)
            {
                var retry = last.RetryAfter is { } wait ? string.Format(CultureInfo.InvariantCulture, "; Retry-After {0:0} s", wait.TotalSeconds) : "; no Retry-After header";
                return new Outcome(true, last.StatusCode, watch.Elapsed.TotalMilliseconds,
                    string.Format(CultureInfo.InvariantCulture, "{0} after {1} requests in {2:0.0} s{3}", check.ExpectedStatus, sent, seconds, retry), false);
            }

            if (last.Error is not null || last.StatusCode is not (>= 200 and < 300))
            {
                var verdict = SmokeEvaluation.Evaluate(new SmokeCheck { Name = check.Name, Path = check.Path, ExpectedStatus = 200 }, last);
                return new Outcome(false, last.StatusCode, watch.Elapsed.TotalMilliseconds, $"request {sent}: {verdict.Detail}", verdict.Maintenance);
            }
        }

        return new Outcome(false, last?.StatusCode, watch.Elapsed.TotalMilliseconds,
            string.Format(CultureInfo.InvariantCulture, "no {0} after {1} requests in {2:0.0} s: the rate limit is not enforced, or is higher than the probe goes",
                check.ExpectedStatus, sent, watch.Elapsed.TotalSeconds), false);
    }

    private static async Task<(string? Key, string? Problem)> ResolveApiKeyAsync(VaultTarget target, IHostShell shell, SmokeOptions options, SecretRedactor redactor,
        CancellationToken cancellationToken)
    {
        if (options.ApiKey is { } secure)
        {
            var given = SecureStrings.Unprotect(secure);
            redactor.Add(given, "given with -ApiKey");
            return given.Length == 0 || given.Any(c => char.IsWhiteSpace(c) || char.IsControl(c))
                ? (null, "the API key given is empty or holds spaces or control characters")
                : (given, null);
        }

        IReadOnlyDictionary<string, string>? values;
        try
        {
            values = await EnvironmentFiles.ReadAsync(target, shell, redactor, cancellationToken).ConfigureAwait(false);
        }
        catch (VaultException ex)
        {
            return (null, "no API key: " + ex.Message + " Give the key with -ApiKey.");
        }

        if (values is null)
        {
            return (null, $"no API key: the env file {target.EnvFilePath} does not exist; give the key with -ApiKey");
        }

        if (!values.TryGetValue("ADMIN_API_KEY", out var key) || string.IsNullOrWhiteSpace(key))
        {
            return (null, $"no API key: ADMIN_API_KEY is not set in {target.EnvFilePath}; give the key with -ApiKey");
        }

        // Registered whatever it looks like: a key of digits is not hidden by the env file's own rules.
        redactor.Add(key, $"ADMIN_API_KEY in {target.EnvFilePath}");
        return (key.Trim(), null);
    }

    private static bool IsLoopback(Uri url) =>
        url.IsLoopback || (IPAddress.TryParse(url.Host.Trim('[', ']'), out var address) && IPAddress.IsLoopback(address));

    private readonly struct Outcome
    {
        public Outcome(bool passed, int? statusCode, double? latencyMs, string detail, bool maintenance)
        {
            Passed = passed;
            StatusCode = statusCode;
            LatencyMs = latencyMs;
            Detail = detail;
            Maintenance = maintenance;
        }

        public bool Passed { get; }

        public int? StatusCode { get; }

        public double? LatencyMs { get; }

        public string Detail { get; }

        public bool Maintenance { get; }
    }
}
