using System;
using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;
using YieldVault.Ops.Hosting;
using YieldVault.Ops.Hosts;
using YieldVault.Ops.Probes;
using YieldVault.Ops.Services;

namespace YieldVault.Ops.Commands;

/// <summary>Runbook Step 6 (Restart): through the service manager, then (unless -NoWait) wait until healthy (6.2).</summary>
[Cmdlet(VerbsLifecycle.Restart, "VaultBackend", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(VaultHealthResult))]
public sealed class RestartVaultBackendCommand : VaultActionCmdlet
{
    private const int ProgressId = 3300;

    [Parameter]
    public SwitchParameter NoWait { get; set; }

    [Parameter]
    [ValidateRange(1, 3600)]
    public int TimeoutSec { get; set; } = 60;

    protected override string Action(VaultTarget target) => $"Restart {target.ServiceManager} service {target.ServiceName}";

    internal override async Task ProcessTargetAsync(VaultTarget target, IHostShell shell, PipelineMessages output, CancellationToken cancellationToken)
    {
        await ServiceManagers.For(target, shell).RestartAsync(cancellationToken).ConfigureAwait(false);
        if (NoWait)
        {
            return;
        }

        output.Output(await HealthWaiter.WaitAsync(target, shell, ready: true, TimeSpan.FromSeconds(TimeoutSec), TimeSpan.FromSeconds(1), ProgressId, cancellationToken).ConfigureAwait(false));
    }
}
