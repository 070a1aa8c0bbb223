using System;
using System.Threading;
using System.Threading.Tasks;
using YieldVault.Ops.Hosts;
using YieldVault.Ops.Probes;
using YieldVault.Ops.Services;

namespace YieldVault.Ops.Runbook;

/// <summary>The runbook's Steps 3 and 7 as every run uses them: stop what runs, then wait until the new (or old) version serves.</summary>
internal static class BackendVerification
{
    /// <summary>Runbook Step 3 inside a run: stops the service when it runs (graceful, then killed); says what it found.</summary>
    public static async Task<string> StopIfRunningAsync(VaultTarget target, IHostShell shell, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var state = await ServiceManagers.For(target, shell).GetStateAsync(cancellationToken).ConfigureAwait(false);
        if (state.Status is ServiceStatus.NotFound or ServiceStatus.Stopped)
        {
            return $"was not running ({state.Status})";
        }

        var stop = await BackendControl.StopAsync(target, shell, timeout, force: true, cancellationToken).ConfigureAwait(false);
        return $"stopped in {stop.DurationMs:0} ms" + (stop.Forced ? " (killed after the graceful stop timed out)" : "");
    }

    /// <summary>
    /// Runbook Step 7.1-7.2: waits for health and readiness (fast polling up to <paramref name="timeout"/>), then reads the
    /// version the API reports (for the caller to record, then to check against what it put in place).
    /// </summary>
    public static async Task<(VaultHealthResult Health, VaultBackendVersion Version)> WaitServingAsync(VaultTarget target, IHostShell shell,
        TimeSpan timeout, int progressId, CancellationToken cancellationToken)
    {
        var health = await HealthWaiter.WaitAsync(target, shell, ready: true, timeout, TimeSpan.FromSeconds(1), progressId, cancellationToken).ConfigureAwait(false);
        var version = await VersionProbe.GetAsync(target, shell, TimeSpan.FromSeconds(5), cancellationToken).ConfigureAwait(false);
        return (health, version);
    }

    /// <summary>
    /// The last step of a rollback (of any kind): waits until the version brought back serves, records it on the result,
    /// tells the caller it serves (<paramref name="serving"/>, before the check: a wrong version still serves), then checks
    /// it is the one expected. Returns the step's detail.
    /// </summary>
    public static async Task<string?> VerifyRolledBackAsync(VaultTarget target, IHostShell shell, TimeSpan timeout, int progressId,
        VaultDeploymentResult result, ExpectedVersion expected, Action serving, CancellationToken cancellationToken)
    {
        var (health, version) = await WaitServingAsync(target, shell, timeout, progressId, cancellationToken).ConfigureAwait(false);
        result.VersionAfter = version.Version;
        result.CommitAfter = version.Commit;
        serving();
        expected.Check(target, version);
        return Describe(health, version);
    }

    /// <summary>"healthy after 812 ms, version 1.3.0 (abc1234)", the detail of a verification step.</summary>
    public static string Describe(VaultHealthResult health, VaultBackendVersion version) =>
        $"healthy after {health.WaitedMs:0} ms, version {version.Version ?? "unknown"}" + (version.ShortCommit.Length == 0 ? "" : $" ({version.ShortCommit})");
}
