using System;
using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;
using YieldVault.Ops.Hosting;
using YieldVault.Ops.Hosts;
using YieldVault.Ops.Runbook;

namespace YieldVault.Ops.Commands;

/// <summary>Runbook Step 3: graceful stop, wait, verify the process is gone and the port free; -Force kills as a last resort.</summary>
[Cmdlet(VerbsLifecycle.Stop, "VaultBackend", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
[OutputType(typeof(VaultStopResult))]
public sealed class StopVaultBackendCommand : VaultActionCmdlet
{
    protected override bool TakesDeploymentLock => true;

    [Parameter]
    [ValidateRange(1, 600)]
    public int TimeoutSec { get; set; } = 30;

    /// <summary>Kill the process when the graceful stop does not end it in time; also skips the confirmation.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override bool SkipConfirmation => Force;

    protected override string Action(VaultTarget target) =>
        $"Stop {target.ServiceManager} service {target.ServiceName}" + (Force ? " (kill if it does not stop in " + TimeoutSec + " s)" : "");

    internal override async Task ProcessTargetAsync(VaultTarget target, IHostShell shell, PipelineMessages output, CancellationToken cancellationToken) =>
        output.Output(await BackendControl.StopAsync(target, shell, TimeSpan.FromSeconds(TimeoutSec), Force, cancellationToken).ConfigureAwait(false));
}
