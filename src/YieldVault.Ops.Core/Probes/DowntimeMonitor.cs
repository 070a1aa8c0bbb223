using System;
using System.Diagnostics;
using System.Net.Http;
using System.Threading;
using System.Threading.Tasks;

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

    private DowntimeMonitor(Uri url, TimeSpan interval, CancellationToken cancellationToken)
    {
        _stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        _loop = Task.Run(() => RunAsync(url, interval, _stop.Token));
    }

    public static DowntimeMonitor Start(Uri baseUri, string healthPath, TimeSpan interval, CancellationToken cancellationToken) =>
        new(new Uri(baseUri, healthPath), interval, cancellationToken);

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

    private static async Task<DowntimeReport> RunAsync(Uri url, TimeSpan interval, CancellationToken token)
    {
        var clock = Stopwatch.StartNew();
        int probes = 0, failed = 0;
        double downtime = 0, longest = 0;
        double? outageStart = null;
        while (!token.IsCancellationRequested)
        {
            var started = clock.Elapsed.TotalMilliseconds;
            bool ok;
            try
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(token);
                timeout.CancelAfter(TimeSpan.FromSeconds(2));
                using var response = await Client.GetAsync(url, HttpCompletionOption.ResponseHeadersRead, timeout.Token).ConfigureAwait(false);
                ok = (int)response.StatusCode == 200;
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException or System.IO.IOException)
            {
                ok = false;
            }

            probes++;
            if (!ok)
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

            var rest = interval.TotalMilliseconds - (clock.Elapsed.TotalMilliseconds - started);
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
        };
    }
}
