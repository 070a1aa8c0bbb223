using System;
using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;
using YieldVault.Ops.Hosting;
using YieldVault.Ops.Hosts;
using YieldVault.Ops.Probes;

namespace YieldVault.Ops.Commands;

/// <summary>Waits until the backend answers healthy (runbook 6.2), polling fast at first, with a timeout.</summary>
[Cmdlet(VerbsLifecycle.Wait, "VaultBackendHealthy")]
[OutputType(typeof(VaultHealthResult))]
public sealed class WaitVaultBackendHealthyCommand : VaultTargetCmdlet
{
    private static int _nextProgressId = 4000;

    [Parameter]
    [Alias("Timeout")]
    [ValidateRange(1, 3600)]
    public int TimeoutSec { get; set; } = 60;

    [Parameter]
    [Alias("Interval")]
    [ValidateRange(0.05, 60)]
    public double IntervalSec { get; set; } = 2;

    [Parameter]
    public SwitchParameter Ready { get; set; }

    internal override async Task ProcessTargetAsync(VaultTarget target, IHostShell shell, PipelineMessages output, CancellationToken cancellationToken)
    {
        var progressId = Interlocked.Increment(ref _nextProgressId);
        var result = await HealthWaiter.WaitAsync(target, shell, Ready.IsPresent, TimeSpan.FromSeconds(TimeoutSec), TimeSpan.FromSeconds(IntervalSec),
            progressId, cancellationToken).ConfigureAwait(false);
        output.Verbose($"{target.Name} is healthy after {result.WaitedMs:0} ms ({result.Attempts} checks)");
        output.Output(result);
    }
}
