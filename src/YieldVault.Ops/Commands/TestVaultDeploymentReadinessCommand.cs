using System;
using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;
using YieldVault.Ops.Hosting;
using YieldVault.Ops.Hosts;
using YieldVault.Ops.Runbook;

namespace YieldVault.Ops.Commands;

/// <summary>The runbook's pre-deployment checklist, one result per check.</summary>
[Cmdlet(VerbsDiagnostic.Test, "VaultDeploymentReadiness")]
[OutputType(typeof(VaultReadinessCheck))]
public sealed class TestVaultDeploymentReadinessCommand : VaultTargetCmdlet
{
    [Parameter]
    [ValidateRange(0, 10_000_000)]
    public double MinimumFreeMB { get; set; } = 1024;

    [Parameter]
    [ValidateRange(1, 600)]
    public int TimeoutSec { get; set; } = 30;

    internal override async Task ProcessTargetAsync(VaultTarget target, IHostShell shell, PipelineMessages output, CancellationToken cancellationToken)
    {
        var checks = await DeploymentReadiness.CheckAsync(target, shell, Redactor, MinimumFreeMB, TimeSpan.FromSeconds(TimeoutSec), cancellationToken).ConfigureAwait(false);
        foreach (var check in checks)
        {
            output.Output(check);
        }
    }
}
