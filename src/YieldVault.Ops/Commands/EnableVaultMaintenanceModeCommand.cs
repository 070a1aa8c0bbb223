using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;
using YieldVault.Ops.Hosting;
using YieldVault.Ops.Hosts;
using YieldVault.Ops.Runbook;

namespace YieldVault.Ops.Commands;

/// <summary>Runbook 2.2: the MAINTENANCE_MODE flag file, or your own script block for a load balancer.</summary>
[Cmdlet(VerbsLifecycle.Enable, "VaultMaintenanceMode", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(VaultTarget))]
public sealed class EnableVaultMaintenanceModeCommand : VaultActionCmdlet
{
    /// <summary>Runs instead of the flag file, with the target as $_ / $args[0] (e.g. to drain a load balancer).</summary>
    [Parameter]
    public ScriptBlock? ScriptBlock { get; set; }

    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override string Action(VaultTarget target) =>
        ScriptBlock is null ? "Create " + RunbookOperations.MaintenanceFlag(target) : "Run the maintenance script block (on)";

    protected override void ProcessRecord()
    {
        if (ScriptBlock is not null && !IsWhatIf && ShouldProcess(Target.DisplayName, Action(Target)))
        {
            // Script blocks run here, on the pipeline thread, as PowerShell requires.
            ScriptBlock.InvokeWithContext(null, new System.Collections.Generic.List<PSVariable> { new("_", Target) }, Target);
            if (PassThru)
            {
                WriteObject(Target);
            }

            return;
        }

        if (ScriptBlock is null)
        {
            base.ProcessRecord();
        }
        else if (IsWhatIf)
        {
            ShouldProcess(Target.DisplayName, Action(Target));
        }
    }

    internal override async Task ProcessTargetAsync(VaultTarget target, IHostShell shell, PipelineMessages output, CancellationToken cancellationToken)
    {
        await RunbookOperations.SetMaintenanceAsync(target, shell, true, cancellationToken).ConfigureAwait(false);
        output.Verbose($"{target.Name}: maintenance mode on ({RunbookOperations.MaintenanceFlag(target)})");
        if (PassThru)
        {
            output.Output(target);
        }
    }
}
