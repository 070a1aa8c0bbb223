using System;
using System.Diagnostics;
using System.Threading;
using System.Threading.Tasks;
using Newtonsoft.Json.Linq;
using YieldVault.Ops.Hosts;
using YieldVault.Ops.Probes;

namespace YieldVault.Ops.Runbook;

/// <summary>
/// The end of every deployment and rollback run, in this order: the prober's figures into the result, the
/// journal's "run end" line, the records (deployments.log, history), then the lock. One place, so no runner
/// can forget a step or release the lock before the run is recorded.
/// </summary>
internal static class RunEnding
{
    public static async Task FinishAsync(VaultTarget target, IHostShell shell, SecretRedactor redactor, VaultDeploymentResult result,
        DowntimeMonitor monitor, Stopwatch clock, DeploymentJournal? journal, DeploymentLock? held, CancellationToken cancellationToken)
    {
        var cancelled = cancellationToken.IsCancellationRequested;
        var downtime = await monitor.StopAsync().ConfigureAwait(false);
        result.DowntimeMs = downtime.DowntimeMs;
        result.FailedProbes = downtime.FailedProbes;
        result.Probes = downtime.Probes;
        result.Duration = clock.Elapsed;
        if (journal is not null)
        {
            var detail = !cancelled ? result.Error
                : result.CancelOutcome is { } outcome ? $"stopped by the user (Ctrl+C); {outcome}"
                : result.Status == DeploymentStatus.RolledBack ? $"stopped by the user (Ctrl+C); rolled back: {result.VersionAfter ?? "the previous version"} serves again"
                : result.ServesAfterCancel ? $"stopped by the user (Ctrl+C); started again: {result.VersionAfter ?? "a version"} serves"
                : result.ErrorId == ErrorIds.Cancelled && result.Error is { } recovery && recovery.IndexOf("Then:", StringComparison.Ordinal) >= 0 ? recovery
                : "stopped by the user (Ctrl+C)";
            await journal.WriteAsync("run", "end", cancelled ? "Cancelled" : result.Status.ToString(), detail,
                clock.Elapsed.TotalMilliseconds,
                new JObject
                {
                    ["versionBefore"] = result.VersionBefore, ["versionAfter"] = result.VersionAfter, ["releaseBefore"] = result.ReleaseBefore,
                    ["releaseAfter"] = result.ReleaseAfter, ["downtimeMs"] = result.DowntimeMs,
                }).ConfigureAwait(false);
        }

        await DeploymentRecords.AppendAsync(target, shell, result, redactor, cancellationToken).ConfigureAwait(false);
        if (held is not null)
        {
            await held.DisposeAsync().ConfigureAwait(false);
        }
    }
}
