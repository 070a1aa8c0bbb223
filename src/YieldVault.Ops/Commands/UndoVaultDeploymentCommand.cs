using System;
using System.Collections.Generic;
using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;
using YieldVault.Ops.Hosting;
using YieldVault.Ops.Hosts;
using YieldVault.Ops.Runbook;

namespace YieldVault.Ops.Commands;

/// <summary>The runbook's Rollback Procedure: back to the previous (or a named) release by a link switch and a restart, verified.</summary>
[Cmdlet(VerbsCommon.Undo, "VaultDeployment", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High, DefaultParameterSetName = PreviousSet)]
[OutputType(typeof(VaultDeploymentResult), typeof(VaultRollResult))]
public sealed class UndoVaultDeploymentCommand : VaultRollCmdlet
{
    private const string PreviousSet = "Previous";
    private const string ReleaseSet = "Release";
    private const string BackupSet = "Backup";
    private readonly Dictionary<VaultTarget, RollbackPlan> _plans = new();
    private RollbackPlan? _plan;

    [Parameter(Mandatory = true, ParameterSetName = ReleaseSet)]
    [ValidatePattern("^[A-Za-z0-9][A-Za-z0-9._-]{0,127}\\z")]
    [ArgumentCompleter(typeof(DeploymentSourceCompleter))]
    public string Release { get; set; } = "";

    [Parameter(Mandatory = true, ParameterSetName = BackupSet)]
    [ValidateNotNull]
    public VaultBackupRecord Backup { get; set; } = null!;

    /// <summary>Also put back the env file saved in the backup.</summary>
    [Parameter(ParameterSetName = BackupSet)]
    public SwitchParameter RestoreEnvFile { get; set; }

    [Parameter]
    [ValidateRange(1, 600)]
    public int StopTimeoutSec { get; set; } = 30;

    [Parameter]
    [ValidateRange(1, 3600)]
    public int HealthTimeoutSec { get; set; } = 60;

    /// <summary>Blue-green: keep the slot traffic leaves running (by default it stops after -DrainSec).</summary>
    [Parameter]
    public SwitchParameter KeepPrevious { get; set; }

    /// <summary>Blue-green: seconds the slot traffic leaves keeps running after the switch before it stops.</summary>
    [Parameter]
    [ValidateRange(0, 3600)]
    public int DrainSec { get; set; } = 2;

    /// <summary>Skips the confirmation and clears a stale lock left by a dead run.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override bool SkipConfirmation => Force;

    protected override void Validate(VaultTarget target)
    {
        if (ParameterSetName == BackupSet && Backup.Release is null)
        {
            throw new VaultException(ErrorIds.BackupHasNoRelease, VaultErrorKind.InvalidArgument,
                $"The backup {Backup.Path} was taken before releases were managed; it names no release to go back to. Use -Release.");
        }

        // What to go back to, resolved now: the prompt names it, and a bad name fails before anything is asked.
        var request = new RollbackRequest
        {
            Release = ParameterSetName == ReleaseSet ? Release : null,
            Backup = ParameterSetName == BackupSet ? Backup : null,
            RestoreEnvFile = RestoreEnvFile,
            ClearStaleLock = Force,
            Force = Force,
            StopTimeout = TimeSpan.FromSeconds(StopTimeoutSec),
            HealthTimeout = TimeSpan.FromSeconds(HealthTimeoutSec),
            KeepPrevious = KeepPrevious,
            Drain = TimeSpan.FromSeconds(DrainSec),
        };
        var shell = Hosts.For(target);
        _plan = Run((_, token) => new RollbackRunner(target, shell, Redactor).PlanAsync(request, token, describe: WillShowAction));
        _plans[target] = _plan;
    }

    internal override Task<VaultRollResult> RollAsync(FleetRoll roll, IReadOnlyList<VaultTarget> targets, CancellationToken cancellationToken) =>
        roll.UndoAsync(targets, _plans, cancellationToken);

    protected override string Action(VaultTarget target) => $"Roll back {target.ServiceName} {_plan!.Description}";

    internal override async Task ProcessTargetAsync(VaultTarget target, IHostShell shell, PipelineMessages output, CancellationToken cancellationToken)
    {
        var result = await new RollbackRunner(target, shell, Redactor).RunAsync(_plan!, cancellationToken).ConfigureAwait(false);
        WriteOutcome(target, result, output);
    }

    internal override void WriteOutcome(VaultTarget target, VaultDeploymentResult result, PipelineMessages output) => WriteRollbackOutcome(target, result, output);

    /// <summary>A rollback's result, and its error when it did not succeed.</summary>
    internal static void WriteRollbackOutcome(VaultTarget target, VaultDeploymentResult result, PipelineMessages output)
    {
        if (result.Status != DeploymentStatus.Succeeded)
        {
            output.Error(ErrorRecords.Create(result.ErrorId ?? ErrorIds.RollbackFailed, ErrorCategory.InvalidOperation, result.Error ?? "The rollback failed.", target,
                "Check the backend now: Get-VaultBackendStatus, Get-VaultBackendLog -Level Error."));
        }

        output.Output(result);
    }
}
