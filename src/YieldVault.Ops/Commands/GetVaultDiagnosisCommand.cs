using System;
using System.Linq;
using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;
using YieldVault.Ops.Diagnosis;
using YieldVault.Ops.Hosting;
using YieldVault.Ops.Hosts;

namespace YieldVault.Ops.Commands;

/// <summary>The runbook's Troubleshooting section as checks: one finding per check, with its evidence and the next command to run.</summary>
[Cmdlet(VerbsCommon.Get, "VaultDiagnosis")]
[OutputType(typeof(VaultDiagnosisFinding))]
public sealed class GetVaultDiagnosisCommand : VaultTargetCmdlet
{
    private const int ProgressBase = 5100;
    private int _targets;

    /// <summary>Only these issues of the runbook's Troubleshooting section (all of them by default).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public VaultSymptom[]? Symptom { get; set; }

    /// <summary>Seconds of sampling for memory growth, CPU and I/O wait (one reading a second).</summary>
    [Parameter]
    [ValidateRange(2, 120)]
    public int SampleSec { get; set; } = 10;

    /// <summary>Requests per endpoint for the latency percentiles.</summary>
    [Parameter]
    [ValidateRange(1, 100)]
    public int Requests { get; set; } = 10;

    /// <summary>Read endpoints to time besides health (default: the runbook backend's database and Stellar RPC reads).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    [ValidatePattern("^/[A-Za-z0-9._~!$&'()*+,;=:@%/?-]*\\z")]
    public string[]? ReadPath { get; set; }

    /// <summary>A 95th percentile above this many milliseconds is slow.</summary>
    [Parameter]
    [ValidateRange(10, 60000)]
    public int SlowMs { get; set; } = 500;

    internal override async Task ProcessTargetAsync(VaultTarget target, IHostShell shell, PipelineMessages output, CancellationToken cancellationToken)
    {
        var request = new DiagnosisRequest
        {
            Symptoms = Symptom?.Distinct().ToArray() ?? DiagnosisRequest.AllSymptoms,
            Sample = TimeSpan.FromSeconds(SampleSec),
            Requests = Requests,
            ReadPaths = ReadPath,
            Slow = TimeSpan.FromMilliseconds(SlowMs),
        };
        var progressId = ProgressBase + Interlocked.Increment(ref _targets);
        await DiagnosisRunner.RunAsync(target, shell, Redactor, request, output.Output, progressId, cancellationToken).ConfigureAwait(false);
    }
}
