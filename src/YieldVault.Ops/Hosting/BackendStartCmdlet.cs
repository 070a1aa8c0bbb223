using System;
using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;
using YieldVault.Ops.Hosts;
using YieldVault.Ops.Probes;
using YieldVault.Ops.Services;

namespace YieldVault.Ops.Hosting;

/// <summary>Runbook Step 6: start (or restart) through the service manager, then (unless -NoWait) wait until healthy (6.2).</summary>
public abstract class BackendStartCmdlet : VaultActionCmdlet
{
    protected override bool TakesDeploymentLock => true;

    private const int ProgressId = 3300;

    [Parameter]
    public SwitchParameter NoWait { get; set; }

    [Parameter]
    [ValidateRange(1, 3600)]
    public int TimeoutSec { get; set; } = 60;

    /// <summary>"Start" or "Restart".</summary>
    protected abstract string Verb { get; }

    protected abstract Task ActAsync(IServiceManager manager, CancellationToken cancellationToken);

    protected override string Action(VaultTarget target) => $"{Verb} {target.ServiceManager} service {target.ServiceName}";

    internal override async Task ProcessTargetAsync(VaultTarget target, IHostShell shell, PipelineMessages output, CancellationToken cancellationToken)
    {
        await ActAsync(ServiceManagers.For(target, shell), cancellationToken).ConfigureAwait(false);
        if (!NoWait)
        {
            output.Output(await HealthWaiter.WaitAsync(target, shell, ready: true, TimeSpan.FromSeconds(TimeoutSec), TimeSpan.FromSeconds(1), ProgressId, cancellationToken).ConfigureAwait(false));
        }
    }
}
