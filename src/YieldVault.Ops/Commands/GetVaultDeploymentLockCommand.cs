using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;
using YieldVault.Ops.Hosting;
using YieldVault.Ops.Hosts;
using YieldVault.Ops.Runbook;

namespace YieldVault.Ops.Commands;

/// <summary>A target's deployment lock: who holds it, since when, when it was last refreshed, and whether it is stale. Nothing when no lock is held.</summary>
[Cmdlet(VerbsCommon.Get, "VaultDeploymentLock")]
[OutputType(typeof(VaultDeploymentLockInfo))]
public sealed class GetVaultDeploymentLockCommand : VaultTargetCmdlet
{
    internal override async Task ProcessTargetAsync(VaultTarget target, IHostShell shell, PipelineMessages output, CancellationToken cancellationToken)
    {
        if (await LockInspection.ReadAsync(target, shell, cancellationToken).ConfigureAwait(false) is { } held)
        {
            output.Output(held);
        }
        else
        {
            Reporting.Current.Verbose($"{target.Name}: no deployment lock is held ({DeploymentReadiness.LockPath(target)} does not exist).");
        }
    }
}
