using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Newtonsoft.Json.Linq;
using YieldVault.Ops.Hosts;
using YieldVault.Ops.Probes;
using YieldVault.Ops.Proxies;
using YieldVault.Ops.Services;
using YieldVault.Ops.Smoke;

namespace YieldVault.Ops.Runbook;

/// <summary>
/// The runbook's Blue-Green Deployment as one run on the engine: the new version is prepared and started in the idle
/// slot while the live one serves, verified on its own port (health, readiness, version, log, smoke checks), and only
/// then does nginx switch to it (<see cref="TrafficSwitch"/>); the previous slot stops after the drain, or stays warm
/// for an instant switch back. A new version that fails any check before the switch is stopped and never gets
/// traffic (Failed, the live version never stopped); a failure after the switch switches back (RolledBack).
/// </summary>
public sealed partial class BlueGreenRunner
{
    private const int ProgressId = 3600;
    private readonly VaultTarget _target;
    private readonly IHostShell _shell;
    private readonly DeploymentRequest _request;
    private readonly SecretRedactor _redactor;
    private readonly VaultDeploymentResult _result;
    private readonly RunbookRun _run;
    private readonly SlotInstances _slots;
    private readonly IDeploymentStrategy? _release;
    private readonly DeploymentMigrations _migrations;
    private TrafficRecord _record = TrafficRecord.Empty;
    private TrafficSlot _live;
    private SlotRecord _liveRecord = new("", null, null, null, null, null);
    private SlotRecord? _started;
    private TrafficSlot _previousLive;
    private bool _switched;
    private bool _switchVerified;

    public BlueGreenRunner(VaultTarget target, IHostShell shell, DeploymentRequest request, SecretRedactor redactor)
    {
        _target = target ?? throw new ArgumentNullException(nameof(target));
        _shell = shell ?? throw new ArgumentNullException(nameof(shell));
        _request = request ?? throw new ArgumentNullException(nameof(request));
        _redactor = redactor ?? throw new ArgumentNullException(nameof(redactor));
        Validate(target, request);
        _slots = SlotInstances.For(target, shell);
        if (request.Image is null)
        {
            _release = new ReleaseStrategy(target, shell, request, Detail);
        }

        // Docker: from the host's app directory, and only a -MigrationCommand (the image carries its own migrations).
        _migrations = new DeploymentMigrations(target, shell, request, redactor, () => _release?.MigrationDirectory ?? target.AppPath);

        _result = new VaultDeploymentResult
        {
            Target = target, RunId = DeploymentJournal.NewRunId(DateTimeOffset.UtcNow), Source = request.Source, Incident = request.Incident, RollId = request.RollId,
            StartedAt = DateTimeOffset.UtcNow, Steps = Plan(target, shell, request).ToList(),
        };
        _run = new RunbookRun(target, shell, redactor, _result, ProgressId, $"Deploying {request.Source} to {target.Name} (blue-green)") { Gate = request.StepGate };
    }

    public async Task<VaultDeploymentResult> RunAsync(CancellationToken cancellationToken)
    {
        // What the users see is nginx: the prober asks through it.
        await _run.StartProberAsync(_request.ProbeInterval, cancellationToken, _target.ProxyPort).ConfigureAwait(false);
        // A Ctrl+C between nginx's reload and its verification still sends traffic back to the slot that served; one before
        // the switch, once the new version has begun to start in the idle slot, stops it (it never got traffic).
        return await _run.ExecuteAsync(() => StepsAsync(cancellationToken), RecoverAsync, cancellationToken,
            () => _switched ? !_switchVerified : _started is not null && !_request.NoRollback,
            () => _switched
                ? $"Ctrl+C after nginx's reload, before it was verified: switching traffic back to the {_previousLive} slot first"
                : $"Ctrl+C before the switch: stopping the new version in the {Idle} slot first (it never got traffic)").ConfigureAwait(false);
    }

    private void Detail(string text) => _run.Detail(text);

    /// <summary>"1.2.3 serves on in the Green slot": what serves after a Ctrl+C before the switch.</summary>
    private string ServesOn => $"{_result.VersionBefore ?? "the previous version"} serves on in the {_live} slot";

    private TrafficSlot Idle => VaultTarget.Other(_live);

    private async Task StepsAsync(CancellationToken cancellationToken)
    {
        var expected = ExpectedVersion.Unknown(_request.Source);
        NewVersion? prepared = null;
        await _run.StepAsync(1, async () =>
        {
            var env = await EnvironmentCheck.CheckAsync(_target, _shell, _redactor, null, cancellationToken).ConfigureAwait(false);
            if (!env.Passed)
            {
                throw new VaultException(ErrorIds.EnvironmentInvalid, VaultErrorKind.InvalidData,
                    $"{_target.DisplayName}: {(env.Exists ? "" : env.EnvFile + " does not exist; ")}missing or empty: {string.Join(", ", env.Missing.Concat(env.Empty))}. Nothing was changed.",
                    $"Set the variables in {env.EnvFile} and deploy again.");
            }

            (_live, _record, _liveRecord) = await TrafficSwitch.ReadLiveAsync(_target, _shell, _slots, cancellationToken).ConfigureAwait(false);
            var version = await VersionProbe.GetAsync(_slots.SlotTarget(_live, _liveRecord), _shell, TimeSpan.FromSeconds(5), cancellationToken).ConfigureAwait(false);
            _result.VersionBefore = version.Version;
            _result.CommitBefore = version.Commit;
            _liveRecord = _liveRecord with { Version = _liveRecord.Version ?? version.Version, Commit = _liveRecord.Commit ?? version.Commit };
            await TrafficSwitch.EnsureNginxServesAsync(_target, _shell, _live, new ExpectedVersion(version.Version, version.Commit, $"the {_live} slot"), cancellationToken)
                .ConfigureAwait(false);
            var idle = _record.Of(Idle);
            return $"{_live} ({_target.SlotPort(_live)}, {_liveRecord.Instance}) serves {version.Version ?? "an unknown version"} ({version.ShortCommit}); "
                + $"{Idle} ({_target.SlotPort(Idle)}) " + (idle is null ? "has no version yet" : $"had {idle.Release ?? idle.Instance}");
        }, cancellationToken).ConfigureAwait(false);

        await _run.StepAsync(2, async () =>
        {
            var lockPath = await _run.LockAsync(_request.ClearStaleLock, $"blue-green deploy {_request.Source} to the {Idle} slot" + (_request.Incident is null ? "" : $" for {_request.Incident}"),
                async () =>
                {
                    // Read again under the lock: another run may have switched since step 1.
                    var seen = _liveRecord;
                    (_live, _record, _liveRecord) = await TrafficSwitch.ReadLiveAsync(_target, _shell, _slots, cancellationToken).ConfigureAwait(false);
                    if (_liveRecord.Instance == seen.Instance)
                    {
                        _liveRecord = _liveRecord with { Version = _liveRecord.Version ?? seen.Version, Commit = _liveRecord.Commit ?? seen.Commit };
                    }

                    _result.ReleaseBefore = _liveRecord.Release ?? (_release is null ? null : await _release.CurrentAsync(cancellationToken).ConfigureAwait(false));
                    return new JObject { ["live"] = _live.ToString(), ["releaseBefore"] = _result.ReleaseBefore, ["versionBefore"] = _result.VersionBefore, ["commitBefore"] = _result.CommitBefore };
                }, cancellationToken).ConfigureAwait(false);
            return "lock " + lockPath;
        }, cancellationToken).ConfigureAwait(false);

        await _run.StepAsync(3, async () => (await Backups.CreateAsync(_target, _shell, _request.BackupNodeModules, cancellationToken).ConfigureAwait(false)).Path,
            cancellationToken).ConfigureAwait(false);

        await _run.StepAsync(4, async () =>
        {
            if (_release is not null)
            {
                var (name, version, commit) = await _release.PrepareAsync(cancellationToken).ConfigureAwait(false);
                _result.ReleaseBefore ??= await _release.CurrentAsync(cancellationToken).ConfigureAwait(false);
                prepared = new NewVersion(name, _release.MigrationDirectory, null, version, commit);
            }
            else
            {
                prepared = await ((ContainerSlots)_slots).PrepareAsync(_request.Image!, _request, Detail, cancellationToken).ConfigureAwait(false);
            }

            _result.ReleaseAfter = prepared.Name;
            expected = new ExpectedVersion(prepared.Version, prepared.Commit, prepared.Name);
            return $"{prepared.Name} (version {prepared.Version ?? "unknown"})";
        }, cancellationToken).ConfigureAwait(false);

        await _run.StepAsync(5, async () =>
        {
            var check = await EnvironmentCheck.CheckAsync(_target, _shell, _redactor, prepared!.ReleasePath, cancellationToken).ConfigureAwait(false);
            if (check.NewInExample.Count > 0)
            {
                Reporting.Current.Warning($"{_target.Name}: the new version's .env.example names variables the env file lacks: {string.Join(", ", check.NewInExample)}.");
            }

            return _request.TimingFor(_target) == MigrationTiming.BeforeStop
                ? "env ok; " + await _migrations.RunAsync(cancellationToken).ConfigureAwait(false)
                : "env ok; migrations after the previous slot stops";
        }, cancellationToken).ConfigureAwait(false);

        await _run.StepAsync(6, async () =>
        {
            if (_slots is ContainerSlots containers)
            {
                containers.Template = _liveRecord;
                containers.TemplateSlot = _live;
            }

            var old = _record.Of(Idle);
            if (old is not null && old.Instance == _liveRecord.Instance)
            {
                old = null;
            }

            _started = new SlotRecord(_slots.InstanceFor(Idle), prepared!.Name, prepared.ReleasePath, prepared.Image, prepared.Version, prepared.Commit);
            _started = await _slots.StartNewAsync(Idle, old, prepared, _request.StopTimeout, cancellationToken).ConfigureAwait(false);
            return $"started {_started.Instance} on port {_target.SlotPort(Idle)} ({Idle}) from {prepared.ReleasePath ?? prepared.Image}";
        }, cancellationToken).ConfigureAwait(false);

        await _run.StepAsync(7, async () =>
        {
            var slotTarget = _slots.SlotTarget(Idle, _started!);
            var since = DateTimeOffset.UtcNow.AddSeconds(-5);
            var (health, version) = await BackendVerification.WaitServingAsync(slotTarget, _shell, _request.HealthTimeout, ProgressId + 1, cancellationToken).ConfigureAwait(false);
            expected.Check(_target, version);
            var (source, entries) = await LogReader.ReadAsync(slotTarget, _shell, VaultLogSource.Auto, 500, since, cancellationToken).ConfigureAwait(false);
            var log = LogParser.Verify(entries, LogParser.DefaultMarkers(slotTarget), slotTarget, source);
            if (log.ErrorCount > 0 || log.StackTraceCount > 0)
            {
                throw new VaultException(ErrorIds.LogErrors, VaultErrorKind.InvalidData,
                    $"{_target.DisplayName}: the log ({source}) of the {Idle} slot shows {log.ErrorCount} error(s) since its start: {_redactor.Redact(log.FirstError)}");
            }

            var detail = BackendVerification.Describe(health, version) + $" on port {slotTarget.Port}";
            if (_request.Smoke is { } smoke)
            {
                var failure = await SmokeRunner.RunForDeploymentAsync(slotTarget, _shell, smoke, _redactor, maintenance: false, cancellationToken).ConfigureAwait(false);
                if (failure is not null)
                {
                    throw new VaultException(ErrorIds.SmokeTestFailed, VaultErrorKind.InvalidOperation, $"{_target.DisplayName} ({Idle} slot, never switched to): {failure}");
                }

                detail += "; all smoke checks passed";
            }

            return detail;
        }, cancellationToken).ConfigureAwait(false);

        await _run.StepAsync(8, async () =>
        {
            _record = _record.With(Idle, _started!).With(_live, _liveRecord);
            _previousLive = _live;
            var detail = await TrafficSwitch.SwitchAsync(_target, _shell, _record, Idle, expected, cancellationToken, () => _switched = true).ConfigureAwait(false);
            if (_request.Watch is { } watch)
            {
                // Runbook 10.1 before the switch counts as verified: a failure here switches back to the previous slot.
                detail += "; " + await BackendWatch.GateAsync(_slots.SlotTarget(Idle, _started!), _shell, _redactor, watch, ProgressId + 3, cancellationToken).ConfigureAwait(false);
            }

            _record = _record with { Live = Idle, SwitchedAt = DateTimeOffset.UtcNow };
            _live = Idle;
            _liveRecord = _started!;
            _started = null;
            _switchVerified = true;
            return detail + $"; {_previousLive} no longer gets traffic";
        }, cancellationToken).ConfigureAwait(false);

        await _run.StepAsync(9, async () =>
        {
            var previous = Idle;
            var previousRecord = _record.Of(previous)!;
            string detail;
            if (_request.KeepPrevious)
            {
                detail = $"{previousRecord.Instance} ({previous}, port {_target.SlotPort(previous)}) kept running: Undo-VaultDeployment switches back without a start";
            }
            else
            {
                await Task.Delay(_request.Drain, cancellationToken).ConfigureAwait(false);
                detail = await _slots.StopAsync(previous, previousRecord, _request.StopTimeout, cancellationToken).ConfigureAwait(false) + $" after a {_request.Drain.TotalSeconds:0} s drain";
            }

            if (_request.TimingFor(_target) == MigrationTiming.AfterStop)
            {
                detail += "; " + await _migrations.RunAsync(cancellationToken).ConfigureAwait(false);
            }

            return detail;
        }, cancellationToken).ConfigureAwait(false);

        await _run.StepAsync(10, async () =>
        {
            if (_release is not null)
            {
                var store = new Releases.ReleaseStore(_target, _shell);
                var keep = new[] { _record.Blue?.Release, _record.Green?.Release, _result.ReleaseBefore, _result.ReleaseAfter }.Where(r => r is not null).Cast<string>();
                var removed = await store.PruneAsync(keep, cancellationToken).ConfigureAwait(false);
                return removed.Count == 0 ? "kept every release" : "removed releases " + string.Join(", ", removed);
            }

            return "done";
        }, cancellationToken).ConfigureAwait(false);

        _result.MigrationsApplied = _migrations.Applied;
        _result.Status = DeploymentStatus.Succeeded;
        var served = await ProxyVerification.ReadAsync(_target, _shell, cancellationToken).ConfigureAwait(false);
        _result.VersionAfter = served.Version ?? _liveRecord.Version;
        _result.CommitAfter = served.Commit ?? _liveRecord.Commit;
    }

    /// <summary>
    /// Before the switch the live slot never stopped: the new slot's instance is stopped (kept for its log) and marked
    /// failed so no switch goes to it. After the switch, traffic goes back to the previous slot, still running.
    /// </summary>
    private async Task RecoverAsync(VaultException failure, CancellationToken cancellationToken)
    {
        if (!_switched)
        {
            _result.VersionAfter = _result.VersionBefore;
            _result.CommitAfter = _result.CommitBefore;
            if (_started is not null && _request.NoRollback)
            {
                Reporting.Current.Warning($"{_target.Name}: {_result.Error} -NoRollback was given: {_started.Instance} (the {Idle} slot) is left running for inspection; it gets no traffic.");
                await _record.With(Idle, _started with { Failed = true }).WriteAsync(_target, _shell, CancellationToken.None).ConfigureAwait(false);
            }
            else if (_started is not null)
            {
                try
                {
                    Detail($"stopping {_started.Instance}: it failed before any traffic reached it");
                    await _slots.StopAsync(Idle, _started, _request.StopTimeout, CancellationToken.None).ConfigureAwait(false);
                    await _record.With(Idle, _started with { Failed = true }).WriteAsync(_target, _shell, CancellationToken.None).ConfigureAwait(false);
                    if (failure.ErrorId == ErrorIds.Cancelled)
                    {
                        _result.CancelOutcome = $"the new version in the {Idle} slot ({_started.Instance}) was stopped before any traffic reached it; {ServesOn}";
                    }
                }
                catch (VaultException ex)
                {
                    Reporting.Current.Warning($"{_target.Name}: the new version in the {Idle} slot ({_started.Instance}) could not be stopped: {ex.Message} It gets no traffic.");
                    if (failure.ErrorId == ErrorIds.Cancelled)
                    {
                        _result.CancelOutcome = $"the new version in the {Idle} slot ({_started.Instance}) could not be stopped, but it gets no traffic; {ServesOn}";
                    }
                }
            }
            else if (_release is not null && failure.ErrorId is not ErrorIds.DeploymentLocked and not ErrorIds.DeploymentLockStale)
            {
                await _release.DiscardAsync(CancellationToken.None).ConfigureAwait(false);
            }

            return;
        }

        if (_switchVerified)
        {
            // The new version serves, verified through nginx: a failure while the previous slot drains (a stop, a
            // migration after it) or the releases are pruned does not switch back to a slot that may be stopping. The run
            // did not finish, so it is Failed, and says what serves.
            _result.VersionAfter = _liveRecord.Version;
            _result.CommitAfter = _liveRecord.Commit;
            _result.Error = _redactor.Redact($"The {_live} slot serves {_result.Source} (verified through nginx), but the end of the run failed: {_result.Error}");
            Reporting.Current.Warning($"{_target.Name}: {_result.Error} Check the {VaultTarget.Other(_live)} slot (Get-VaultTrafficState).");
            await _record.WriteAsync(_target, _shell, CancellationToken.None).ConfigureAwait(false);
            return;
        }

        if (_request.NoRollback)
        {
            Reporting.Current.Warning($"{_target.Name}: {_result.Error} -NoRollback was given: nginx is left as it is (check Get-VaultTrafficState).");
            return;
        }

        var back = _previousLive;
        Reporting.Current.Warning($"{_target.Name}: {_result.Error} Switching traffic back to the {back} slot.");
        await _run.JournalAsync("rollback", "start", detail: failure.ErrorId).ConfigureAwait(false);
        var watch = System.Diagnostics.Stopwatch.StartNew();
        try
        {
            var backRecord = _record.Of(back)!;
            var expectedBack = new ExpectedVersion(_result.VersionBefore, _result.CommitBefore, $"the {back} slot");
            await TrafficSwitch.SwitchAsync(_target, _shell, _record, back, expectedBack, cancellationToken).ConfigureAwait(false);
            var failed = VaultTarget.Other(back);
            _record = _record with { Live = back, SwitchedAt = DateTimeOffset.UtcNow };
            if (_record.Of(failed) is { } bad)
            {
                await _slots.StopAsync(failed, bad, _request.StopTimeout, cancellationToken).ConfigureAwait(false);
                _record = _record.With(failed, bad with { Failed = true });
            }

            await _record.WriteAsync(_target, _shell, cancellationToken).ConfigureAwait(false);
            _result.Status = DeploymentStatus.RolledBack;
            _result.ServesAsBefore();
            await _run.JournalAsync("rollback", "end", "Succeeded", $"nginx serves the {back} slot ({backRecord.Instance}) again", watch.Elapsed.TotalMilliseconds).ConfigureAwait(false);
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            await _run.RollbackFailedAsync(ex, cause => $"{failure.Message} Switching back failed too: {cause}",
                cause => $"SWITCHING BACK FAILED: {cause} Check what nginx serves now (Get-VaultTrafficState).", watch.Elapsed).ConfigureAwait(false);
        }
    }
}
