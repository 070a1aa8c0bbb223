using System.Management.Automation;
using YieldVault.Ops.Hosting;

namespace YieldVault.Ops.Commands;

/// <summary>Runbook 9.1: maintenance mode off (flag file or script block).</summary>
[Cmdlet(VerbsLifecycle.Disable, "VaultMaintenanceMode", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(VaultTarget))]
public sealed class DisableVaultMaintenanceModeCommand : MaintenanceModeCmdlet
{
    protected override bool TurnOn => false;
}
