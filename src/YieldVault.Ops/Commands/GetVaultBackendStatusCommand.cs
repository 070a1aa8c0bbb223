using System;
using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;
using YieldVault.Ops.Hosting;
using YieldVault.Ops.Hosts;
using YieldVault.Ops.Probes;

namespace YieldVault.Ops.Commands;

/// <summary>Runbook Step 1 in one call: service state, health, readiness, version, connections (and resources with -Detailed).</summary>
[Cmdlet(VerbsCommon.Get, "VaultBackendStatus")]
[OutputType(typeof(VaultBackendStatus))]
public sealed class GetVaultBackendStatusCommand : VaultTargetCmdlet
{
    [Parameter]
    public SwitchParameter Detailed { get; set; }

    [Parameter]
    [ValidateRange(1, 64)]
    public int ThrottleLimit { get; set; } = 8;

    [Parameter]
    [ValidateRange(1, 600)]
    public int TimeoutSec { get; set; } = 10;

    protected override int Throttle => ThrottleLimit;

    internal override async Task ProcessTargetAsync(VaultTarget target, IHostShell shell, PipelineMessages output, CancellationToken cancellationToken)
    {
        output.Verbose($"Reading the {target.ServiceManager} service '{target.ServiceName}', health and version of {target.DisplayName}");
        var status = await BackendStatusReader.ReadAsync(target, shell, Detailed.IsPresent, TimeSpan.FromSeconds(TimeoutSec), cancellationToken).ConfigureAwait(false);
        foreach (var problem in status.Problems)
        {
            output.Verbose($"{target.Name}: {problem}");
        }

        output.Output(status);
    }
}
