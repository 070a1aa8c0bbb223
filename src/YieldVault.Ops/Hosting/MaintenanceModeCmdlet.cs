using System.Collections.Generic;
using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;
using YieldVault.Ops.Hosts;
using YieldVault.Ops.Runbook;

namespace YieldVault.Ops.Hosting;

/// <summary>
/// Runbook 2.2 and 9.1: the MAINTENANCE_MODE flag file in the running release, or the operator's own script
/// block (e.g. for a load balancer). Enable and Disable differ only in the direction.
/// </summary>
public abstract class MaintenanceModeCmdlet : VaultActionCmdlet
{
    protected override bool TakesDeploymentLock => true;

    /// <summary>Runs instead of the flag file, with the target as $_ and $args[0].</summary>
    [Parameter]
    public ScriptBlock? ScriptBlock { get; set; }

    [Parameter]
    public SwitchParameter PassThru { get; set; }

    /// <summary>True for Enable, false for Disable.</summary>
    protected abstract bool TurnOn { get; }

    protected override string Action(VaultTarget target) =>
        ScriptBlock is not null
            ? $"Run the maintenance script block ({(TurnOn ? "on" : "off")})"
            : (TurnOn ? "Create " : "Remove ") + MaintenanceFlag.PathOf(target);

    protected override void ProcessRecord()
    {
        if (ScriptBlock is null)
        {
            base.ProcessRecord();
            return;
        }

        if (IsWhatIf)
        {
            ShouldProcess(Target.DisplayName, Action(Target));
            return;
        }

        if (ShouldProcess(Target.DisplayName, Action(Target)))
        {
            // Script blocks run here, on the pipeline thread, as PowerShell requires.
            ScriptBlock.InvokeWithContext(null, new List<PSVariable> { new("_", Target) }, Target);
            if (PassThru)
            {
                WriteObject(Target);
            }
        }
    }

    internal override async Task ProcessTargetAsync(VaultTarget target, IHostShell shell, PipelineMessages output, CancellationToken cancellationToken)
    {
        await MaintenanceFlag.SetAsync(target, shell, TurnOn, cancellationToken).ConfigureAwait(false);
        output.Verbose($"{target.Name}: maintenance mode {(TurnOn ? "on" : "off")} ({MaintenanceFlag.PathOf(target)})");
        if (PassThru)
        {
            output.Output(target);
        }
    }
}
