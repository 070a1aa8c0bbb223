using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;
using YieldVault.Ops.Hosting;
using YieldVault.Ops.Hosts;
using YieldVault.Ops.Proxies;

namespace YieldVault.Ops.Commands;

/// <summary>Which slot of a blue-green target nginx serves, which one is warm, and the version each runs.</summary>
[Cmdlet(VerbsCommon.Get, "VaultTrafficState")]
[OutputType(typeof(VaultTrafficState))]
public sealed class GetVaultTrafficStateCommand : VaultTargetCmdlet
{
    internal override async Task ProcessTargetAsync(VaultTarget target, IHostShell shell, PipelineMessages output, CancellationToken cancellationToken) =>
        output.Output(await TrafficStateReader.ReadAsync(target, shell, cancellationToken).ConfigureAwait(false));
}
