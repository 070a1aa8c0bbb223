using System;
using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;
using YieldVault.Ops.Hosting;
using YieldVault.Ops.Hosts;
using YieldVault.Ops.Runbook;

namespace YieldVault.Ops.Commands;

/// <summary>The runbook's "switch load balancer": nginx sends the traffic of a blue-green target to one slot, verified through nginx.</summary>
[Cmdlet(VerbsCommon.Switch, "VaultTraffic", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
[OutputType(typeof(VaultDeploymentResult))]
public sealed class SwitchVaultTrafficCommand : VaultActionCmdlet
{
    private string? _description;

    /// <summary>The slot to send the traffic to; it must run and answer healthy with the version recorded for it.</summary>
    [Parameter(Mandatory = true)]
    public TrafficSlot To { get; set; }

    /// <summary>Start the slot first when it does not run (its instance as recorded, from its own release or image).</summary>
    [Parameter]
    public SwitchParameter Start { get; set; }

    /// <summary>Stop the slot traffic left, after -DrainSec (default: it keeps running, warm).</summary>
    [Parameter]
    public SwitchParameter StopPrevious { get; set; }

    [Parameter]
    [ValidateRange(0, 3600)]
    public int DrainSec { get; set; } = 2;

    [Parameter]
    [ValidateRange(1, 3600)]
    public int HealthTimeoutSec { get; set; } = 30;

    /// <summary>Skips the confirmation and clears a stale lock left by a dead run.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override bool SkipConfirmation => Force;

    protected override void Validate(VaultTarget target)
    {
        var shell = Hosts.For(target);
        _description = Run((_, token) => new SlotSwitchRunner(target, shell, Redactor).DescribeAsync(Request(), token));
    }

    protected override string Action(VaultTarget target) => $"Switch nginx's traffic for {target.ServiceName} {_description}";

    internal override async Task ProcessTargetAsync(VaultTarget target, IHostShell shell, PipelineMessages output, CancellationToken cancellationToken)
    {
        var result = await new SlotSwitchRunner(target, shell, Redactor).RunAsync(Request(), cancellationToken).ConfigureAwait(false);
        if (result.Status != DeploymentStatus.Succeeded)
        {
            output.Error(ErrorRecords.Create(result.ErrorId ?? ErrorIds.ProxySwitchFailed, ErrorCategory.InvalidOperation, result.Error ?? "The switch failed.", target,
                "Check what nginx serves now: Get-VaultTrafficState."));
        }

        output.Output(result);
    }

    private SlotSwitchRequest Request() => new()
    {
        To = To,
        StartIfStopped = Start,
        StopOther = StopPrevious,
        Drain = TimeSpan.FromSeconds(DrainSec),
        HealthTimeout = TimeSpan.FromSeconds(HealthTimeoutSec),
        ClearStaleLock = Force,
        Kind = DeploymentRecords.SwitchKind,
    };
}
