using System;
using System.Collections;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;
using YieldVault.Ops.Hosting;
using YieldVault.Ops.Hosts;
using YieldVault.Ops.Probes;

namespace YieldVault.Ops.Commands;

/// <summary>
/// Runbook Step 10.1 for a bounded time: health, the log's error rate, restarts, memory and latency, shown with
/// Write-Progress and written as samples; -FailOn thresholds make it a gate (an error, WatchThresholdExceeded, at the
/// first reading that crosses one).
/// </summary>
[Cmdlet(VerbsCommon.Watch, "VaultBackend")]
[OutputType(typeof(VaultWatchSample))]
public sealed class WatchVaultBackendCommand : VaultTargetCmdlet
{
    private const int ProgressBase = 5300;
    private int _targets;
    private WatchThresholds? _thresholds;

    /// <summary>How long to watch.</summary>
    [Parameter]
    [ValidateRange(1, 86400)]
    public int DurationSec { get; set; } = 60;

    /// <summary>Seconds between readings.</summary>
    [Parameter]
    [ValidateRange(1, 3600)]
    public int IntervalSec { get; set; } = 5;

    /// <summary>The most the watch tolerates: FailedHealthChecks, Errors, ErrorsPerMinute, Restarts, MemoryMB, LatencyMs.</summary>
    [Parameter]
    [ValidateNotNull]
    public Hashtable? FailOn { get; set; }

    protected override void BeginProcessing()
    {
        if (FailOn is { } failOn)
        {
            try
            {
                _thresholds = WatchThresholds.From(failOn.Cast<DictionaryEntry>().Select(e => new KeyValuePair<string, double>(e.Key?.ToString() ?? "", Number(e.Key, e.Value))));
            }
            catch (VaultException ex)
            {
                ThrowVaultError(ex, FailOn);
            }
        }

        base.BeginProcessing();
    }

    internal override async Task ProcessTargetAsync(VaultTarget target, IHostShell shell, PipelineMessages output, CancellationToken cancellationToken)
    {
        var progressId = ProgressBase + Interlocked.Increment(ref _targets);
        var breach = await BackendWatch.RunAsync(target, shell, Redactor, TimeSpan.FromSeconds(DurationSec), TimeSpan.FromSeconds(IntervalSec), _thresholds, output.Output, progressId, cancellationToken)
            .ConfigureAwait(false);
        if (breach is not null)
        {
            output.Error(ToErrorRecord(new VaultException(ErrorIds.WatchThresholdExceeded, VaultErrorKind.LimitsExceeded,
                $"{target.DisplayName}: the watch failed {breach} (-FailOn {_thresholds}).",
                "Look at the log (Get-VaultBackendLog -Level Error) and the diagnosis (Get-VaultDiagnosis); roll back with Undo-VaultDeployment if the last deployment caused it."), target));
        }
    }

    private static double Number(object? key, object? value)
    {
        var raw = value is PSObject wrapped ? wrapped.BaseObject : value;
        return raw switch
        {
            int or long or double or float or decimal or short or byte => Convert.ToDouble(raw, CultureInfo.InvariantCulture),
            string text when double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var parsed) => parsed,
            _ => throw new VaultException(ErrorIds.InvalidThreshold, VaultErrorKind.InvalidArgument, $"-FailOn {key} = '{raw}' is not a number."),
        };
    }
}
