using System;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;
using YieldVault.Ops.Hosts;
using YieldVault.Ops.Runbook;

namespace YieldVault.Ops.Hosting;

/// <summary>
/// Base of the cmdlets that can roll over a fleet (Invoke-VaultDeployment, Undo-VaultDeployment). Without a roll
/// parameter they work as every action cmdlet does, one target at a time as it comes. With one (-BatchSize,
/// -CanaryFirst, -MaxFailedTargets, -BatchPauseSec, -ThrottleLimit, or the cmdlet's own), the targets are checked and
/// confirmed as they come, collected, and rolled in batches in EndProcessing by Core's <see cref="FleetRoll"/>: each
/// target's result is written as it ends, then the roll's summary.
/// </summary>
public abstract class VaultRollCmdlet : VaultActionCmdlet
{
    private readonly List<VaultTarget> _collected = new();
    private IReadOnlyList<RollBatchSize> _sizes = Array.Empty<RollBatchSize>();

    /// <summary>Targets per batch: a count or a percentage ("25%"); several values are the first batches, the last repeats ("1,25%").</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string[]? BatchSize { get; set; }

    /// <summary>A first batch of one target (a canary) before the batches of -BatchSize.</summary>
    [Parameter]
    public SwitchParameter CanaryFirst { get; set; }

    /// <summary>The roll stops when more targets than this have failed (default 0: at the first failure).</summary>
    [Parameter]
    [ValidateRange(0, 100000)]
    public int MaxFailedTargets { get; set; }

    /// <summary>Seconds to wait between one batch and the next.</summary>
    [Parameter]
    [ValidateRange(0, 86400)]
    public int BatchPauseSec { get; set; }

    /// <summary>At most this many targets of a batch at once (default: the whole batch).</summary>
    [Parameter]
    [ValidateRange(1, 64)]
    public int ThrottleLimit { get; set; }

    /// <summary>Whether a roll parameter was given: the targets then go in batches.</summary>
    protected bool IsRoll => RollParameters.Any(MyInvocation.BoundParameters.ContainsKey);

    /// <summary>The names of the parameters that make a call a roll.</summary>
    protected virtual IEnumerable<string> RollParameters => new[] { nameof(BatchSize), nameof(CanaryFirst), nameof(MaxFailedTargets), nameof(BatchPauseSec), nameof(ThrottleLimit) };

    protected RollOptions Options => new()
    {
        BatchSizes = _sizes,
        CanaryFirst = CanaryFirst,
        MaxFailedTargets = MaxFailedTargets,
        BatchPause = TimeSpan.FromSeconds(BatchPauseSec),
        ThrottleLimit = MyInvocation.BoundParameters.ContainsKey(nameof(ThrottleLimit)) ? ThrottleLimit : null,
        RollbackAllOnFailure = RollbackAll,
    };

    /// <summary>-RollbackAllOnFailure of the cmdlet that has it.</summary>
    protected virtual bool RollbackAll => false;

    protected override void BeginProcessing()
    {
        base.BeginProcessing();
        try
        {
            _sizes = RollBatches.Parse(BatchSize);
        }
        catch (VaultException ex)
        {
            ThrowVaultError(ex, BatchSize);
        }
    }

    /// <summary>In a roll, a checked and confirmed target waits for the others.</summary>
    protected override bool Collect(VaultTarget target)
    {
        if (!IsRoll)
        {
            return false;
        }

        _collected.Add(target);
        return true;
    }

    protected override void EndProcessing()
    {
        base.EndProcessing();
        if (_collected.Count == 0)
        {
            return;
        }

        // The session's connections are found through the runspace, on this thread.
        var pool = Hosts;
        var roll = new FleetRoll(pool, Redactor, Options);
        if (IsWhatIf)
        {
            var batches = roll.Plan(_collected);
            for (var i = 0; i < batches.Count; i++)
            {
                ShouldProcess($"  Batch {i + 1}/{batches.Count}: {string.Join(", ", batches[i])}", "", "");
            }

            ShouldProcess($"  The roll stops when more than {MaxFailedTargets} target(s) fail" + (RollbackAll ? ", then rolls back the targets it deployed." : "; the targets after it are not touched."), "", "");
            return;
        }

        try
        {
            Run(async (output, token) =>
            {
                roll.TargetDone = (entry, result) => WriteRollTarget(entry, result, output);
                var summary = await RollAsync(roll, _collected, token).ConfigureAwait(false);
                output.Output(summary);
                if (summary.Status == RollStatus.Stopped)
                {
                    output.Error(ErrorRecords.Create(ErrorIds.RollStopped, ErrorCategory.OperationStopped,
                        $"Roll {summary.RollId} stopped: {summary.StopReason}.", summary,
                        "Read the summary's Failures and each failed target's journal, fix the cause, then roll again."));
                }
            });
        }
        catch (VaultException ex)
        {
            ThrowVaultError(ex, _collected);
        }
    }

    /// <summary>Runs the roll (Core's deploy or undo of the targets).</summary>
    internal abstract Task<VaultRollResult> RollAsync(FleetRoll roll, IReadOnlyList<VaultTarget> targets, CancellationToken cancellationToken);

    /// <summary>Writes one target's result (and its error) as the roll goes on; the result is null when its run could not start.</summary>
    internal virtual void WriteRollTarget(VaultRollTarget entry, VaultDeploymentResult? result, PipelineMessages output)
    {
        if (result is null)
        {
            output.Error(ErrorRecords.Create(entry.ErrorId ?? ErrorIds.UnexpectedFailure, ErrorCategory.InvalidOperation,
                entry.Error ?? "The run could not start.", entry.Target, "Check the target: Get-VaultBackendStatus."));
            return;
        }

        WriteOutcome(entry.Target!, result, output);
    }

    /// <summary>Writes a run's result and, when it did not succeed, its error: the same for one target and in a roll.</summary>
    internal abstract void WriteOutcome(VaultTarget target, VaultDeploymentResult result, PipelineMessages output);
}
