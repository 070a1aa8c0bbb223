using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using YieldVault.Ops.Hosts;
using YieldVault.Ops.Services;

namespace YieldVault.Ops.Probes;

/// <summary>
/// Runbook Step 10.1 (Monitor Metrics) for a bounded time: every interval one reading of health (and its latency), the
/// service manager (state, restarts, memory, CPU) and the log's new error lines ("tail -f backend.log | grep -i error").
/// Errors count from the newest log line seen at the start, by the log's own times, so a clock difference between this
/// machine and the host neither hides nor repeats a line. With thresholds, the watch ends at the first reading that
/// crosses one and says which.
/// </summary>
public static class BackendWatch
{
    /// <summary>The most readings one watch takes, whatever its duration and interval.</summary>
    public const int MaxSamples = 3600;

    private const int LogTail = 500;

    public static async Task<string?> RunAsync(VaultTarget target, IHostShell shell, SecretRedactor redactor, TimeSpan duration, TimeSpan interval, WatchThresholds? thresholds,
        Action<VaultWatchSample> report, int progressId, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var activity = $"Watching {target.Name} (runbook 10.1) for {duration.TotalSeconds:0} s";
        var count = (int)Math.Min(MaxSamples, Math.Floor(duration.TotalSeconds / Math.Max(0.5, interval.TotalSeconds)) + 1);
        DateTimeOffset? newestLogLine = null;
        var logBaselineRead = false;
        var logReadable = true;
        int? firstRestarts = null;
        int? lastPid = null;
        var pidChanges = 0;
        int errors = 0, failedHealth = 0;
        try
        {
            for (var i = 0; i < count; i++)
            {
                if (i > 0)
                {
                    // Bounded in time as well as in readings: slow readings do not stretch the watch past its duration.
                    if (clock.Elapsed > duration)
                    {
                        break;
                    }

                    var due = TimeSpan.FromTicks(interval.Ticks * i);
                    if (due > clock.Elapsed)
                    {
                        await Task.Delay(due - clock.Elapsed, cancellationToken).ConfigureAwait(false);
                    }
                }

                var health = await HealthProbe.CheckAsync(target, shell, checkReady: false, TimeSpan.FromSeconds(5), cancellationToken).ConfigureAwait(false);
                ServiceState? state = null;
                try
                {
                    state = await ServiceManagers.For(target, shell).GetStateAsync(cancellationToken).ConfigureAwait(false);
                }
                catch (VaultException ex) when (!ex.IsConnectionFailure)
                {
                    Reporting.Current.Verbose($"{target.Name}: the service manager could not be read: {ex.Message}");
                }

                if (state?.Pid is { } pid)
                {
                    if (lastPid is { } before && before != pid)
                    {
                        pidChanges++;
                    }

                    lastPid = pid;
                }

                firstRestarts ??= state?.Restarts;
                var restarts = Math.Max(state?.Restarts is { } r && firstRestarts is { } r0 ? r - r0 : 0, pidChanges);
                var memory = state?.MemoryBytes is { } bytes ? bytes / 1048576.0 : await RssAsync(shell, state?.Pid, cancellationToken).ConfigureAwait(false);

                var newErrors = new List<string>();
                if (logReadable)
                {
                    try
                    {
                        var (_, entries) = await LogReader.ReadAsync(target, shell, VaultLogSource.Auto, LogTail, null, cancellationToken).ConfigureAwait(false);
                        var timed = entries.Where(e => e.Time is not null).ToList();
                        if (logBaselineRead)
                        {
                            newErrors.AddRange(timed.Where(e => e.Time > newestLogLine && e.Level == VaultLogLevel.Error && !e.IsStackTrace).Select(e => redactor.Redact(e.Message)));
                        }

                        logBaselineRead = true;
                        var newest = timed.Count == 0 ? null : timed.Max(e => e.Time);
                        if (newest is not null && (newestLogLine is null || newest > newestLogLine))
                        {
                            newestLogLine = newest;
                        }

                        newestLogLine ??= DateTimeOffset.MinValue;
                    }
                    catch (VaultException ex) when (!ex.IsConnectionFailure)
                    {
                        logReadable = false;
                        Reporting.Current.Warning($"{target.Name}: the watch counts no log errors: {ex.Message}");
                    }
                }

                errors += newErrors.Count;
                failedHealth += health.Healthy ? 0 : 1;
                var elapsed = clock.Elapsed;
                var sample = new VaultWatchSample
                {
                    Target = target,
                    Time = DateTimeOffset.UtcNow,
                    Elapsed = elapsed,
                    Healthy = health.Healthy,
                    StatusCode = health.StatusCode,
                    LatencyMs = Math.Round(health.LatencyMs, 1),
                    State = state?.Status ?? ServiceStatus.Unknown,
                    Restarts = restarts,
                    MemoryMB = memory is { } m ? Math.Round(m, 1) : null,
                    CpuPercent = state?.CpuPercent,
                    NewErrors = newErrors.Count,
                    Errors = errors,
                    ErrorsPerMinute = Math.Round(errors / Math.Max(1.0 / 60, elapsed.TotalMinutes), 2),
                    FailedHealthChecks = failedHealth,
                    ErrorLines = newErrors.Skip(Math.Max(0, newErrors.Count - 3)).Select(e => e.Length > 300 ? e.Substring(0, 300) + "..." : e).ToList(),
                };
                var breaches = thresholds?.Breaches(sample) ?? Array.Empty<string>();
                sample = breaches.Count == 0 ? sample : WithBreaches(sample, breaches);
                report(sample);
                Reporting.Current.Progress(progressId, activity,
                    string.Format(CultureInfo.InvariantCulture, "{0:0}/{1:0} s: {2}, {3:0} ms, {4} error(s), {5} restart(s){6}{7}", elapsed.TotalSeconds, duration.TotalSeconds,
                        health.Healthy ? "healthy" : "NOT HEALTHY", health.LatencyMs, errors, restarts, memory is { } mb ? $", {mb:0} MB" : "",
                        breaches.Count > 0 ? " - " + string.Join(", ", breaches) : ""),
                    (int)Math.Min(100, elapsed.TotalSeconds * 100 / Math.Max(1, duration.TotalSeconds)));
                if (breaches.Count > 0)
                {
                    return $"after {elapsed.TotalSeconds:0} s: {string.Join(", ", breaches)}"
                        + (sample.ErrorLines.Count > 0 ? "; the log says: " + sample.ErrorLines[sample.ErrorLines.Count - 1] : "")
                        + (health.Healthy ? "" : "; health: " + (health.Error ?? health.Status ?? $"HTTP {health.StatusCode}"));
                }
            }
        }
        finally
        {
            Reporting.Current.Progress(progressId, activity, "done", 100, completed: true);
        }

        return null;
    }

    /// <summary>
    /// A deployment's watch (-WatchSec): readings every 2 s (or a sixth of the time) under <see cref="WatchThresholds.Deployment"/>;
    /// a breach is <see cref="ErrorIds.WatchThresholdExceeded"/>, which the run rolls back from.
    /// </summary>
    public static async Task<string> GateAsync(VaultTarget target, IHostShell shell, SecretRedactor redactor, TimeSpan duration, int progressId, CancellationToken cancellationToken)
    {
        var interval = TimeSpan.FromSeconds(Math.Max(1, Math.Min(2, duration.TotalSeconds / 6)));
        var samples = 0;
        var breach = await RunAsync(target, shell, redactor, duration, interval, WatchThresholds.Deployment, _ => samples++, progressId, cancellationToken).ConfigureAwait(false);
        return breach is null
            ? $"watched {duration.TotalSeconds:0} s ({samples} readings): no failed health check, restart or error line"
            : throw new VaultException(ErrorIds.WatchThresholdExceeded, VaultErrorKind.LimitsExceeded,
                $"{target.DisplayName}: the watch after the deployment failed {breach}.", "Read the log of the new version (Get-VaultBackendLog -Level Error) before deploying it again.");
    }

    private static VaultWatchSample WithBreaches(VaultWatchSample s, IReadOnlyList<string> breaches) => new()
    {
        Target = s.Target, Time = s.Time, Elapsed = s.Elapsed, Healthy = s.Healthy, StatusCode = s.StatusCode, LatencyMs = s.LatencyMs, State = s.State,
        Restarts = s.Restarts, MemoryMB = s.MemoryMB, CpuPercent = s.CpuPercent, NewErrors = s.NewErrors, Errors = s.Errors, ErrorsPerMinute = s.ErrorsPerMinute,
        FailedHealthChecks = s.FailedHealthChecks, ErrorLines = s.ErrorLines, Breaches = breaches,
    };

    private static async Task<double?> RssAsync(IHostShell shell, int? pid, CancellationToken cancellationToken)
    {
        if (pid is not { } p)
        {
            return null;
        }

        var result = await shell.RunAsync(CommandLine.Script("awk '/^VmRSS:/{print $2}' \"/proc/$1/status\" 2>/dev/null", p.ToString(CultureInfo.InvariantCulture)), TimeSpan.FromSeconds(15), cancellationToken)
            .ConfigureAwait(false);
        return double.TryParse(result.StandardOutput.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var kb) ? kb / 1024 : null;
    }
}
