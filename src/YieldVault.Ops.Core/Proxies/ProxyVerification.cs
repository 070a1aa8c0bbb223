using System;
using System.Diagnostics;
using System.Threading;
using System.Threading.Tasks;
using Newtonsoft.Json.Linq;
using YieldVault.Ops.Hosts;
using YieldVault.Ops.Probes;

namespace YieldVault.Ops.Proxies;

/// <summary>
/// What the users see: the backend asked through nginx (its port on the target's host, over the SSH forward for a
/// remote target). After a switch, the health answer and the version must be the new slot's for several answers in a
/// row, so one lucky answer from a worker that had not yet reloaded does not count.
/// </summary>
internal static class ProxyVerification
{
    private const int InARow = 5;

    /// <summary>The version (and commit) nginx serves now, or null when it does not answer with one.</summary>
    public static async Task<(int? Status, string? Version, string? Commit, string? Error)> ReadAsync(VaultTarget target, IHostShell shell, CancellationToken cancellationToken)
    {
        var baseUri = await shell.GetHttpBaseAsync(target.ProxyPort, cancellationToken).ConfigureAwait(false);
        var health = await HealthProbe.GetAsync(baseUri, target.HealthPath, TimeSpan.FromSeconds(5), cancellationToken).ConfigureAwait(false);
        if (health.StatusCode != 200 || string.IsNullOrEmpty(target.VersionPath))
        {
            return (health.StatusCode, null, null, health.Error ?? (health.StatusCode == 200 ? null : $"{target.HealthPath} answered {health.StatusCode} through nginx"));
        }

        var version = await HealthProbe.GetAsync(baseUri, target.VersionPath, TimeSpan.FromSeconds(5), cancellationToken).ConfigureAwait(false);
        var json = version.Json;
        var problem = version.Error ?? (version.StatusCode == 200 ? null : $"{target.VersionPath} answered {version.StatusCode} through nginx");
        return (health.StatusCode, Text(json?["version"]), Text(json?["commit"]) is { } c && c != "unknown" ? c : null, problem);
    }

    /// <summary>
    /// Waits (up to <paramref name="timeout"/>) until nginx answers /health with 200 and the expected version several
    /// times in a row; throws <see cref="ErrorIds.TrafficVerificationFailed"/> with the last answer when it does not.
    /// </summary>
    public static async Task<string> WaitServedAsync(VaultTarget target, IHostShell shell, Runbook.ExpectedVersion expected, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var watch = Stopwatch.StartNew();
        var row = 0;
        var asked = 0;
        string last = "no answer";
        while (true)
        {
            // A probe may report a cancelled request as "no answer": the user's Ctrl+C is not a verification failure.
            cancellationToken.ThrowIfCancellationRequested();
            asked++;
            var (status, version, commit, error) = await ReadAsync(target, shell, cancellationToken).ConfigureAwait(false);
            var answer = new VaultBackendVersion { Target = target, Version = version, Commit = commit };
            var mismatch = status == 200 && !string.IsNullOrEmpty(target.VersionPath) && version is null ? error ?? "no version in the answer" : expected.Mismatch(target, answer);
            if (status == 200 && mismatch is null)
            {
                if (++row >= InARow)
                {
                    return $"nginx (port {target.ProxyPort}) serves {version ?? "it"}" + (answer.ShortCommit.Length == 0 ? "" : $" ({answer.ShortCommit})")
                        + $": {InARow} answers in a row in {watch.Elapsed.TotalMilliseconds:0} ms";
                }

                continue;
            }

            row = 0;
            last = status is null ? error ?? "no answer" : status != 200 ? $"HTTP {status}" + (error is null ? "" : $" ({error})") : mismatch!;
            if (watch.Elapsed >= timeout || asked > 1000)
            {
                throw new VaultException(ErrorIds.TrafficVerificationFailed, VaultErrorKind.InvalidData,
                    $"{target.DisplayName}: through nginx (port {target.ProxyPort}) the backend did not answer as {expected.Of} within {timeout.TotalSeconds:0} s ({asked} requests). Last answer: {last}.",
                    $"Check that nginx's configuration proxy_passes to http://{target.UpstreamBlockName} and includes {target.UpstreamFilePath}.");
            }

            await Task.Delay(50, cancellationToken).ConfigureAwait(false);
        }
    }

    private static string? Text(JToken? token) => token?.Type == JTokenType.String ? (string?)token : null;
}
