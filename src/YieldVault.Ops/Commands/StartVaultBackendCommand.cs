using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;
using YieldVault.Ops.Hosting;
using YieldVault.Ops.Services;

namespace YieldVault.Ops.Commands;

/// <summary>Runbook Step 6: start the backend through its service manager and wait until healthy.</summary>
[Cmdlet(VerbsLifecycle.Start, "VaultBackend", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(VaultHealthResult))]
public sealed class StartVaultBackendCommand : BackendStartCmdlet
{
    protected override string Verb => "Start";

    protected override Task ActAsync(IServiceManager manager, CancellationToken cancellationToken) => manager.StartAsync(cancellationToken);
}
