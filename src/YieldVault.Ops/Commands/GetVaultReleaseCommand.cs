using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;
using YieldVault.Ops.Hosting;
using YieldVault.Ops.Hosts;
using YieldVault.Ops.Releases;

namespace YieldVault.Ops.Commands;

/// <summary>The releases on a target (oldest first) and which one is current.</summary>
[Cmdlet(VerbsCommon.Get, "VaultRelease")]
[OutputType(typeof(VaultRelease))]
public sealed class GetVaultReleaseCommand : VaultTargetCmdlet
{
    internal override async Task ProcessTargetAsync(VaultTarget target, IHostShell shell, PipelineMessages output, CancellationToken cancellationToken)
    {
        foreach (var release in await new ReleaseStore(target, shell).ListAsync(cancellationToken).ConfigureAwait(false))
        {
            output.Output(release);
        }
    }
}
