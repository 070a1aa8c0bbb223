using System;
using System.Diagnostics;
using System.Globalization;
using System.Threading;
using System.Threading.Tasks;
using YieldVault.Ops.Hosts;
using YieldVault.Ops.Services;

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
        var nextStateRead = StateReadAfter;
        var failedReads = 0;
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

                // Nothing listens: a process its manager has given up on (PM2 errored, systemd failed, an exited container)
                // will never answer. Seen twice, 2 s apart, the wait ends now instead of at the timeout: a release that
                // crashes at start is rolled back in seconds, and a rollback that cannot start says so.
                if (last.StatusCode is null && watch.Elapsed >= nextStateRead && target.ServiceManager != ServiceManagerKind.Swarm && watch.Elapsed < timeout)
                {
                    nextStateRead = watch.Elapsed + StateReadInterval;
                    var state = await ReadStateAsync(target, shell, cancellationToken).ConfigureAwait(false);
                    failedReads = state is { Status: ServiceStatus.Failed } ? failedReads + 1 : 0;
                    if (failedReads >= 2)
                    {
                        throw new VaultException(ErrorIds.BackendExited, VaultErrorKind.InvalidOperation,
                            $"{target.DisplayName} does not run: {Describe(target, state!)}; it will not answer, so the wait for its health stopped after "
                            + $"{watch.Elapsed.TotalSeconds:0.#} s of {timeout.TotalSeconds:0.#} s ({attempts} checks). Last answer: {Describe(last)}.",
                            "Read why it exited (Get-VaultBackendLog -Level Error -Tail 50); Get-VaultDiagnosis checks what it needs at start.");
                    }
                }

                if (watch.Elapsed >= timeout)
                {
                    var process = last.StatusCode is null && await ReadStateAsync(target, shell, cancellationToken).ConfigureAwait(false) is { } now ? " " + Note(target, now) : "";
                    throw new VaultException(ErrorIds.HealthCheckTimeout, VaultErrorKind.OperationTimeout,
                        $"{target.DisplayName} was not healthy after {timeout.TotalSeconds:0.#} s ({attempts} checks). Last answer: {Describe(last)}.{process}",
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

    /// <summary>
    /// The first read of the service manager's state while nothing answers, and the time between reads. A read runs
    /// between two polls (a pm2 jlist takes a few hundred ms): not in the first 3 s, where a normal start comes up and
    /// each poll counts for the downtime.
    /// </summary>
    private static readonly TimeSpan StateReadAfter = TimeSpan.FromSeconds(3);

    private static readonly TimeSpan StateReadInterval = TimeSpan.FromSeconds(2);

    /// <summary>
    /// What the service manager says of a backend that does not answer at all (its state only: the log may hold secrets,
    /// and the messages name the cmdlet that reads it); null when the manager does not answer within 10 s.
    /// </summary>
    private static async Task<ServiceState?> ReadStateAsync(VaultTarget target, IHostShell shell, CancellationToken cancellationToken)
    {
        try
        {
            using var bounded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            bounded.CancelAfter(TimeSpan.FromSeconds(10));
            return await ServiceManagers.For(target, shell).GetStateAsync(bounded.Token).ConfigureAwait(false);
        }
        catch (Exception) when (!cancellationToken.IsCancellationRequested)
        {
            return null;
        }
    }

    /// <summary>What the manager says, at a timeout with no answer: a process that does not run (or keeps exiting) is named so.</summary>
    private static string Note(VaultTarget target, ServiceState state) => Describe(target, state) + state.Status switch
    {
        ServiceStatus.CrashLooping => ": it keeps exiting (Get-VaultBackendLog -Level Error says why).",
        ServiceStatus.Failed or ServiceStatus.Stopped or ServiceStatus.NotFound => ": it does not run (Get-VaultBackendLog -Level Error says why).",
        _ => ".",
    };

    /// <summary>"Pm2 says yieldvault-backend is Failed (errored), 15 restarts".</summary>
    private static string Describe(VaultTarget target, ServiceState state) =>
        $"{target.ServiceManager} says {(string.IsNullOrEmpty(state.ServiceName) ? target.ServiceName : state.ServiceName)} is {state.Status}"
        + (string.IsNullOrEmpty(state.Detail) ? "" : $" ({state.Detail})")
        + (state.Restarts is > 0 ? string.Format(CultureInfo.InvariantCulture, ", {0} restarts", state.Restarts) : "");

    public static string Describe(VaultHealthResult result) =>
        result.StatusCode is null
            ? result.Error ?? "no answer"
            : $"HTTP {result.StatusCode} {result.Status}" + (result.Checks.Count > 0 ? " (" + result.ChecksSummary + ")" : "") +
              (result.Ready == false ? ", not ready" : "") + (result.Error is null ? "" : "; " + result.Error);
}
