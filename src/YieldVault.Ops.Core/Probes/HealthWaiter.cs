using System;
using System.Diagnostics;
using System.Globalization;
using System.Threading;
using System.Threading.Tasks;
using YieldVault.Ops.Hosts;

namespace YieldVault.Ops.Probes;

/// <summary>
/// Runbook 6.2's wait loop done well: the first polls come fast (25 ms, doubling) so a backend that is
/// up within 100 ms is seen within 100 ms, then settle at the interval; it gives up at the timeout with
/// the last answer in the error.
/// </summary>
public static class HealthWaiter
{
    public static readonly TimeSpan FirstDelay = TimeSpan.FromMilliseconds(25);

    public static async Task<VaultHealthResult> WaitAsync(VaultTarget target, IHostShell shell, bool ready, TimeSpan timeout, TimeSpan interval,
        int progressId, CancellationToken cancellationToken)
    {
        var watch = Stopwatch.StartNew();
        var delay = NextDelay(TimeSpan.Zero, FirstDelay, interval);
        var attempts = 0;
        var activity = $"Waiting for {target.Name} to be healthy";
        VaultHealthResult? last = null;
        try
        {
            while (true)
            {
                attempts++;
                var remaining = timeout - watch.Elapsed;
                var perRequest = remaining < TimeSpan.FromSeconds(5) ? (remaining > TimeSpan.FromMilliseconds(200) ? remaining : TimeSpan.FromMilliseconds(200)) : TimeSpan.FromSeconds(5);
                last = await HealthProbe.CheckAsync(target, shell, ready, perRequest, cancellationToken).ConfigureAwait(false);
                if (last.Healthy)
                {
                    return new VaultHealthResult
                    {
                        Target = last.Target, Healthy = true, Status = last.Status, StatusCode = last.StatusCode, Checks = last.Checks,
                        LatencyMs = last.LatencyMs, Ready = last.Ready, Dependencies = last.Dependencies, Environment = last.Environment,
                        UptimeSeconds = last.UptimeSeconds, Url = last.Url, Attempts = attempts, WaitedMs = Math.Round(watch.Elapsed.TotalMilliseconds, 1),
                    };
                }

                if (watch.Elapsed >= timeout)
                {
                    throw new VaultException(ErrorIds.HealthCheckTimeout, VaultErrorKind.OperationTimeout,
                        $"{target.DisplayName} was not healthy after {timeout.TotalSeconds:0.#} s ({attempts} checks). Last answer: {Describe(last)}.",
                        "Read the backend's log (Get-VaultBackendLog -Level Error) and its dependencies (Test-VaultDependency).");
                }

                var percent = (int)Math.Min(99, watch.Elapsed.TotalMilliseconds * 100 / timeout.TotalMilliseconds);
                Reporting.Current.Progress(progressId, activity, string.Format(CultureInfo.InvariantCulture, "check {0}, last: {1}", attempts, Describe(last)), percent);
                var wait = delay < timeout - watch.Elapsed ? delay : timeout - watch.Elapsed;
                if (wait > TimeSpan.Zero)
                {
                    await Task.Delay(wait, cancellationToken).ConfigureAwait(false);
                }

                delay = NextDelay(watch.Elapsed, delay, interval);
            }
        }
        finally
        {
            Reporting.Current.Progress(progressId, activity, "done", 100, completed: true);
        }
    }

    /// <summary>
    /// The pause before the next check: 25 ms for the first 200 ms, then growing by half but at most
    /// 100 ms for the first 2 s (a backend that comes up is seen within 100 ms), then growing up to
    /// <paramref name="interval"/>.
    /// </summary>
    public static TimeSpan NextDelay(TimeSpan elapsed, TimeSpan current, TimeSpan interval)
    {
        if (elapsed < TimeSpan.FromMilliseconds(200))
        {
            return Min(FirstDelay, interval);
        }

        var grown = TimeSpan.FromTicks((long)(current.Ticks * 1.5));
        return elapsed < TimeSpan.FromSeconds(2) ? Min(Min(grown, TimeSpan.FromMilliseconds(100)), interval) : Min(grown, interval);
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    public static string Describe(VaultHealthResult result) =>
        result.StatusCode is null
            ? result.Error ?? "no answer"
            : $"HTTP {result.StatusCode} {result.Status}" + (result.Checks.Count > 0 ? " (" + result.ChecksSummary + ")" : "") +
              (result.Ready == false ? ", not ready" : "") + (result.Error is null ? "" : "; " + result.Error);
}
