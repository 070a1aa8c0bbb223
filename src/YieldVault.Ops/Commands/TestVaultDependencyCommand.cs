using System;
using System.Linq;
using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;
using YieldVault.Ops.Hosting;
using YieldVault.Ops.Hosts;
using YieldVault.Ops.Probes;

namespace YieldVault.Ops.Commands;

/// <summary>Checks the backend's PostgreSQL (DATABASE_URL) and Stellar RPC (STELLAR_RPC_URL) from where it runs.</summary>
[Cmdlet(VerbsDiagnostic.Test, "VaultDependency")]
[OutputType(typeof(VaultDependencyResult))]
public sealed class TestVaultDependencyCommand : VaultTargetCmdlet
{
    [Parameter]
    [ValidateSet(DependencyProbe.Database, DependencyProbe.StellarRpc)]
    public string[] Name { get; set; } = { DependencyProbe.Database, DependencyProbe.StellarRpc };

    [Parameter]
    [ValidateRange(1, 120)]
    public int TimeoutSec { get; set; } = 5;

    internal override async Task ProcessTargetAsync(VaultTarget target, IHostShell shell, PipelineMessages output, CancellationToken cancellationToken)
    {
        var names = Name.Select(n => n.Equals(DependencyProbe.Database, StringComparison.OrdinalIgnoreCase) ? DependencyProbe.Database : DependencyProbe.StellarRpc).ToList();
        var results = await DependencyProbe.CheckAsync(target, shell, Redactor, names, TimeSpan.FromSeconds(TimeoutSec), cancellationToken).ConfigureAwait(false);
        foreach (var result in results)
        {
            output.Output(result);
        }
    }
}
