using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Net.Http;
using System.Threading;
using System.Threading.Tasks;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;
using YieldVault.Ops.Hosts;

namespace YieldVault.Ops.Probes;

/// <summary>One HTTP answer from the backend, read as JSON where it is JSON.</summary>
public sealed class HttpProbeResponse
{
    public int? StatusCode { get; init; }

    public JObject? Json { get; init; }

    public string Body { get; init; } = "";

    public double LatencyMs { get; init; }

    public string? Error { get; init; }
}

/// <summary>
/// Asks the backend's HTTP endpoints from this machine. Over SSH the request goes through a local port
/// forward to the server's own localhost, so the server needs nothing installed and nothing exposed.
/// </summary>
public static class HealthProbe
{
    // One client for the module: sockets are pooled and reused across probes and targets.
    private static readonly HttpClient Client = new(new HttpClientHandler { AllowAutoRedirect = false, UseProxy = false })
    {
        Timeout = System.Threading.Timeout.InfiniteTimeSpan,
    };

    /// <summary>
    /// The most requests at once to one address (one SSH forward, or one local port). SSH.NET's local forward listens
    /// with a backlog of 5 and serves each connection on a pool thread it blocks (opening the channel, then relaying):
    /// more connections at once than that overflow the backlog, the kernel drops the SYN, and the client sends it again
    /// only after 1 s. With 20 targets on one server (throttle 8) that second was most of a status fan-out. The wait for
    /// a slot counts toward the request's timeout.
    /// </summary>
    public const int MaxRequestsPerEndpoint = 4;

    private static readonly ConcurrentDictionary<string, SemaphoreSlim> EndpointGates = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// The health endpoint under the target's health rules, and the readiness endpoint when asked and the target has
    /// one (a target without a ReadyPath is not less healthy for it: Ready stays null).
    /// </summary>
    public static async Task<VaultHealthResult> CheckAsync(VaultTarget target, IHostShell shell, bool checkReady, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var baseUri = await shell.GetHttpBaseAsync(target.Port, cancellationToken).ConfigureAwait(false);
        var serverUrl = $"http://localhost:{target.Port}{target.HealthPath}";
        var health = await GetAsync(baseUri, target.HealthPath, timeout, cancellationToken).ConfigureAwait(false);
        var checks = new Dictionary<string, string>(StringComparer.Ordinal);
        string? environment = null;
        double? uptime = null;
        if (health.Json is { } json)
        {
            environment = json["environment"]?.Type == JTokenType.String ? (string?)json["environment"] : null;
            uptime = json["uptime"]?.Type is JTokenType.Float or JTokenType.Integer ? (double?)json["uptime"] : null;
            if (json["checks"] is JObject checkObject)
            {
                foreach (var property in checkObject.Properties())
                {
                    checks[property.Name] = property.Value.Type == JTokenType.String ? (string)property.Value! : property.Value.ToString(Formatting.None);
                }
            }
        }

        var verdict = HealthRules.EvaluateHealth(target, health.StatusCode, health.Body, health.Json);
        var error = health.Error;
        if (error is null && health.StatusCode is not null && !verdict.Passed && HealthRules.IsHealthyStatusCode(target, health.StatusCode))
        {
            // A healthy status code with an answer the rules do not accept: say why, so the rules can be fixed if they are wrong.
            error = $"{serverUrl}: {verdict.Problem}.";
        }

        var healthy = verdict.Passed;
        bool? ready = null;
        var dependencies = new Dictionary<string, bool>(StringComparer.Ordinal);
        if (checkReady && target.HasReadyPath)
        {
            var readiness = await GetAsync(baseUri, target.ReadyPath, timeout, cancellationToken).ConfigureAwait(false);
            ready = HealthRules.EvaluateReady(target, readiness.StatusCode, readiness.Json).Passed;
            if (readiness.Json?["dependencies"] is JObject deps)
            {
                foreach (var property in deps.Properties())
                {
                    dependencies[property.Name] = property.Value.Type == JTokenType.Boolean && (bool)property.Value;
                }
            }

            error ??= readiness.Error;
            healthy = healthy && ready == true;
        }

        return new VaultHealthResult
        {
            Target = target,
            Healthy = healthy,
            Status = verdict.Status,
            StatusCode = health.StatusCode,
            Checks = checks,
            LatencyMs = health.LatencyMs,
            Ready = ready,
            Dependencies = dependencies,
            Environment = environment,
            UptimeSeconds = uptime,
            Url = serverUrl,
            Error = error,
        };
    }

    /// <summary>
    /// GET one path; network failures become <see cref="HttpProbeResponse.Error"/>, not exceptions. A path that would leave
    /// <paramref name="baseUri"/> is TargetInvalid, before any request.
    /// </summary>
    public static async Task<HttpProbeResponse> GetAsync(Uri baseUri, string path, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var url = ProbeUrl.Resolve(baseUri, path);
        var watch = Stopwatch.StartNew();
        using var timeoutSource = new CancellationTokenSource(timeout);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeoutSource.Token);
        var gate = EndpointGates.GetOrAdd(baseUri.Authority, _ => new SemaphoreSlim(MaxRequestsPerEndpoint, MaxRequestsPerEndpoint));
        var entered = false;
        try
        {
            // The wait for a slot counts toward the timeout (the same backend is busy), not toward the latency.
            await gate.WaitAsync(linked.Token).ConfigureAwait(false);
            entered = true;
            watch.Restart();
            using var request = new HttpRequestMessage(HttpMethod.Get, url);
            // Through an SSH forward every open connection holds an SSH channel; a kept-alive idle one would
            // hold a channel slot that the next command or probe may be waiting for.
            request.Headers.ConnectionClose = true;
            using var response = await Client.SendAsync(request, HttpCompletionOption.ResponseContentRead, linked.Token).ConfigureAwait(false);
            var body = await response.Content.ReadAsStringAsync().ConfigureAwait(false);
            var latency = watch.Elapsed.TotalMilliseconds;
            JObject? json = null;
            try
            {
                json = JToken.Parse(body) as JObject;
            }
            catch (JsonException)
            {
                // Not JSON; the caller reports it.
            }

            return new HttpProbeResponse { StatusCode = (int)response.StatusCode, Json = json, Body = body, LatencyMs = latency };
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new HttpProbeResponse
            {
                LatencyMs = watch.Elapsed.TotalMilliseconds,
                Error = string.Format(CultureInfo.InvariantCulture, "No answer from {0} within {1:0.#} s.", path, timeout.TotalSeconds),
            };
        }
        catch (HttpRequestException ex)
        {
            return new HttpProbeResponse
            {
                LatencyMs = watch.Elapsed.TotalMilliseconds,
                Error = $"Could not reach {path}: {Innermost(ex).Message}",
            };
        }
        finally
        {
            if (entered)
            {
                gate.Release();
            }
        }
    }

    private static Exception Innermost(Exception ex)
    {
        while (ex.InnerException is not null)
        {
            ex = ex.InnerException;
        }

        return ex;
    }
}
