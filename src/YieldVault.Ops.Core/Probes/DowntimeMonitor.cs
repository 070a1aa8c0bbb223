using System;
using System.Collections.Generic;
using System.Linq;
using System.Diagnostics;
using System.Net.Http;
using System.Threading;
using System.Threading.Tasks;
using YieldVault.Ops.Hosts;

namespace YieldVault.Ops.Probes;

/// <summary>What users saw while the monitor ran.</summary>
public sealed class DowntimeReport
{
    public int Probes { get; init; }

    public int FailedProbes { get; init; }

    /// <summary>Total time /health failed or refused: from each first failed probe to the next good one.</summary>
    public double DowntimeMs { get; init; }

    public double LongestOutageMs { get; init; }

    public double IntervalMs { get; init; }

    /// <summary>Probes that could not see the backend because the host itself could not be reached (not downtime).</summary>
    public int UnobservedProbes { get; init; }
}

/// <summary>
/// Polls /health during a deployment (every 25 ms by default) and measures the downtime users would have
/// seen. Bounded: stops when told, or at the cancellation of the run.
/// </summary>
public sealed class DowntimeMonitor : IAsyncDisposable
{
    private static readonly HttpClient Client = new(new HttpClientHandler { AllowAutoRedirect = false, UseProxy = false })
    {
        Timeout = Timeout.InfiniteTimeSpan,
    };

    private readonly CancellationTokenSource _stop;
    private readonly Task<DowntimeReport> _loop;

    private DowntimeMonitor(Uri url, Func<CancellationToken, Task<Uri>>? resolve, TimeSpan interval, IReadOnlyList<int>? serving, CancellationToken cancellationToken)
    {
        _stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var codes = serving is { Count: > 0 } ? serving.ToArray() : new[] { 200 };
        _loop = Task.Run(() => RunAsync(url, resolve, interval, codes, _stop.Token));
    }

    public static DowntimeMonitor Start(Uri baseUri, string healthPath, TimeSpan interval, CancellationToken cancellationToken) =>
        Start(baseUri, healthPath, interval, null, cancellationToken);

    /// <param name="serving">The status codes that count as serving (the target's HealthyStatusCodes); null: 200.</param>
    public static DowntimeMonitor Start(Uri baseUri, string healthPath, TimeSpan interval, IReadOnlyList<int>? serving, CancellationToken cancellationToken) =>
        new(ProbeUrl.Resolve(baseUri, healthPath), null, interval, serving, cancellationToken);

    /// <summary>
    /// Probes <paramref name="port"/> on the host through <paramref name="shell"/>. Over SSH that is a port forward of
    /// the connection, which dies with it: after a failed probe the shell is asked for the address again (a
    /// reconnected SSH connection forwards anew) and the probe retried; when the host cannot be reached at all the
    /// probe is unobserved, not downtime (a cut connection said nothing about the backend).
    /// </summary>
    public static Task<DowntimeMonitor> StartAsync(IHostShell shell, int port, string healthPath, TimeSpan interval, CancellationToken cancellationToken) =>
        StartAsync(shell, port, healthPath, interval, null, cancellationToken);

    /// <param name="serving">The status codes that count as serving (the target's HealthyStatusCodes); null: 200.</param>
    public static async Task<DowntimeMonitor> StartAsync(IHostShell shell, int port, string healthPath, TimeSpan interval, IReadOnlyList<int>? serving,
        CancellationToken cancellationToken)
    {
        var baseUri = await shell.GetHttpBaseAsync(port, cancellationToken).ConfigureAwait(false);
        return new DowntimeMonitor(ProbeUrl.Resolve(baseUri, healthPath), async token => ProbeUrl.Resolve(await shell.GetHttpBaseAsync(port, token).ConfigureAwait(false), healthPath),
            interval, serving, cancellationToken);
    }

    public async Task<DowntimeReport> StopAsync()
    {
        _stop.Cancel();
        return await _loop.ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        if (!_stop.IsCancellationRequested)
        {
            await StopAsync().ConfigureAwait(false);
        }

        _stop.Dispose();
    }

    private static async Task<DowntimeReport> RunAsync(Uri url, Func<CancellationToken, Task<Uri>>? resolve, TimeSpan interval, int[] serving, CancellationToken token)
    {
        var clock = Stopwatch.StartNew();
        int probes = 0, failed = 0, unobserved = 0;
        double downtime = 0, longest = 0;
        double? outageStart = null;
        while (!token.IsCancellationRequested)
        {
            var started = clock.Elapsed.TotalMilliseconds;
            bool? ok = null;
            try
            {
                ok = await ProbeAsync(url, serving, token).ConfigureAwait(false);
                if (ok == false && resolve is not null)
                {
                    ok = null;
                    var current = await resolve(token).ConfigureAwait(false);
                    ok = current == url ? false : await ProbeAsync(url = current, serving, token).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // The host cannot be reached (whatever the transport threw): this probe saw nothing (ok stays null).
            }

            probes++;
            if (ok is null)
            {
                unobserved++;
            }
            else if (!ok.Value)
            {
                failed++;
                outageStart ??= started;
            }
            else if (outageStart is { } from)
            {
                var outage = started - from;
                downtime += outage;
                longest = Math.Max(longest, outage);
                outageStart = null;
            }

            // While the host is out of reach, ask for it at most twice a second.
            var rest = (ok is null ? Math.Max(interval.TotalMilliseconds, 500) : interval.TotalMilliseconds) - (clock.Elapsed.TotalMilliseconds - started);
            if (rest > 0)
            {
                try
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(rest), token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
        }

        if (outageStart is { } open)
        {
            var outage = clock.Elapsed.TotalMilliseconds - open;
            downtime += outage;
            longest = Math.Max(longest, outage);
        }

        return new DowntimeReport
        {
            Probes = probes, FailedProbes = failed, DowntimeMs = Math.Round(downtime, 1), LongestOutageMs = Math.Round(longest, 1), IntervalMs = interval.TotalMilliseconds,
            UnobservedProbes = unobserved,
        };
    }

    // A probe reuses its connection like a browser or an API client would. When the request on a reused connection fails
    // before any answer (nginx's exiting workers close idle keep-alive connections at a reload, and nginx 1.22 has no
    // keepalive_min_timeout), it is sent once more on a new connection, as HTTP clients do for an idempotent GET; only a
    // second failure counts. A backend that is down fails both.
    private static async Task<bool> ProbeAsync(Uri url, int[] serving, CancellationToken token)
    {
        for (var attempt = 0; attempt < 2; attempt++)
        {
            try
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(token);
                timeout.CancelAfter(TimeSpan.FromSeconds(2));
                using var request = new HttpRequestMessage(HttpMethod.Get, url);
                request.Headers.ConnectionClose = attempt > 0;
                using var response = await Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token).ConfigureAwait(false);
                return Array.IndexOf(serving, (int)response.StatusCode) >= 0;
            }
            catch (Exception ex) when (attempt == 0 && ex is HttpRequestException or System.IO.IOException && IsReset(ex))
            {
                // Retried on a new connection.
            }
            catch (Exception ex) when (ex is HttpRequestException or System.IO.IOException || (ex is OperationCanceledException && !token.IsCancellationRequested))
            {
                return false;
            }
        }

        return false;
    }

    private static bool IsReset(Exception ex)
    {
        for (var e = ex; e is not null; e = e.InnerException)
        {
            if (e is System.Net.Sockets.SocketException { SocketErrorCode: System.Net.Sockets.SocketError.ConnectionReset or System.Net.Sockets.SocketError.ConnectionAborted }
                || (e is System.IO.IOException && e.InnerException is null && e.Message.IndexOf("reset", StringComparison.OrdinalIgnoreCase) >= 0)
                || (e is HttpRequestException && e.Message.IndexOf("prematurely", StringComparison.OrdinalIgnoreCase) >= 0))
            {
                return true;
            }
        }

        return false;
    }
}
