using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Newtonsoft.Json.Linq;
using YieldVault.Ops.Hosts;
using YieldVault.Ops.Probes;
using YieldVault.Ops.Releases;
using YieldVault.Ops.Services;
using YieldVault.Ops.Smoke;

namespace YieldVault.Ops.Runbook;

/// <summary>
/// Runbook Steps 1-10 and its Rollback Procedure as one run on the engine (<see cref="RunbookRun"/>), in the order that
/// keeps the old version serving as long as possible: everything that can fail (fetch, build, env, pull) happens
/// before the stop; after the stop, any failure switches back to the previous version and verifies it serves. How the
/// new version is put in place is the strategy's (<see cref="IDeploymentStrategy"/>: a release, a container).
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
    private readonly RunbookRun _run;
    private readonly IDeploymentStrategy _strategy;
    private readonly DeploymentMigrations _migrations;
    private bool _stopped;
    private bool _verified;
    private bool _wasRunning;
    private DateTimeOffset? _switchedAt;

    public DeploymentRunner(VaultTarget target, IHostShell shell, DeploymentRequest request, SecretRedactor redactor)
    {
        _target = target ?? throw new ArgumentNullException(nameof(target));
        _shell = shell ?? throw new ArgumentNullException(nameof(shell));
        _request = request ?? throw new ArgumentNullException(nameof(request));
        _redactor = redactor ?? throw new ArgumentNullException(nameof(redactor));
        var runId = DeploymentJournal.NewRunId(DateTimeOffset.UtcNow);
        _strategy = CreateStrategy(target, shell, request, Detail, runId);
        _result = new VaultDeploymentResult
        {
            Target = target, RunId = runId, Source = request.Source, Incident = request.Incident, RollId = request.RollId,
            StartedAt = DateTimeOffset.UtcNow, Steps = Plan(target, request, _strategy).ToList(),
        };
        _run = new RunbookRun(target, shell, redactor, _result, ProgressId, $"Deploying {request.Source} to {target.Name}") { Gate = request.StepGate };
        _migrations = new DeploymentMigrations(target, shell, request, redactor, () => _strategy.MigrationDirectory);
    }

    public async Task<VaultDeploymentResult> RunAsync(CancellationToken cancellationToken)
    {
        await _run.StartProberAsync(_request.ProbeInterval, cancellationToken).ConfigureAwait(false);
        // A Ctrl+C after the stop still brings the previous version back.
        return await _run.ExecuteAsync(() => StepsAsync(cancellationToken), RecoverAsync, cancellationToken, () => _stopped && !_verified).ConfigureAwait(false);
    }

    private void Detail(string text) => _run.Detail(text);

    private async Task StepsAsync(CancellationToken cancellationToken)
    {
        var expected = ExpectedVersion.Unknown(_request.Source);
        await _run.StepAsync(1, async () =>
        {
            if (_strategy is ReleaseStrategy)
            {
                // A run killed while it adopted the app directory left the app path missing: the link comes back before
                // anything reads the app (the env file is read through it).
                await new ReleaseStore(_target, _shell).RepairAsync(cancellationToken).ConfigureAwait(false);
            }

            // Required variables first: a missing one fails in seconds, not after a build.
            var env = await EnvironmentCheck.CheckAsync(_target, _shell, _redactor, null, cancellationToken).ConfigureAwait(false);
            if (!env.Passed)
            {
                throw new VaultException(ErrorIds.EnvironmentInvalid, VaultErrorKind.InvalidData,
                    $"{_target.DisplayName}: {(env.Exists ? "" : env.EnvFile + " does not exist; ")}missing or empty: {string.Join(", ", env.Missing.Concat(env.Empty))}. Nothing was changed.",
                    $"Set the variables in {env.EnvFile} and deploy again.");
            }

            if (_target.Proxy != ProxyKind.None)
            {
                // In place acts on the target's own service and port: after a blue-green switch that may not be what nginx serves.
                var record = await Proxies.TrafficRecord.ReadAsync(_target, _shell, cancellationToken).ConfigureAwait(false);
                if (record.Live is { } live && record.Of(live) is { } serving && serving.Instance != _target.ServiceName)
                {
                    throw new VaultException(ErrorIds.InPlaceOnBlueGreen, VaultErrorKind.InvalidOperation,
                        $"{_target.DisplayName}: nginx serves the {live} slot ({serving.Instance}, port {_target.SlotPort(live)}), not the target's own service {_target.ServiceName}; an in-place deployment would replace a version nothing serves. Nothing was changed.",
                        "Deploy blue-green (leave out -Strategy InPlace), or switch traffic back to the target's own service first.");
                }
            }

            var version = await VersionProbe.GetAsync(_target, _shell, TimeSpan.FromSeconds(5), cancellationToken).ConfigureAwait(false);
            _result.VersionBefore = version.Version;
            _result.CommitBefore = version.Commit;
            var state = await ServiceManagers.For(_target, _shell).GetStateAsync(cancellationToken).ConfigureAwait(false);
            _wasRunning = state.Status is not ServiceStatus.NotFound and not ServiceStatus.Stopped;
            return $"{state.Status}, version {version.Version ?? "unknown"} ({version.ShortCommit})";
        }, cancellationToken).ConfigureAwait(false);

        await _run.StepAsync(2, async () =>
        {
            var lockPath = await _run.LockAsync(_request.ClearStaleLock, $"{_result.Kind} {_request.Source}" + (_request.Incident is null ? "" : $" for {_request.Incident}"),
                async () =>
                {
                    _result.ReleaseBefore = await _strategy.CurrentAsync(cancellationToken).ConfigureAwait(false);
                    return new JObject { ["releaseBefore"] = _result.ReleaseBefore, ["versionBefore"] = _result.VersionBefore, ["commitBefore"] = _result.CommitBefore };
                }, cancellationToken).ConfigureAwait(false);
            return "lock " + lockPath;
        }, cancellationToken).ConfigureAwait(false);

        await _run.StepAsync(3, async () =>
        {
            var backup = await Backups.CreateAsync(_target, _shell, _request.BackupNodeModules, cancellationToken).ConfigureAwait(false);
            if (_request.Maintenance)
            {
                await MaintenanceFlag.SetForRunAsync(_target, _shell, _result.RunId, cancellationToken).ConfigureAwait(false);
            }

            return backup.Path;
        }, cancellationToken).ConfigureAwait(false);

        await _run.StepAsync(4, async () =>
        {
            var (name, version, commit) = await _strategy.PrepareAsync(cancellationToken).ConfigureAwait(false);
            // A plain checkout is adopted into releases/ during preparation; name it now.
            _result.ReleaseBefore ??= await _strategy.CurrentAsync(cancellationToken).ConfigureAwait(false);
            _result.ReleaseAfter = name;
            expected = new ExpectedVersion(version, commit, name);
            return $"{name} (version {version ?? "unknown"})";
        }, cancellationToken).ConfigureAwait(false);

        await _run.StepAsync(5, async () =>
        {
            var check = await EnvironmentCheck.CheckAsync(_target, _shell, _redactor, _request.Image is null ? _strategy.MigrationDirectory : null, cancellationToken).ConfigureAwait(false);
            if (check.NewInExample.Count > 0)
            {
                Reporting.Current.Warning($"{_target.Name}: the new version's .env.example names variables the env file lacks: {string.Join(", ", check.NewInExample)}.");
            }

            // Before anything stops: the version serving now must be one a rollback can bring back.
            var ready = !_wasRunning ? "nothing runs now" : _request.Force ? "rollback readiness not checked (-Force)" : await _strategy.CheckRollbackReadyAsync(cancellationToken).ConfigureAwait(false);
            if (_request.TimingFor(_target) == MigrationTiming.BeforeStop)
            {
                return "env ok; " + ready + "; " + await _migrations.RunAsync(cancellationToken).ConfigureAwait(false);
            }

            // A status check now, while the old version serves: when nothing is pending, the stop is not
            // lengthened by a migration run that would do nothing.
            return "env ok; " + ready + "; " + (await _migrations.CheckNothingPendingAsync(cancellationToken).ConfigureAwait(false) ? "no migration pending" : "migrations after the stop");
        }, cancellationToken).ConfigureAwait(false);

        // From the stop until the new version is verified, the users see downtime: -MaxDowntimeSec bounds it, and an
        // overrun rolls back instead of waiting out each step's own timeout.
        using var downtime = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        Func<Task<string?>> Budgeted(Func<CancellationToken, Task<string?>> body) => async () =>
        {
            try
            {
                return await body(downtime.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (downtime.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                throw new VaultException(ErrorIds.DowntimeBudgetExceeded, VaultErrorKind.OperationTimeout,
                    $"{_target.DisplayName}: the new version did not serve within -MaxDowntimeSec {_request.MaxDowntime!.Value.TotalSeconds:0} s of the stop.",
                    "Find out why it starts slowly (Get-VaultBackendLog), or give a larger -MaxDowntimeSec.");
            }
        };

        await _run.StepAsync(6, Budgeted(async token =>
        {
            _stopped = true;
            if (_request.MaxDowntime is { } budget)
            {
                downtime.CancelAfter(budget);
            }

            // A rolling update (Swarm) stops each task itself in Step 7.
            var stop = _strategy.IsRollingUpdate
                ? "left to the rolling update: the engine stops each task as it replaces it"
                : await BackendVerification.StopIfRunningAsync(_target, _shell, _request.StopTimeout, token).ConfigureAwait(false);
            return _request.TimingFor(_target) == MigrationTiming.AfterStop
                ? stop + "; " + await _migrations.RunAsync(token).ConfigureAwait(false)
                : stop;
        }), cancellationToken).ConfigureAwait(false);

        await _run.StepAsync(7, Budgeted(async token =>
        {
            _switchedAt = DateTimeOffset.UtcNow;
            await _strategy.SwitchAsync(token).ConfigureAwait(false);
            if (_strategy.IsRollingUpdate)
            {
                return "rolled out " + _result.ReleaseAfter;
            }

            if (_request.Maintenance && _request.Image is null)
            {
                // The flag lives in the release the app path points to; the new one needs it too until Step 9.
                await MaintenanceFlag.SetForRunAsync(_target, _shell, _result.RunId, token).ConfigureAwait(false);
            }

            await ServiceManagers.For(_target, _shell).StartAsync(token).ConfigureAwait(false);
            return "started " + _result.ReleaseAfter;
        }), cancellationToken).ConfigureAwait(false);

        await _run.StepAsync(8, Budgeted(async token => await VerifyAsync(expected, token).ConfigureAwait(false)), cancellationToken).ConfigureAwait(false);
        _verified = true;

        await _run.StepAsync(9, async () =>
        {
            string? detail = null;
            if (_request.Smoke is { } smoke)
            {
                var failure = await SmokeRunner.RunForDeploymentAsync(_target, _shell, smoke, _redactor, _request.Maintenance, cancellationToken).ConfigureAwait(false);
                detail = failure is null
                    ? "all smoke checks passed"
                    : throw new VaultException(ErrorIds.SmokeTestFailed, VaultErrorKind.InvalidOperation, $"{_target.DisplayName}: {failure}");
            }

            if (_request.Watch is { } watch)
            {
                // Runbook 10.1 as a gate: a failure here rolls back like a failed smoke check.
                detail = (detail is null ? "" : detail + "; ") + await BackendWatch.GateAsync(_target, _shell, _redactor, watch, ProgressId + 3, cancellationToken).ConfigureAwait(false);
            }

            return detail;
        }, cancellationToken).ConfigureAwait(false);

        await _run.StepAsync(10, async () =>
        {
            if (_request.Maintenance)
            {
                // Also the flag Step 3 left in the release this run started from: an Undo to it must not bring maintenance back.
                await MaintenanceFlag.ClearOfRunAsync(_target, _shell, _result.RunId, true, cancellationToken).ConfigureAwait(false);
            }

            await _strategy.PruneAsync(cancellationToken).ConfigureAwait(false);
            return "done";
        }, cancellationToken).ConfigureAwait(false);

        _result.MigrationsApplied = _migrations.Applied;
        _result.Status = DeploymentStatus.Succeeded;
        var after = await VersionProbe.GetAsync(_target, _shell, TimeSpan.FromSeconds(5), cancellationToken).ConfigureAwait(false);
        _result.VersionAfter = after.Version;
        _result.CommitAfter = after.Commit;
    }

    /// <summary>Step 7 (verification) of the runbook: health, readiness, the version deployed, and a log free of errors.</summary>
    private async Task<string> VerifyAsync(ExpectedVersion expected, CancellationToken cancellationToken)
    {
        // A rolling update started the new tasks during Step 7 (and the engine watched them), not just now.
        var since = (_strategy.IsRollingUpdate && _switchedAt is { } switched ? switched : DateTimeOffset.UtcNow).AddSeconds(-5);
        var (health, version) = await BackendVerification.WaitServingAsync(_target, _shell, _request.HealthTimeout, ProgressId + 1, cancellationToken).ConfigureAwait(false);
        expected.Check(_target, version);
        var (source, entries) = await LogReader.ReadAsync(_target, _shell, VaultLogSource.Auto, 500, since, cancellationToken).ConfigureAwait(false);
        var log = LogParser.Verify(entries, LogParser.DefaultMarkers(_target), _target, source);
        if (log.ErrorCount > 0 || log.StackTraceCount > 0)
        {
            throw new VaultException(ErrorIds.LogErrors, VaultErrorKind.InvalidData,
                $"{_target.DisplayName}: the log ({source}) shows {log.ErrorCount} error(s) since the start: {_redactor.Redact(log.FirstError)}");
        }

        if (log.MarkersMissing.Count > 0)
        {
            Reporting.Current.Warning($"{_target.Name}: the log ({source}) lacks startup markers: {string.Join(", ", log.MarkersMissing)}.");
        }

        return BackendVerification.Describe(health, version);
    }

    /// <summary>After a failure: nothing to undo before the stop; after it, the previous version back (unless -NoRollback).</summary>
    private async Task RecoverAsync(VaultException failure, CancellationToken cancellationToken)
    {
        _result.MigrationsApplied = _migrations.Applied;
        if (!_stopped)
        {
            // Failed before anything was stopped: the old version never stopped serving.
            if (_request.Maintenance && _result.Steps[2].Outcome == StepOutcome.Succeeded)
            {
                await MaintenanceFlag.ClearOfRunAsync(_target, _shell, _result.RunId, true, CancellationToken.None).ConfigureAwait(false);
            }

            _result.VersionAfter = _result.VersionBefore;
            _result.CommitAfter = _result.CommitBefore;
            if (failure.ErrorId is not ErrorIds.DeploymentLocked and not ErrorIds.DeploymentLockStale)
            {
                await _strategy.DiscardAsync(CancellationToken.None).ConfigureAwait(false);
            }
        }
        else if (failure.ErrorId == ErrorIds.LockLost)
        {
            // Another run owns the target now: a rollback from here would act behind its back.
            Reporting.Current.Warning($"{_target.Name}: {_result.Error} It does not roll back: the run that holds the lock now owns the target.");
        }
        else if (_request.NoRollback)
        {
            Reporting.Current.Warning($"{_target.Name}: {_result.Error} -NoRollback was given: the target is left as it is.");
        }
        else
        {
            await RollBackAsync(failure, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task RollBackAsync(VaultException cause, CancellationToken cancellationToken)
    {
        var watch = Stopwatch.StartNew();
        Reporting.Current.Warning($"{_target.Name}: {_result.Error} Rolling back to {_result.ReleaseBefore ?? "the previous version"}."
            + (_migrations.Applied ? " The migrations this run applied stay: the previous version runs on the migrated schema." : ""));
        await _run.JournalAsync("rollback", "start", detail: cause.ErrorId).ConfigureAwait(false);
        try
        {
            if (_strategy.IsRollingUpdate)
            {
                // The engine's rollback stops and starts the tasks itself (or it went back by itself already).
                await _strategy.SwitchBackAsync(cancellationToken).ConfigureAwait(false);
            }
            else
            {
                await BackendVerification.StopIfRunningAsync(_target, _shell, _request.StopTimeout, cancellationToken).ConfigureAwait(false);
                await _strategy.SwitchBackAsync(cancellationToken).ConfigureAwait(false);
                await ServiceManagers.For(_target, _shell).StartAsync(cancellationToken).ConfigureAwait(false);
            }

            // The version going back was healthy before: give it at least a minute, whatever -HealthTimeoutSec
            // the new version had (a short timeout there must not fail the rollback of a slower starter).
            var wait = _request.HealthTimeout > RollbackHealthFloor ? _request.HealthTimeout : RollbackHealthFloor;
            var (_, version) = await BackendVerification.WaitServingAsync(_target, _shell, wait, ProgressId + 2, cancellationToken).ConfigureAwait(false);
            _result.VersionAfter = version.Version;
            _result.CommitAfter = version.Commit;
            new ExpectedVersion(null, _result.CommitBefore, _result.ReleaseBefore ?? "the previous version").Check(_target, version, ErrorIds.RollbackVerificationFailed);
            if (_request.Maintenance)
            {
                // Also the flag Step 7 left in the release rolled back from.
                await MaintenanceFlag.ClearOfRunAsync(_target, _shell, _result.RunId, true, cancellationToken).ConfigureAwait(false);
            }

            _result.Status = DeploymentStatus.RolledBack;
            _result.ReleaseAfter = _result.ReleaseBefore;
            await _run.JournalAsync("rollback", "end", "Succeeded", $"serving {version.Version} again", watch.Elapsed.TotalMilliseconds).ConfigureAwait(false);
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            await _run.RollbackFailedAsync(ex, failure => $"{cause.Message} The rollback failed too: {failure}",
                failure => $"THE ROLLBACK FAILED: {failure} The backend may be down: check it now (Get-VaultBackendStatus).", watch.Elapsed).ConfigureAwait(false);
        }
    }
}
