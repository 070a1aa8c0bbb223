using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using YieldVault.Ops.Hosts;
using YieldVault.Ops.Probes;
using YieldVault.Ops.Services;

namespace YieldVault.Ops.Runbook;

/// <summary>
/// Runbook Steps 1-10 and its Rollback Procedure, in the order that keeps the old version serving as long as
/// possible: everything that can fail (fetch, build, env, pull) happens before the stop; after the stop,
/// any failure switches back to the previous version and verifies it serves. Each step is journaled on the
/// host as it starts and ends, and timed against the runbook's targets.
/// </summary>
public sealed partial class DeploymentRunner
{
    private const int ProgressId = 3100;
    private static readonly TimeSpan RollbackHealthFloor = TimeSpan.FromSeconds(60);
    private readonly VaultTarget _target;
    private readonly IHostShell _shell;
    private readonly DeploymentRequest _request;
    private readonly SecretRedactor _redactor;
    private readonly VaultDeploymentResult _result;
    private readonly List<VaultDeploymentStep> _steps;
    private IDeploymentStrategy _strategy = null!;
    private DeploymentJournal? _journal;
    private bool _nothingToMigrate;

    public DeploymentRunner(VaultTarget target, IHostShell shell, DeploymentRequest request, SecretRedactor redactor)
    {
        _target = target;
        _shell = shell;
        _request = request;
        _redactor = redactor;
        _steps = Plan(target, request).ToList();
        _result = new VaultDeploymentResult
        {
            Target = target, RunId = DeploymentJournal.NewRunId(DateTimeOffset.UtcNow), Source = request.Source, Incident = request.Incident,
            StartedAt = DateTimeOffset.UtcNow, Steps = _steps,
        };
    }

    public async Task<VaultDeploymentResult> RunAsync(CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        _strategy = _request.Image is not null
            ? DeploymentStrategies.CreateDocker(_target, _shell, _request, Detail)
            : new ReleaseStrategy(_target, _shell, _request, Detail);
        await using var monitor = await DowntimeMonitor.StartAsync(_shell, _target.Port, _target.HealthPath, _request.ProbeInterval, _target.HealthyStatusCodes, cancellationToken).ConfigureAwait(false);
        DeploymentLock? held = null;
        var stopped = false;
        string? expectedVersion = null, expectedCommit = null;
        try
        {
            await RunStepAsync(1, async () =>
            {
                // Required variables first: a missing one fails in seconds, not after a build.
                var env = await RunbookOperations.CheckEnvironmentAsync(_target, _shell, _redactor, null, cancellationToken).ConfigureAwait(false);
                if (!env.Passed)
                {
                    throw new VaultException("EnvironmentInvalid", VaultErrorKind.InvalidData,
                        $"{_target.DisplayName}: {(env.Exists ? "" : env.EnvFile + " does not exist; ")}missing or empty: {string.Join(", ", env.Missing.Concat(env.Empty))}. Nothing was changed.",
                        $"Set the variables in {env.EnvFile} and deploy again.");
                }

                var version = await VersionProbe.GetAsync(_target, _shell, TimeSpan.FromSeconds(5), cancellationToken).ConfigureAwait(false);
                _result.VersionBefore = version.Version;
                _result.CommitBefore = version.Commit;
                var state = await ServiceManagers.For(_target, _shell).GetStateAsync(cancellationToken).ConfigureAwait(false);
                return $"{state.Status}, version {version.Version ?? "unknown"} ({version.ShortCommit})";
            }, cancellationToken).ConfigureAwait(false);

            await RunStepAsync(2, async () =>
            {
                held = await DeploymentLock.AcquireAsync(_target, _shell, _result.RunId, _request.ClearStaleLock, cancellationToken).ConfigureAwait(false);
                _journal = new DeploymentJournal(_target, _shell, _redactor, _result.RunId);
                _result.JournalPath = _journal.Path;
                _result.ReleaseBefore = await _strategy.CurrentAsync(cancellationToken).ConfigureAwait(false);
                await _journal.WriteAsync("run", "start", detail: $"{_result.Kind} {_request.Source} by {Environment.UserName} on {Environment.MachineName}" +
                    (_request.Incident is null ? "" : $" for {_request.Incident}"),
                    data: new Newtonsoft.Json.Linq.JObject { ["releaseBefore"] = _result.ReleaseBefore, ["versionBefore"] = _result.VersionBefore, ["commitBefore"] = _result.CommitBefore }).ConfigureAwait(false);
                return $"lock {held.Path}";
            }, cancellationToken).ConfigureAwait(false);

            await RunStepAsync(3, async () =>
            {
                var backup = await RunbookOperations.BackupAsync(_target, _shell, _request.BackupNodeModules, cancellationToken).ConfigureAwait(false);
                if (_request.Maintenance)
                {
                    await RunbookOperations.SetMaintenanceAsync(_target, _shell, true, cancellationToken).ConfigureAwait(false);
                }

                return backup.Path;
            }, cancellationToken).ConfigureAwait(false);

            await RunStepAsync(4, async () =>
            {
                var (name, version, commit) = await _strategy.PrepareAsync(cancellationToken).ConfigureAwait(false);
                // A plain checkout is adopted into releases/ during preparation; name it now.
                _result.ReleaseBefore ??= await _strategy.CurrentAsync(cancellationToken).ConfigureAwait(false);
                _result.ReleaseAfter = name;
                expectedVersion = version;
                expectedCommit = commit;
                return $"{name} (version {version ?? "unknown"})";
            }, cancellationToken).ConfigureAwait(false);

            await RunStepAsync(5, async () =>
            {
                var check = await RunbookOperations.CheckEnvironmentAsync(_target, _shell, _redactor, _request.Image is null ? _strategy.MigrationDirectory : null, cancellationToken).ConfigureAwait(false);
                if (check.NewInExample.Count > 0)
                {
                    Reporting.Current.Warning($"{_target.Name}: the new version's .env.example names variables the env file lacks: {string.Join(", ", check.NewInExample)}.");
                }

                if (_request.MigrationTiming == MigrationTiming.BeforeStop)
                {
                    return "env ok; " + await MigrateAsync(cancellationToken).ConfigureAwait(false);
                }

                // A status check now, while the old version serves: when nothing is pending, the stop is not
                // lengthened by a migration run that would do nothing.
                _nothingToMigrate = await NothingPendingAsync(cancellationToken).ConfigureAwait(false);
                return _nothingToMigrate ? "env ok; no migration pending" : "env ok; migrations after the stop";
            }, cancellationToken).ConfigureAwait(false);

            await RunStepAsync(6, async () =>
            {
                stopped = true;
                var stop = await StopAsync(cancellationToken).ConfigureAwait(false);
                if (_request.MigrationTiming == MigrationTiming.AfterStop)
                {
                    return stop + "; " + await MigrateAsync(cancellationToken).ConfigureAwait(false);
                }

                return stop;
            }, cancellationToken).ConfigureAwait(false);

            await RunStepAsync(7, async () =>
            {
                await _strategy.SwitchAsync(cancellationToken).ConfigureAwait(false);
                if (_request.Maintenance && _request.Image is null)
                {
                    // The flag lives in the release the app path points to; the new one needs it too until Step 9.
                    await RunbookOperations.SetMaintenanceAsync(_target, _shell, true, cancellationToken).ConfigureAwait(false);
                }

                await ServiceManagers.For(_target, _shell).StartAsync(cancellationToken).ConfigureAwait(false);
                return "started " + _result.ReleaseAfter;
            }, cancellationToken).ConfigureAwait(false);

            await RunStepAsync(8, async () => await VerifyAsync(expectedVersion, expectedCommit, cancellationToken).ConfigureAwait(false), cancellationToken).ConfigureAwait(false);

            await RunStepAsync(9, async () =>
            {
                if (_request.Smoke is null)
                {
                    return null;
                }

                var failure = await _request.Smoke(_target, cancellationToken).ConfigureAwait(false);
                return failure is null
                    ? "all smoke checks passed"
                    : throw new VaultException("SmokeTestFailed", VaultErrorKind.InvalidOperation, $"{_target.DisplayName}: {failure}");
            }, cancellationToken).ConfigureAwait(false);

            await RunStepAsync(10, async () =>
            {
                if (_request.Maintenance)
                {
                    await RunbookOperations.SetMaintenanceAsync(_target, _shell, false, cancellationToken).ConfigureAwait(false);
                }

                await _strategy.PruneAsync(cancellationToken).ConfigureAwait(false);
                return "done";
            }, cancellationToken).ConfigureAwait(false);

            _result.Status = DeploymentStatus.Succeeded;
            var after = await VersionProbe.GetAsync(_target, _shell, TimeSpan.FromSeconds(5), cancellationToken).ConfigureAwait(false);
            _result.VersionAfter = after.Version;
            _result.CommitAfter = after.Commit;
        }
        catch (VaultException ex) when (!cancellationToken.IsCancellationRequested)
        {
            _result.Error = _redactor.Redact(ex.Message);
            _result.ErrorId = ex.ErrorId;
            if (!stopped)
            {
                // Failed before anything was stopped: the old version never stopped serving.
                _result.Status = DeploymentStatus.Failed;
                if (_request.Maintenance && _result.Steps[2].Outcome == StepOutcome.Succeeded)
                {
                    await RunbookOperations.SetMaintenanceAsync(_target, _shell, false, CancellationToken.None).ConfigureAwait(false);
                }

                _result.VersionAfter = _result.VersionBefore;
                _result.CommitAfter = _result.CommitBefore;
                if (ex.ErrorId is not "DeploymentLocked" and not "DeploymentLockStale")
                {
                    await _strategy.DiscardAsync(CancellationToken.None).ConfigureAwait(false);
                }
            }
            else if (_request.NoRollback)
            {
                _result.Status = DeploymentStatus.Failed;
                Reporting.Current.Warning($"{_target.Name}: {ex.Message} -NoRollback was given: the target is left as it is.");
            }
            else
            {
                await RollBackAsync(ex, cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            await RunEnding.FinishAsync(_target, _shell, _redactor, _result, monitor, clock, _journal, held, cancellationToken).ConfigureAwait(false);

            Reporting.Current.Progress(ProgressId, $"Deploying {_request.Source} to {_target.Name}", "done", 100, completed: true);
        }

        return _result;
    }

    private async Task<string> StopAsync(CancellationToken cancellationToken)
    {
        var state = await ServiceManagers.For(_target, _shell).GetStateAsync(cancellationToken).ConfigureAwait(false);
        if (state.Status is ServiceStatus.NotFound or ServiceStatus.Stopped)
        {
            return $"was not running ({state.Status})";
        }

        var stop = await BackendControl.StopAsync(_target, _shell, _request.StopTimeout, force: true, cancellationToken).ConfigureAwait(false);
        return $"stopped in {stop.DurationMs:0} ms" + (stop.Forced ? " (killed after the graceful stop timed out)" : "");
    }

    private async Task<string> VerifyAsync(string? expectedVersion, string? expectedCommit, CancellationToken cancellationToken)
    {
        var since = DateTimeOffset.UtcNow.AddSeconds(-5);
        var healthy = await HealthWaiter.WaitAsync(_target, _shell, ready: true, _request.HealthTimeout, TimeSpan.FromSeconds(1), ProgressId + 1, cancellationToken).ConfigureAwait(false);
        var version = await VersionProbe.GetAsync(_target, _shell, TimeSpan.FromSeconds(5), cancellationToken).ConfigureAwait(false);
        if (expectedVersion is not null && version.Version != expectedVersion)
        {
            throw new VaultException("VersionMismatch", VaultErrorKind.InvalidData,
                $"{_target.DisplayName}: {_target.VersionPath} reports {version.Version ?? "nothing"}, expected {expectedVersion}.");
        }

        if (expectedCommit is not null && version.Commit is not null && !string.Equals(version.Commit, expectedCommit, StringComparison.OrdinalIgnoreCase))
        {
            throw new VaultException("VersionMismatch", VaultErrorKind.InvalidData,
                $"{_target.DisplayName}: {_target.VersionPath} reports commit {version.Commit}, expected {expectedCommit}.");
        }

        var (source, entries) = await LogReader.ReadAsync(_target, _shell, VaultLogSource.Auto, 500, since, cancellationToken).ConfigureAwait(false);
        var log = LogParser.Verify(entries, LogParser.DefaultMarkers(_target), _target, source);
        if (log.ErrorCount > 0 || log.StackTraceCount > 0)
        {
            throw new VaultException("LogErrors", VaultErrorKind.InvalidData,
                $"{_target.DisplayName}: the log ({source}) shows {log.ErrorCount} error(s) since the start: {_redactor.Redact(log.FirstError)}");
        }

        if (log.MarkersMissing.Count > 0)
        {
            Reporting.Current.Warning($"{_target.Name}: the log ({source}) lacks startup markers: {string.Join(", ", log.MarkersMissing)}.");
        }

        return $"healthy after {healthy.WaitedMs:0} ms, version {version.Version} ({version.ShortCommit})";
    }

    private async Task RollBackAsync(VaultException cause, CancellationToken cancellationToken)
    {
        var watch = Stopwatch.StartNew();
        Reporting.Current.Warning($"{_target.Name}: {cause.Message} Rolling back to {_result.ReleaseBefore ?? "the previous version"}.");
        await (_journal?.WriteAsync("rollback", "start", detail: cause.ErrorId) ?? Task.CompletedTask).ConfigureAwait(false);
        try
        {
            var manager = ServiceManagers.For(_target, _shell);
            var state = await manager.GetStateAsync(cancellationToken).ConfigureAwait(false);
            if (state.Status is not ServiceStatus.Stopped and not ServiceStatus.NotFound)
            {
                await BackendControl.StopAsync(_target, _shell, _request.StopTimeout, force: true, cancellationToken).ConfigureAwait(false);
            }

            await _strategy.SwitchBackAsync(cancellationToken).ConfigureAwait(false);
            await manager.StartAsync(cancellationToken).ConfigureAwait(false);
            // The version going back was healthy before: give it at least a minute, whatever -HealthTimeoutSec
            // the new version had (a short timeout there must not fail the rollback of a slower starter).
            var rollbackWait = _request.HealthTimeout > RollbackHealthFloor ? _request.HealthTimeout : RollbackHealthFloor;
            await HealthWaiter.WaitAsync(_target, _shell, ready: true, rollbackWait, TimeSpan.FromSeconds(1), ProgressId + 2, cancellationToken).ConfigureAwait(false);
            var version = await VersionProbe.GetAsync(_target, _shell, TimeSpan.FromSeconds(5), cancellationToken).ConfigureAwait(false);
            _result.VersionAfter = version.Version;
            _result.CommitAfter = version.Commit;
            if (_result.CommitBefore is not null && version.Commit is not null && version.Commit != _result.CommitBefore)
            {
                throw new VaultException("RollbackVerificationFailed", VaultErrorKind.InvalidData,
                    $"{_target.DisplayName}: after the rollback {_target.VersionPath} reports {version.Commit}, not {_result.CommitBefore}.");
            }

            if (_request.Maintenance)
            {
                await RunbookOperations.SetMaintenanceAsync(_target, _shell, false, cancellationToken).ConfigureAwait(false);
            }

            _result.Status = DeploymentStatus.RolledBack;
            _result.ReleaseAfter = _result.ReleaseBefore;
            await (_journal?.WriteAsync("rollback", "end", "Succeeded", $"serving {version.Version} again", watch.Elapsed.TotalMilliseconds) ?? Task.CompletedTask).ConfigureAwait(false);
        }
        catch (VaultException ex)
        {
            _result.Status = DeploymentStatus.Failed;
            _result.Error = _redactor.Redact($"{cause.Message} The rollback failed too: {ex.Message}");
            await (_journal?.WriteAsync("rollback", "end", "Failed", ex.Message, watch.Elapsed.TotalMilliseconds) ?? Task.CompletedTask).ConfigureAwait(false);
            Reporting.Current.Warning($"{_target.Name}: THE ROLLBACK FAILED: {ex.Message} The backend may be down: check it now (Get-VaultBackendStatus).");
        }
    }

    private async Task RunStepAsync(int number, Func<Task<string?>> body, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var step = _steps[number - 1];
        var activity = $"Deploying {_request.Source} to {_target.Name}";
        Reporting.Current.Progress(ProgressId, activity, $"Step {number}/{_steps.Count}: {step.Name}", (number - 1) * 100 / _steps.Count);
        Reporting.Current.Verbose($"{_target.Name}: Step {number}/{_steps.Count}: {step.Name}");
        await (_journal?.WriteAsync(step.Name, "start") ?? Task.CompletedTask).ConfigureAwait(false);
        var watch = Stopwatch.StartNew();
        try
        {
            var detail = await body().ConfigureAwait(false);
            step.Duration = watch.Elapsed;
            step.Outcome = detail is null ? StepOutcome.Skipped : StepOutcome.Succeeded;
            step.Detail = detail is null ? null : _redactor.Redact(detail);
            await (_journal?.WriteAsync(step.Name, "end", step.Outcome.ToString(), step.Detail, watch.Elapsed.TotalMilliseconds) ?? Task.CompletedTask).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            step.Duration = watch.Elapsed;
            step.Outcome = StepOutcome.Failed;
            step.Detail = _redactor.Redact(ex.Message);
            await (_journal?.WriteAsync(step.Name, "end", "Failed", step.Detail, watch.Elapsed.TotalMilliseconds) ?? Task.CompletedTask).ConfigureAwait(false);
            throw;
        }
    }

    private void Detail(string text) => Reporting.Current.Verbose($"{_target.Name}:   {text}");
}
