using System.Management.Automation;
using YieldVault.Ops.Hosting;

namespace YieldVault.Ops.Commands;

/// <summary>Runbook 2.2: maintenance mode on (flag file or script block).</summary>
[Cmdlet(VerbsLifecycle.Enable, "VaultMaintenanceMode", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(VaultTarget))]
public sealed class EnableVaultMaintenanceModeCommand : MaintenanceModeCmdlet
{
    protected override bool TurnOn => true;
}
