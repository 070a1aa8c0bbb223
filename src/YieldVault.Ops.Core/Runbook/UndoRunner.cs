using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using YieldVault.Ops.Hosts;
using YieldVault.Ops.Probes;
using YieldVault.Ops.Releases;
using YieldVault.Ops.Services;

namespace YieldVault.Ops.Runbook;

/// <summary>
/// The runbook's Rollback Procedure without its rebuild: stop, point the app path at an earlier release
/// (a link switch), optionally restore the env file from a backup, start, and verify the release serves.
/// </summary>
public sealed class UndoRunner
{
    private const int ProgressId = 3200;
    private readonly VaultTarget _target;
    private readonly IHostShell _shell;
    private readonly SecretRedactor _redactor;

    public UndoRunner(VaultTarget target, IHostShell shell, SecretRedactor redactor)
    {
        _target = target;
        _shell = shell;
        _redactor = redactor;
    }

    /// <summary>The release to go back to: the named one, the backup's, or the one before the current.</summary>
    public async Task<(string Release, string? Current)> ChooseAsync(string? release, VaultBackupRecord? backup, CancellationToken cancellationToken)
    {
        var store = new ReleaseStore(_target, _shell);
        var releases = await store.ListAsync(cancellationToken).ConfigureAwait(false);
        var current = releases.FirstOrDefault(r => r.IsCurrent)?.Name;
        var wanted = release ?? backup?.Release;
        if (wanted is not null)
        {
            if (!releases.Any(r => r.Name == wanted))
            {
                throw new VaultException("ReleaseNotFound", VaultErrorKind.ObjectNotFound,
                    $"{_target.DisplayName}: there is no release '{wanted}' in {store.ReleasesDirectory}.",
                    "List the releases with Get-VaultRelease.");
            }

            return (wanted, current);
        }

        if (current is null)
        {
            throw new VaultException("NoPreviousRelease", VaultErrorKind.ObjectNotFound,
                $"{_target.DisplayName}: {_target.AppPath} is not a link into {store.ReleasesDirectory}, so there is no release to go back to.",
                "Deploy with Invoke-VaultDeployment first, or pass -Release.");
        }

        // A deployment that died (or was stopped) after the stop but before the switch left the old release
        // current and stopped: going "back" means starting the current release again, not the one before it.
        if (await LastRunDiedBeforeSwitchAsync(cancellationToken).ConfigureAwait(false))
        {
            Reporting.Current.Warning($"{_target.Name}: the last deployment did not finish and never switched releases; starting the current release {current} again.");
            return (current, current);
        }

        // The release the current one replaced, from the record of the deployment that made it current
        // (names sort by preparation time, which after a deploy, an undo and a redeploy is not the same).
        IReadOnlyList<VaultDeploymentRecord> history;
        try
        {
            history = await DeploymentRecords.ReadAsync(_target, _shell, cancellationToken).ConfigureAwait(false);
        }
        catch (VaultException ex) when (!ex.IsConnectionFailure)
        {
            Reporting.Current.Warning($"{_target.Name}: the deployment history could not be read ({ex.Message}); choosing the release before the current one by name.");
            history = Array.Empty<VaultDeploymentRecord>();
        }

        var replaced = history
            .Where(r => r.Kind == DeploymentRecords.DeployKind && r.Status == DeploymentStatus.Succeeded && r.ReleaseAfter == current)
            .OrderByDescending(r => r.EndedAt)
            .Select(r => r.ReleaseBefore)
            .FirstOrDefault();
        if (replaced is not null && replaced != current && releases.Any(r => r.Name == replaced))
        {
            return (replaced, current);
        }

        var index = releases.ToList().FindIndex(r => r.IsCurrent);
        return index > 0
            ? (releases[index - 1].Name, current)
            : throw new VaultException("NoPreviousRelease", VaultErrorKind.ObjectNotFound,
                $"{_target.DisplayName}: {current} is the oldest release; there is nothing before it.", "Pass -Release to pick one.");
    }

    private async Task<bool> LastRunDiedBeforeSwitchAsync(CancellationToken cancellationToken)
    {
        // The newest run stopped the service (Step 3 started) but never switched releases or rolled back.
        const string script = @"last=$(ls -1t -- ""$1""/*.jsonl 2>/dev/null | head -n 1)
[ -n ""$last"" ] || exit 0
grep -q '""step"":""Stop current service"",""phase"":""start""' ""$last"" || exit 0
grep -q '""step"":""Switch and start [a-z]* version"",""phase"":""start""' ""$last"" && exit 0
grep -q '""step"":""rollback""' ""$last"" && exit 0
echo died-before-switch";
        var result = await _shell.RunAsync(CommandLine.Script(script, DeploymentJournal.DirectoryOf(_target)), TimeSpan.FromSeconds(30), cancellationToken).ConfigureAwait(false);
        return result.StandardOutput.Contains("died-before-switch");
    }

    public async Task<VaultDeploymentResult> RunAsync(string release, string? current, VaultBackupRecord? restoreEnvFrom, bool clearStaleLock, TimeSpan stopTimeout,
        TimeSpan healthTimeout, CancellationToken cancellationToken)
    {
        var steps = new List<VaultDeploymentStep>
        {
            new() { Number = 1, Name = "Lock and journal", Runbook = "-" },
            new() { Number = 2, Name = "Stop current service", Runbook = "Step 3", Target = TimeSpan.FromMinutes(2) },
            new() { Number = 3, Name = "Switch and start previous version", Runbook = "Rollback", Target = TimeSpan.FromMinutes(2) },
            new() { Number = 4, Name = "Verify deployment", Runbook = "Step 7", Target = TimeSpan.FromMinutes(5) },
        };
        var result = new VaultDeploymentResult
        {
            Target = _target, RunId = DeploymentJournal.NewRunId(DateTimeOffset.UtcNow), Kind = "rollback", Source = release, StartedAt = DateTimeOffset.UtcNow,
            Steps = steps, ReleaseBefore = current, ReleaseAfter = release,
        };
        var clock = Stopwatch.StartNew();
        var before = await VersionProbe.GetAsync(_target, _shell, TimeSpan.FromSeconds(3), cancellationToken).ConfigureAwait(false);
        result.VersionBefore = before.Version;
        result.CommitBefore = before.Commit;
        await using var monitor = await DowntimeMonitor.StartAsync(_shell, _target.Port, _target.HealthPath, TimeSpan.FromMilliseconds(25), _target.HealthyStatusCodes, cancellationToken).ConfigureAwait(false);
        DeploymentLock? held = null;
        DeploymentJournal? journal = null;
        var store = new ReleaseStore(_target, _shell);
        try
        {
            await Step(steps[0], journal, async () =>
            {
                held = await DeploymentLock.AcquireAsync(_target, _shell, result.RunId, clearStaleLock, cancellationToken).ConfigureAwait(false);
                journal = new DeploymentJournal(_target, _shell, _redactor, result.RunId);
                result.JournalPath = journal.Path;
                await journal.WriteAsync("run", "start", detail: $"rollback to {release} by {Environment.UserName} on {Environment.MachineName}").ConfigureAwait(false);
                return held.Path;
            }, cancellationToken).ConfigureAwait(false);

            await Step(steps[1], journal, async () =>
            {
                var state = await ServiceManagers.For(_target, _shell).GetStateAsync(cancellationToken).ConfigureAwait(false);
                if (state.Status is ServiceStatus.Stopped or ServiceStatus.NotFound)
                {
                    return $"was not running ({state.Status})";
                }

                var stop = await BackendControl.StopAsync(_target, _shell, stopTimeout, force: true, cancellationToken).ConfigureAwait(false);
                return $"stopped in {stop.DurationMs:0} ms" + (stop.Forced ? " (killed)" : "");
            }, cancellationToken).ConfigureAwait(false);

            await Step(steps[2], journal, async () =>
            {
                await store.SwitchAsync(release, cancellationToken).ConfigureAwait(false);
                if (restoreEnvFrom?.EnvFileCopy is { } copy)
                {
                    await _shell.RunCheckedAsync(CommandLine.Script("umask 077; cat -- \"$1\" > \"$2.yv-restore\" && mv -f -- \"$2.yv-restore\" \"$2\"", copy, store.SharedEnvFile),
                        "EnvRestoreFailed", "Restoring the env file from " + restoreEnvFrom.Path, TimeSpan.FromSeconds(30), cancellationToken).ConfigureAwait(false);
                }

                await ServiceManagers.For(_target, _shell).StartAsync(cancellationToken).ConfigureAwait(false);
                return "started " + release + (restoreEnvFrom?.EnvFileCopy is null ? "" : " with the env file from " + restoreEnvFrom.Path);
            }, cancellationToken).ConfigureAwait(false);

            await Step(steps[3], journal, async () =>
            {
                var healthy = await HealthWaiter.WaitAsync(_target, _shell, ready: true, healthTimeout, TimeSpan.FromSeconds(1), ProgressId + 1, cancellationToken).ConfigureAwait(false);
                var git = await _shell.RunAsync(CommandLine.Script("git -c safe.directory='*' -C \"$1/$2\" rev-parse HEAD 2>/dev/null", store.ReleasesDirectory, release),
                    TimeSpan.FromSeconds(30), cancellationToken).ConfigureAwait(false);
                var expected = git.Succeeded ? git.StandardOutput.Trim() : null;
                var version = await VersionProbe.GetAsync(_target, _shell, TimeSpan.FromSeconds(5), cancellationToken).ConfigureAwait(false);
                result.VersionAfter = version.Version;
                result.CommitAfter = version.Commit;
                if (expected is { Length: 40 } && version.Commit is not null && version.Commit != expected)
                {
                    throw new VaultException("VersionMismatch", VaultErrorKind.InvalidData,
                        $"{_target.DisplayName}: {_target.VersionPath} reports commit {version.Commit}, but {release} is {expected}.");
                }

                return $"healthy after {healthy.WaitedMs:0} ms, version {version.Version} ({version.ShortCommit})";
            }, cancellationToken).ConfigureAwait(false);
            result.Status = DeploymentStatus.Succeeded;
        }
        catch (VaultException ex) when (!cancellationToken.IsCancellationRequested)
        {
            result.Status = DeploymentStatus.Failed;
            result.Error = _redactor.Redact(ex.Message);
            result.ErrorId = ex.ErrorId;
        }
        finally
        {
            await RunEnding.FinishAsync(_target, _shell, _redactor, result, monitor, clock, journal, held, cancellationToken).ConfigureAwait(false);

            Reporting.Current.Progress(ProgressId, $"Rolling back {_target.Name}", "done", 100, completed: true);
        }

        return result;
    }

    private static async Task Step(VaultDeploymentStep step, DeploymentJournal? journal, Func<Task<string>> body, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        Reporting.Current.Progress(ProgressId, "Rolling back", $"Step {step.Number}/4: {step.Name}", (step.Number - 1) * 25);
        await (journal?.WriteAsync(step.Name, "start") ?? Task.CompletedTask).ConfigureAwait(false);
        var watch = Stopwatch.StartNew();
        try
        {
            step.Detail = await body().ConfigureAwait(false);
            step.Outcome = StepOutcome.Succeeded;
        }
        catch (Exception ex)
        {
            step.Outcome = StepOutcome.Failed;
            step.Detail = ex.Message;
            throw;
        }
        finally
        {
            step.Duration = watch.Elapsed;
            await (journal?.WriteAsync(step.Name, "end", step.Outcome.ToString(), step.Detail, watch.Elapsed.TotalMilliseconds) ?? Task.CompletedTask).ConfigureAwait(false);
        }
    }
}
