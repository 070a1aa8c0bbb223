using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using YieldVault.Ops.Hosts;
using YieldVault.Ops.Services;

namespace YieldVault.Ops.Runbook;

/// <summary>
/// Undo-VaultDeployment: the runbook's Rollback Procedure as one run on the engine (<see cref="RunbookRun"/>): lock and
/// journal, stop, put the previous version back (the strategy the target's kind calls for), start, and verify it
/// serves the version it was. Core picks the strategy; the caller only says what to go back to.
/// </summary>
public sealed class RollbackRunner
{
    private const int ProgressId = 3200;
    private readonly VaultTarget _target;
    private readonly IHostShell _shell;
    private readonly SecretRedactor _redactor;

    public RollbackRunner(VaultTarget target, IHostShell shell, SecretRedactor redactor)
    {
        _target = target ?? throw new ArgumentNullException(nameof(target));
        _shell = shell ?? throw new ArgumentNullException(nameof(shell));
        _redactor = redactor ?? throw new ArgumentNullException(nameof(redactor));
    }

    /// <summary>Checks the request and resolves what the rollback goes back to, before anything is asked or changed.</summary>
    /// <param name="describe">Whether the plan must name the slots for a prompt (a blue-green rollback reads the host for that).</param>
    public async Task<RollbackPlan> PlanAsync(RollbackRequest request, CancellationToken cancellationToken, bool describe = true)
    {
        await CheckMigrationsAsync(request, cancellationToken).ConfigureAwait(false);
        if (_target.Proxy != ProxyKind.None)
        {
            if (request.Release is not null || request.Backup is not null)
            {
                throw new VaultException(ErrorIds.BlueGreenUndoPreviousOnly, VaultErrorKind.InvalidArgument,
                    $"{_target.DisplayName} is a blue-green target: a rollback switches traffic back to the other slot; -Release and -Backup do not apply.",
                    "Run Undo-VaultDeployment without -Release/-Backup, or deploy the version you want with Invoke-VaultDeployment.");
            }

            // Without a prompt, the run reads what to switch to under its lock anyway: no round trip before it.
            return new RollbackPlan(request, describe
                ? "by switching traffic " + await new SlotSwitchRunner(_target, _shell, _redactor).DescribeAsync(SwitchBack(request), cancellationToken).ConfigureAwait(false)
                : "by switching traffic back to the other slot");
        }

        return _target.ServiceManager switch
        {
            ServiceManagerKind.Docker => await ContainerRollback.PlanAsync(_target, _shell, request, cancellationToken).ConfigureAwait(false),
            ServiceManagerKind.Swarm => await SwarmRollbackRunner.PlanAsync(_target, _shell, request, cancellationToken).ConfigureAwait(false),
            _ => await ReleaseRollback.PlanAsync(_target, _shell, request, cancellationToken).ConfigureAwait(false),
        };
    }

    // The deployment being undone (the newest that succeeded) applied migrations: the code going back predates them and
    // may not run on the migrated schema. The runbook leaves that to luck; here it needs -Force.
    private async Task CheckMigrationsAsync(RollbackRequest request, CancellationToken cancellationToken)
    {
        IReadOnlyList<VaultDeploymentRecord> history;
        try
        {
            history = await DeploymentRecords.ReadAsync(_target, _shell, cancellationToken).ConfigureAwait(false);
        }
        catch (VaultException ex) when (!ex.IsConnectionFailure)
        {
            return;
        }

        var last = history.Where(r => r.Kind == DeploymentRecords.DeployKind && r.Status == DeploymentStatus.Succeeded).OrderByDescending(r => r.EndedAt).FirstOrDefault();
        if (last is not { MigrationsApplied: true })
        {
            return;
        }

        var what = $"{_target.DisplayName}: the deployment of {last.Source} ({last.EndedAt:yyyy-MM-dd HH:mm} UTC) applied database migrations; the version going back ({last.VersionBefore ?? last.ReleaseBefore ?? "the previous one"}) predates them and may not run on the migrated schema";
        if (!request.Force)
        {
            throw new VaultException(ErrorIds.RollbackPredatesMigrations, VaultErrorKind.InvalidOperation, what + ". Nothing was changed.",
                "Check that the migrations are backward compatible (or run the migration tool's down migration), then run Undo-VaultDeployment again with -Force.");
        }

        Reporting.Current.Warning(what + " (-Force given: rolling back anyway).");
    }

    private static SlotSwitchRequest SwitchBack(RollbackRequest request) => new()
    {
        StartIfStopped = true, StopOther = !request.KeepPrevious, Drain = request.Drain, ClearStaleLock = request.ClearStaleLock,
        StopTimeout = request.StopTimeout, HealthTimeout = request.HealthTimeout, Kind = DeploymentRecords.RollbackKind,
    };

    public async Task<VaultDeploymentResult> RunAsync(RollbackPlan plan, CancellationToken cancellationToken)
    {
        if (plan is null)
        {
            throw new ArgumentNullException(nameof(plan));
        }

        if (_target.Proxy != ProxyKind.None)
        {
            // Blue-green: the previous version is the other slot; going back is a switch (and a start when it is cold).
            return await new SlotSwitchRunner(_target, _shell, _redactor).RunAsync(SwitchBack(plan.Request), cancellationToken).ConfigureAwait(false);
        }

        if (_target.ServiceManager == ServiceManagerKind.Swarm)
        {
            // Swarm: the engine's own rollback to the service's previous spec; it stops and starts the tasks itself.
            return await new SwarmRollbackRunner(_target, _shell, _redactor).RunAsync(plan, cancellationToken).ConfigureAwait(false);
        }

        IRollbackStrategy strategy = _target.ServiceManager == ServiceManagerKind.Docker
            ? new ContainerRollback(_target, _shell)
            : new ReleaseRollback(_target, _shell, plan);
        var request = plan.Request;
        var result = new VaultDeploymentResult
        {
            Target = _target, RunId = DeploymentJournal.NewRunId(DateTimeOffset.UtcNow), Kind = DeploymentRecords.RollbackKind, RollId = request.RollId,
            Source = plan.Release ?? new DockerContainerNames(_target.ServiceName).Previous, StartedAt = DateTimeOffset.UtcNow,
            ReleaseBefore = plan.Current, ReleaseAfter = plan.Release,
            Steps = new List<VaultDeploymentStep>
            {
                new() { Number = 1, Name = "Lock and journal", Runbook = "-" },
                new() { Number = 2, Name = "Stop current service", Runbook = "Step 3", Target = TimeSpan.FromMinutes(2) },
                new() { Number = 3, Name = "Switch and start previous version", Runbook = strategy.Runbook, Target = TimeSpan.FromMinutes(2) },
                new() { Number = 4, Name = "Verify deployment", Runbook = "Step 7", Target = TimeSpan.FromMinutes(5) },
            },
        };
        var before = await Probes.VersionProbe.GetAsync(_target, _shell, TimeSpan.FromSeconds(3), cancellationToken).ConfigureAwait(false);
        result.VersionBefore = before.Version;
        result.CommitBefore = before.Commit;
        var run = new RunbookRun(_target, _shell, _redactor, result, ProgressId, $"Rolling back {_target.Name}");
        await run.StartProberAsync(TimeSpan.FromMilliseconds(25), cancellationToken).ConfigureAwait(false);
        var expected = ExpectedVersion.Unknown(plan.Release ?? "the previous version");
        var stopped = false;
        var serving = false;
        return await run.ExecuteAsync(async () =>
        {
            await run.StepAsync(1, async () =>
            {
                // What to go back to is read under the lock: a deployment may have changed it since the prompt.
                var lockPath = await run.LockAsync(request.ClearStaleLock, $"rollback {plan.Description}", async () =>
                {
                    expected = await strategy.ResolveAsync(result, cancellationToken).ConfigureAwait(false);
                    return new Newtonsoft.Json.Linq.JObject { ["releaseBefore"] = result.ReleaseBefore, ["versionBefore"] = before.Version, ["commitBefore"] = before.Commit };
                }, cancellationToken).ConfigureAwait(false);
                return lockPath;
            }, cancellationToken).ConfigureAwait(false);

            stopped = true;
            await run.StepAsync(2, async () => await BackendVerification.StopIfRunningAsync(_target, _shell, request.StopTimeout, cancellationToken).ConfigureAwait(false),
                cancellationToken).ConfigureAwait(false);

            await run.StepAsync(3, async () =>
            {
                var switched = await strategy.SwitchAsync(cancellationToken).ConfigureAwait(false);
                await ServiceManagers.For(_target, _shell).StartAsync(cancellationToken).ConfigureAwait(false);
                return switched + "; started";
            }, cancellationToken).ConfigureAwait(false);

            await run.StepAsync(4, () => BackendVerification.VerifyRolledBackAsync(_target, _shell, request.HealthTimeout, ProgressId + 1, result, expected,
                () => serving = true, cancellationToken), cancellationToken).ConfigureAwait(false);
            result.Status = DeploymentStatus.Succeeded;
        }, (failure, token) => failure.ErrorId == ErrorIds.Cancelled ? StartWhateverIsThereAsync(result, token) : Task.CompletedTask, cancellationToken,
            () => stopped && !serving).ConfigureAwait(false);
    }

    // Ctrl+C after the stop: the service starts with what its link or name points to now (the previous version when the
    // switch happened, the version rolled back from when it did not): either serves; nothing stays down.
    private async Task StartWhateverIsThereAsync(VaultDeploymentResult result, CancellationToken cancellationToken)
    {
        await ServiceManagers.For(_target, _shell).StartAsync(cancellationToken).ConfigureAwait(false);
        var (_, version) = await BackendVerification.WaitServingAsync(_target, _shell, TimeSpan.FromSeconds(60), ProgressId + 2, cancellationToken).ConfigureAwait(false);
        result.VersionAfter = version.Version;
        result.CommitAfter = version.Commit;
        result.Error += $" It serves {version.Version ?? "a version"} again.";
        result.ServesAfterCancel = true;
    }
}
