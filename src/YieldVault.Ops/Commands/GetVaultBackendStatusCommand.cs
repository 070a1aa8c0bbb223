using System;
using System.Collections.Concurrent;
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

    // Per call and per connection: targets on one server that ask the same thing (pm2 jlist of one PM2_HOME, ss of one
    // port) share one run of it. Only read-only commands go through here; each target's HTTP probes stay its own.
    private readonly ConcurrentDictionary<IHostShell, CoalescingShell> _coalescing = new();

    protected override int Throttle => ThrottleLimit;

    internal override async Task ProcessTargetAsync(VaultTarget target, IHostShell shell, PipelineMessages output, CancellationToken cancellationToken)
    {
        output.Verbose($"Reading the {target.ServiceManager} service '{target.ServiceName}', health and version of {target.DisplayName}");
        var coalescing = _coalescing.GetOrAdd(shell, s => new CoalescingShell(s));
        var status = await BackendStatusReader.ReadAsync(target, coalescing, Detailed.IsPresent, TimeSpan.FromSeconds(TimeoutSec), cancellationToken).ConfigureAwait(false);
        foreach (var problem in status.Problems)
        {
            output.Verbose($"{target.Name}: {problem}");
        }

        output.Output(status);
    }
}
