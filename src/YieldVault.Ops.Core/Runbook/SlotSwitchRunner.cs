using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using Newtonsoft.Json.Linq;
using YieldVault.Ops.Hosts;
using YieldVault.Ops.Probes;
using YieldVault.Ops.Proxies;
using YieldVault.Ops.Services;

namespace YieldVault.Ops.Runbook;

/// <summary>What a switch between the slots of a blue-green target is asked to do.</summary>
public sealed class SlotSwitchRequest
{
    /// <summary>The slot to send traffic to; null: the other one (a rollback).</summary>
    public TrafficSlot? To { get; init; }

    /// <summary>Start the slot when it does not run (a rollback); otherwise a slot that does not run is refused.</summary>
    public bool StartIfStopped { get; init; }

    /// <summary>Stop the slot traffic left, after <see cref="Drain"/> (a rollback, unless -KeepPrevious).</summary>
    public bool StopOther { get; init; }

    public TimeSpan Drain { get; init; } = TimeSpan.FromSeconds(2);

    public bool ClearStaleLock { get; init; }

    public TimeSpan StopTimeout { get; init; } = TimeSpan.FromSeconds(30);

    public TimeSpan HealthTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>"rollback" (Undo-VaultDeployment) or "switch" (Switch-VaultTraffic), for the records.</summary>
    public string Kind { get; init; } = DeploymentRecords.SwitchKind;
}

/// <summary>
/// The runbook's blue-green rollback ("switch the load balancer back") and Switch-VaultTraffic, as one run on the engine:
/// lock and journal; the slot to go to checked on its own port (started first, for a rollback, when it is not warm);
/// nginx switched and verified; the slot traffic left stopped after the drain (a rollback) or kept running. A warm slot
/// makes the rollback one switch: no start, no stop before the users see the previous version.
/// </summary>
public sealed class SlotSwitchRunner
{
    private const int ProgressId = 3700;
    private readonly VaultTarget _target;
    private readonly IHostShell _shell;
    private readonly SecretRedactor _redactor;
    private readonly SlotInstances _slots;

    public SlotSwitchRunner(VaultTarget target, IHostShell shell, SecretRedactor redactor)
    {
        _target = target ?? throw new ArgumentNullException(nameof(target));
        _shell = shell ?? throw new ArgumentNullException(nameof(shell));
        _redactor = redactor ?? throw new ArgumentNullException(nameof(redactor));
        if (target.Proxy == ProxyKind.None)
        {
            throw new VaultException(ErrorIds.ProxyNotConfigured, VaultErrorKind.InvalidArgument,
                $"{target.DisplayName} has no proxy in front of it, so it has no slots to switch between.", "Give the target Proxy = 'Nginx' (and its slot ports).");
        }

        _slots = SlotInstances.For(target, shell);
    }

    /// <summary>What the switch would do, for the prompt: "from green (1.3.0) to blue (1.2.3, warm)". Changes nothing.</summary>
    public async Task<string> DescribeAsync(SlotSwitchRequest request, CancellationToken cancellationToken)
    {
        var (live, record, _) = await TrafficSwitch.ReadLiveAsync(_target, _shell, _slots, cancellationToken).ConfigureAwait(false);
        var to = request.To ?? VaultTarget.Other(live);
        var toRecord = record.Of(to);
        return $"from the {live} slot ({record.Of(live)?.Release ?? "the running version"}) to the {to} slot ({toRecord?.Release ?? "nothing recorded"})";
    }

    public async Task<VaultDeploymentResult> RunAsync(SlotSwitchRequest request, CancellationToken cancellationToken)
    {
        var result = new VaultDeploymentResult
        {
            Target = _target, RunId = DeploymentJournal.NewRunId(DateTimeOffset.UtcNow), Kind = request.Kind, StartedAt = DateTimeOffset.UtcNow,
            Source = request.To is { } named ? named.ToString() : "the previous slot",
            Steps = new List<VaultDeploymentStep>
            {
                new() { Number = 1, Name = "Lock and journal", Runbook = "-" },
                new() { Number = 2, Name = "Check the slot to switch to", Runbook = "Blue-Green", Target = TimeSpan.FromMinutes(2) },
                new() { Number = 3, Name = "Switch traffic", Runbook = "Blue-Green 2", Target = TimeSpan.FromMinutes(1) },
                new() { Number = 4, Name = "Drain and stop the other slot", Runbook = "Blue-Green 3", Target = TimeSpan.FromMinutes(2) },
            },
        };
        var run = new RunbookRun(_target, _shell, _redactor, result, ProgressId, $"Switching traffic of {_target.Name}");
        await run.StartProberAsync(TimeSpan.FromMilliseconds(25), cancellationToken, _target.ProxyPort).ConfigureAwait(false);
        var live = TrafficSlot.Blue;
        var to = TrafficSlot.Green;
        var record = TrafficRecord.Empty;
        SlotRecord toRecord = new("", null, null, null, null, null);
        var expected = ExpectedVersion.Unknown("the slot");
        var reloaded = false;
        return await run.ExecuteAsync(async () =>
        {
            await run.StepAsync(1, async () => await run.LockAsync(request.ClearStaleLock, $"{request.Kind}: switch traffic", async () =>
            {
                // Read under the lock: a deployment may have switched since the prompt.
                (live, record, var liveRecord) = await TrafficSwitch.ReadLiveAsync(_target, _shell, _slots, cancellationToken).ConfigureAwait(false);
                record = record.With(live, liveRecord);
                to = request.To ?? VaultTarget.Other(live);
                var before = await VersionProbe.GetAsync(_slots.SlotTarget(live, liveRecord), _shell, TimeSpan.FromSeconds(3), cancellationToken).ConfigureAwait(false);
                result.VersionBefore = before.Version;
                result.CommitBefore = before.Commit;
                result.ReleaseBefore = liveRecord.Release;
                if (to == live)
                {
                    return new JObject { ["live"] = live.ToString(), ["to"] = to.ToString(), ["noop"] = true };
                }

                toRecord = record.Of(to) is { Failed: false } usable
                    ? usable
                    : throw new VaultException(ErrorIds.NoPreviousSlot, VaultErrorKind.ObjectNotFound,
                        record.Of(to) is null
                            ? $"{_target.DisplayName}: the {to} slot (port {_target.SlotPort(to)}) has never been given a version, so there is nothing to switch to. Nothing was changed."
                            : $"{_target.DisplayName}: the version in the {to} slot ({record.Of(to)!.Release}) failed its deployment; traffic does not go there. Nothing was changed.",
                        "Deploy a known good version with Invoke-VaultDeployment instead.");
                result.ReleaseAfter = toRecord.Release;
                expected = new ExpectedVersion(toRecord.Version, toRecord.Commit, $"the {to} slot ({toRecord.Release ?? toRecord.Instance})");
                return new JObject { ["live"] = live.ToString(), ["to"] = to.ToString(), ["releaseBefore"] = result.ReleaseBefore, ["releaseAfter"] = result.ReleaseAfter };
            }, cancellationToken).ConfigureAwait(false), cancellationToken).ConfigureAwait(false);

            if (to == live)
            {
                result.ServesAsBefore();
                result.Status = DeploymentStatus.Succeeded;
                Reporting.Current.Warning($"{_target.Name}: the {to} slot is already live; nothing to switch.");
                return;
            }

            await run.StepAsync(2, async () =>
            {
                var slotTarget = _slots.SlotTarget(to, toRecord);
                var started = false;

                // A warm slot answers healthy on its own port: that proves it runs, without asking its service manager
                // (a pm2 jlist is a node start-up, most of a warm switch's time).
                var quick = await HealthProbe.CheckAsync(slotTarget, _shell, checkReady: true, TimeSpan.FromSeconds(2), cancellationToken).ConfigureAwait(false);
                if (!quick.Healthy)
                {
                    var state = await _slots.GetStateAsync(to, toRecord, cancellationToken).ConfigureAwait(false);
                    if (state.Status != ServiceStatus.Running)
                    {
                        if (!request.StartIfStopped)
                        {
                            throw new VaultException(ErrorIds.SlotNotRunning, VaultErrorKind.InvalidOperation,
                                $"{_target.DisplayName}: the {to} slot ({toRecord.Instance}, port {slotTarget.Port}) is {state.Status}; traffic only goes to a slot that runs. Nothing was changed.",
                                "Give Switch-VaultTraffic -Start to start it first, or use Undo-VaultDeployment, which starts it.");
                        }

                        await _slots.StartAsync(to, toRecord, cancellationToken).ConfigureAwait(false);
                        started = true;
                    }
                }

                var (health, version) = await BackendVerification.WaitServingAsync(slotTarget, _shell, request.HealthTimeout, ProgressId + 1, cancellationToken).ConfigureAwait(false);
                expected.Check(_target, version);
                result.VersionAfter = version.Version;
                result.CommitAfter = version.Commit;
                return (started ? $"started {toRecord.Instance}; " : $"{toRecord.Instance} was running (warm); ") + BackendVerification.Describe(health, version) + $" on port {slotTarget.Port}";
            }, cancellationToken).ConfigureAwait(false);

            await run.StepAsync(3, async () => await TrafficSwitch.SwitchAsync(_target, _shell, record, to, expected, cancellationToken, () => reloaded = true).ConfigureAwait(false),
                cancellationToken).ConfigureAwait(false);
            record = record with { Live = to, SwitchedAt = DateTimeOffset.UtcNow };

            await run.StepAsync(4, async () =>
            {
                if (!request.StopOther)
                {
                    return null;
                }

                await Task.Delay(request.Drain, cancellationToken).ConfigureAwait(false);
                return await _slots.StopAsync(live, record.Of(live)!, request.StopTimeout, cancellationToken).ConfigureAwait(false) + $" after a {request.Drain.TotalSeconds:0} s drain";
            }, cancellationToken).ConfigureAwait(false);
            result.Status = DeploymentStatus.Succeeded;
        }, async (failure, token) =>
        {
            // nginx reloaded with the new upstream but the check through it failed; the slot it was to leave still runs:
            // send traffic back there. (A failed nginx -t put the previous file back and reloaded nothing.)
            if (reloaded && (result.Steps[2].Outcome == StepOutcome.Failed || failure.ErrorId == ErrorIds.Cancelled))
            {
                Reporting.Current.Warning($"{_target.Name}: {result.Error} Switching traffic back to the {live} slot.");
                try
                {
                    await TrafficSwitch.SwitchAsync(_target, _shell, record, live, new ExpectedVersion(result.VersionBefore, result.CommitBefore, $"the {live} slot"), token)
                        .ConfigureAwait(false);

                    // Verified through nginx: the slot that served before serves again (as a blue-green deployment's switch back).
                    result.Status = DeploymentStatus.RolledBack;
                    result.ServesAsBefore();
                }
                catch (VaultException ex)
                {
                    Reporting.Current.Warning($"{_target.Name}: SWITCHING BACK FAILED: {_redactor.Redact(ex.Message)} Check what nginx serves now (Get-VaultTrafficState).");
                }
            }
            else if (result.Steps[3].Outcome == StepOutcome.Failed)
            {
                // The new slot serves, verified; only the stop of the other one failed.
                result.Status = DeploymentStatus.Succeeded;
                Reporting.Current.Warning($"{_target.Name}: the {to} slot serves, but stopping the {live} slot failed: {result.Error}");
            }
        }, cancellationToken, () => reloaded && result.Steps[2].Outcome != StepOutcome.Succeeded,
            () => $"Ctrl+C after nginx's reload, before it was verified: switching traffic back to the {live} slot first").ConfigureAwait(false);
    }
}
