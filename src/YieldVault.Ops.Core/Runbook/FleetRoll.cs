using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using YieldVault.Ops.Hosts;
using YieldVault.Ops.Probes;

namespace YieldVault.Ops.Runbook;

/// <summary>How a roll goes: its batches, its failure threshold, the pause between batches and the parallelism in a batch.</summary>
public sealed class RollOptions
{
    /// <summary>-BatchSize: counts or percentages; the last repeats. Empty: one target at a time.</summary>
    public IReadOnlyList<RollBatchSize> BatchSizes { get; init; } = Array.Empty<RollBatchSize>();

    /// <summary>-CanaryFirst: a first batch of one target.</summary>
    public bool CanaryFirst { get; init; }

    /// <summary>-MaxFailedTargets: the roll stops when more targets than this have failed (0: at the first failure).</summary>
    public int MaxFailedTargets { get; init; }

    /// <summary>-BatchPauseSec: the wait between one batch and the next.</summary>
    public TimeSpan BatchPause { get; init; }

    /// <summary>-ThrottleLimit: at most this many targets of a batch at once; null: the whole batch.</summary>
    public int? ThrottleLimit { get; init; }

    /// <summary>-RollbackAllOnFailure: when the roll stops, roll back the targets it already deployed.</summary>
    public bool RollbackAllOnFailure { get; init; }
}

/// <summary>
/// A roll: one deployment (or rollback) over many targets, batch by batch, in parallel within a batch. Each target is
/// an ordinary run on the engine (<see cref="DeploymentRunner"/>, <see cref="BlueGreenRunner"/>, <see cref="RollbackRunner"/>)
/// with its own lock, journal, prober and automatic rollback; the roll only decides who goes when, counts failures and
/// stops when more than <see cref="RollOptions.MaxFailedTargets"/> have failed: the targets not yet touched keep what
/// they run. At the end it sums up (<see cref="VaultRollResult"/>) and adds a record of kind "roll" to every target's
/// history.
/// </summary>
public sealed class FleetRoll
{
    private const int ProgressId = 5000;
    private readonly HostShellPool _hosts;
    private readonly SecretRedactor _redactor;
    private readonly RollOptions _options;

    public FleetRoll(HostShellPool hosts, SecretRedactor redactor, RollOptions options)
    {
        _hosts = hosts ?? throw new ArgumentNullException(nameof(hosts));
        _redactor = redactor ?? throw new ArgumentNullException(nameof(redactor));
        _options = options ?? throw new ArgumentNullException(nameof(options));
        RollId = "roll-" + DeploymentJournal.NewRunId(DateTimeOffset.UtcNow);
    }

    /// <summary>The roll's id: in every run's result and history line, and the id of the roll's own records.</summary>
    public string RollId { get; }

    /// <summary>
    /// Called (on a background thread) as each target's run or undo ends, for the caller to write its result; the result
    /// is null when the run could not start (the entry says why).
    /// </summary>
    public Action<VaultRollTarget, VaultDeploymentResult?>? TargetDone { get; set; }

    /// <summary>The batches a roll over <paramref name="targets"/> would run, by name (for -WhatIf).</summary>
    public IReadOnlyList<IReadOnlyList<string>> Plan(IReadOnlyList<VaultTarget> targets) =>
        RollBatches.Split(targets, _options.BatchSizes, _options.CanaryFirst).Select(b => (IReadOnlyList<string>)b.Select(t => t.Name).ToList()).ToList();

    /// <summary>Deploys <paramref name="request"/> (whose RollId should be <see cref="RollId"/>) to every target, batch by batch.</summary>
    public Task<VaultRollResult> DeployAsync(IReadOnlyList<VaultTarget> targets, DeploymentRequest request, CancellationToken cancellationToken)
    {
        if (request is null)
        {
            throw new ArgumentNullException(nameof(request));
        }

        Task<VaultDeploymentResult> Deploy(VaultTarget target, IHostShell shell, CancellationToken token) =>
            request.StrategyFor(target) == DeploymentStrategyKind.BlueGreen
                ? new BlueGreenRunner(target, shell, request, _redactor).RunAsync(token)
                : new DeploymentRunner(target, shell, request, _redactor).RunAsync(token);

        async Task<VaultDeploymentResult> Undo(VaultTarget target, IHostShell shell, CancellationToken token)
        {
            var undo = new RollbackRequest { RollId = RollId, StopTimeout = request.StopTimeout, HealthTimeout = request.HealthTimeout };
            var runner = new RollbackRunner(target, shell, _redactor);
            return await runner.RunAsync(await runner.PlanAsync(undo, token, describe: false).ConfigureAwait(false), token).ConfigureAwait(false);
        }

        return RunAsync(targets, DeploymentRecords.DeployKind, request.Source, Deploy, _options.RollbackAllOnFailure ? Undo : null, cancellationToken);
    }

    /// <summary>Rolls every target back by its plan (Undo-VaultDeployment over a fleet), batch by batch.</summary>
    public Task<VaultRollResult> UndoAsync(IReadOnlyList<VaultTarget> targets, IReadOnlyDictionary<VaultTarget, RollbackPlan> plans, CancellationToken cancellationToken)
    {
        if (plans is null)
        {
            throw new ArgumentNullException(nameof(plans));
        }

        return RunAsync(targets, DeploymentRecords.RollbackKind, "the previous version",
            (target, shell, token) => new RollbackRunner(target, shell, _redactor).RunAsync(plans[target].ForRoll(RollId), token), null, cancellationToken);
    }

    private async Task<VaultRollResult> RunAsync(IReadOnlyList<VaultTarget> targets, string kind, string source,
        Func<VaultTarget, IHostShell, CancellationToken, Task<VaultDeploymentResult>> runOne,
        Func<VaultTarget, IHostShell, CancellationToken, Task<VaultDeploymentResult>>? undoOne, CancellationToken cancellationToken)
    {
        CheckDistinct(targets);
        var clock = Stopwatch.StartNew();
        var batches = RollBatches.Split(targets, _options.BatchSizes, _options.CanaryFirst);
        var entries = new List<VaultRollTarget>();
        for (var b = 0; b < batches.Count; b++)
        {
            entries.AddRange(batches[b].Select(t => new VaultRollTarget { Target = t, Name = t.Name, Batch = b + 1 }));
        }

        var roll = new VaultRollResult
        {
            RollId = RollId, Kind = kind, Source = source, StartedAt = DateTimeOffset.UtcNow, Batches = batches.Count,
            MaxFailedTargets = _options.MaxFailedTargets, Targets = entries,
        };
        var outer = Reporting.Current;
        var activity = $"Rolling {(kind == DeploymentRecords.DeployKind ? source : "back to " + source)} over {targets.Count} target(s) in {batches.Count} batch(es)";
        outer.Verbose($"Roll {RollId}: {string.Join(" | ", batches.Select((b, i) => $"batch {i + 1}: {string.Join(", ", b.Select(t => t.Name))}"))}; "
            + $"stops when more than {_options.MaxFailedTargets} target(s) fail");
        var failed = 0;
        var stop = false;
        try
        {
            for (var b = 0; b < batches.Count && !stop; b++)
            {
                if (b > 0 && _options.BatchPause > TimeSpan.Zero)
                {
                    outer.Progress(ProgressId, activity, $"Pausing {_options.BatchPause.TotalSeconds:0} s before batch {b + 1}/{batches.Count}", b * 100 / batches.Count);
                    await Task.Delay(_options.BatchPause, cancellationToken).ConfigureAwait(false);
                }

                roll.BatchesRun = b + 1;
                var batch = entries.Where(e => e.Batch == b + 1).ToList();
                outer.Progress(ProgressId, activity,
                    $"Batch {b + 1}/{batches.Count}: {string.Join(", ", batch.Select(e => e.Name))}" + (failed == 0 ? "" : $" ({failed} failed so far)"), b * 100 / batches.Count);
                using var throttle = new SemaphoreSlim(Math.Max(1, _options.ThrottleLimit ?? batch.Count));
                await Task.WhenAll(batch.Select(async entry =>
                {
                    await throttle.WaitAsync(cancellationToken).ConfigureAwait(false);
                    try
                    {
                        // A failure in this batch past the threshold: the targets still waiting for their turn are not touched.
                        if (Volatile.Read(ref stop))
                        {
                            return;
                        }

                        var result = await RunOneAsync(entry, entries.IndexOf(entry), outer, runOne, cancellationToken).ConfigureAwait(false);
                        Take(entry, result);
                        if (entry.IsFailure && Interlocked.Increment(ref failed) > _options.MaxFailedTargets)
                        {
                            Volatile.Write(ref stop, true);
                        }

                        TargetDone?.Invoke(entry, result);
                    }
                    finally
                    {
                        throttle.Release();
                    }
                })).ConfigureAwait(false);
            }

            if (stop)
            {
                roll.Status = RollStatus.Stopped;
                var untouched = entries.Count(e => e.Status == RollTargetStatus.NotTouched);
                roll.StopReason = $"{failed} target(s) failed, more than -MaxFailedTargets {_options.MaxFailedTargets}, by batch {roll.BatchesRun} of {batches.Count}: "
                    + string.Join(", ", entries.Where(e => e.IsFailure).Select(e => $"{e.Name} ({e.ErrorId ?? e.Status.ToString()})"))
                    + (untouched == 0 ? "" : $"; {untouched} target(s) not touched: {string.Join(", ", entries.Where(e => e.Status == RollTargetStatus.NotTouched).Select(e => e.Name))}");
                outer.Warning($"Roll {RollId} stopped: {roll.StopReason}.");
                if (undoOne is not null)
                {
                    await UndoDoneAsync(entries, outer, undoOne, cancellationToken).ConfigureAwait(false);
                }
            }
            else
            {
                roll.Status = failed > 0 ? RollStatus.CompletedWithFailures : RollStatus.Succeeded;
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            roll.Status = RollStatus.Cancelled;
            roll.StopReason = "stopped by the user (Ctrl+C)";
            roll.Duration = clock.Elapsed;
            await FinishAsync(roll, outer, CancellationToken.None).ConfigureAwait(false);
            throw;
        }

        roll.Duration = clock.Elapsed;
        await FinishAsync(roll, outer, cancellationToken).ConfigureAwait(false);
        outer.Progress(ProgressId, activity, "done", 100, completed: true);
        return roll;
    }

    // One target's run under its own progress ids; a failure that escapes the run (it could not even start: no connection)
    // is the target's failure, not the roll's.
    private async Task<VaultDeploymentResult?> RunOneAsync(VaultRollTarget entry, int slot, IVaultReporter outer,
        Func<VaultTarget, IHostShell, CancellationToken, Task<VaultDeploymentResult>> run, CancellationToken cancellationToken)
    {
        var target = entry.Target!;
        Reporting.Use(new NestedReporter(outer, slot, ProgressId));
        try
        {
            return await run(target, _hosts.For(target), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            var failure = RunbookRun.Failure(ex);
            if (failure.IsConnectionFailure)
            {
                _hosts.Close(target);
            }

            entry.Status = RollTargetStatus.Failed;
            entry.ErrorId = failure.ErrorId;
            entry.Error = _redactor.Redact(failure.Message);
            outer.Warning($"{target.Name}: {entry.Error}");
            return null;
        }
    }

    private static void Take(VaultRollTarget entry, VaultDeploymentResult? result)
    {
        if (result is null)
        {
            return;
        }

        entry.Result = result;
        entry.Status = result.Status switch
        {
            DeploymentStatus.Succeeded => RollTargetStatus.Succeeded,
            DeploymentStatus.RolledBack => RollTargetStatus.RolledBack,
            _ => RollTargetStatus.Failed,
        };
        entry.VersionBefore = result.VersionBefore;
        entry.VersionAfter = result.VersionAfter;
        entry.DowntimeMs = result.DowntimeMs;
        entry.Duration = result.Duration;
        entry.ErrorId = result.Status == DeploymentStatus.Succeeded ? null : result.ErrorId;
        entry.Error = result.Status == DeploymentStatus.Succeeded ? null : result.Error;
    }

    // -RollbackAllOnFailure: the targets this roll deployed go back, the last batch first, as many at once as a batch ran.
    private async Task UndoDoneAsync(List<VaultRollTarget> entries, IVaultReporter outer,
        Func<VaultTarget, IHostShell, CancellationToken, Task<VaultDeploymentResult>> undo, CancellationToken cancellationToken)
    {
        var done = entries.Where(e => e.Status == RollTargetStatus.Succeeded).OrderByDescending(e => e.Batch).ToList();
        if (done.Count == 0)
        {
            return;
        }

        outer.Warning($"Roll {RollId}: -RollbackAllOnFailure: rolling back {string.Join(", ", done.Select(e => e.Name))}.");
        using var throttle = new SemaphoreSlim(Math.Max(1, _options.ThrottleLimit ?? done.Count));
        await Task.WhenAll(done.Select(async entry =>
        {
            await throttle.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                var probe = new VaultRollTarget { Target = entry.Target, Name = entry.Name, Batch = entry.Batch };
                var result = await RunOneAsync(probe, entries.IndexOf(entry) + entries.Count, outer, undo, cancellationToken).ConfigureAwait(false);
                entry.Undo = result;
                entry.Status = result?.Status == DeploymentStatus.Succeeded ? RollTargetStatus.Undone : RollTargetStatus.UndoFailed;
                entry.VersionAfter = result?.VersionAfter ?? entry.VersionAfter;
                entry.DowntimeMs += result?.DowntimeMs ?? 0;
                if (entry.Status == RollTargetStatus.UndoFailed)
                {
                    entry.ErrorId = result?.ErrorId ?? probe.ErrorId;
                    entry.Error = "the rollback after the roll stopped failed: " + (result?.Error ?? probe.Error);
                }

                TargetDone?.Invoke(entry, result);
            }
            finally
            {
                throttle.Release();
            }
        })).ConfigureAwait(false);
    }

    // The end of a roll: what the untouched targets run (they were not read), then a "roll" record in every target's history.
    private async Task FinishAsync(VaultRollResult roll, IVaultReporter outer, CancellationToken cancellationToken)
    {
        using var throttle = new SemaphoreSlim(Math.Max(1, Math.Min(8, _options.ThrottleLimit ?? 8)));
        await Task.WhenAll(roll.Targets.Select(async entry =>
        {
            await throttle.WaitAsync(CancellationToken.None).ConfigureAwait(false);
            try
            {
                Reporting.Use(outer);
                var target = entry.Target!;
                var shell = _hosts.For(target);
                if (entry.Status == RollTargetStatus.NotTouched && !cancellationToken.IsCancellationRequested)
                {
                    var version = await VersionProbe.GetAsync(target, shell, TimeSpan.FromSeconds(5), cancellationToken).ConfigureAwait(false);
                    entry.VersionBefore = entry.VersionAfter = version.Version;
                }

                await DeploymentRecords.AppendRollAsync(target, shell, ToRecord(roll, entry), _redactor).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                // Best effort, like every record: the roll's outcome stands whether or not its record could be written.
                outer.Warning($"{entry.Name}: the roll {roll.RollId} could not be recorded in its history: {_redactor.Redact(ex.Message)}");
            }
            finally
            {
                throttle.Release();
            }
        })).ConfigureAwait(false);
    }

    private static VaultDeploymentResult ToRecord(VaultRollResult roll, VaultRollTarget entry) => new()
    {
        Target = entry.Target,
        RunId = roll.RollId,
        RollId = roll.RollId,
        Kind = DeploymentRecords.RollKind,
        Status = roll.Status == RollStatus.Succeeded ? DeploymentStatus.Succeeded
            : entry.Status is RollTargetStatus.Undone or RollTargetStatus.RolledBack ? DeploymentStatus.RolledBack
            : DeploymentStatus.Failed,
        Source = roll.Source,
        VersionBefore = entry.VersionBefore,
        VersionAfter = entry.VersionAfter,
        StartedAt = roll.StartedAt,
        Duration = roll.Duration,
        DowntimeMs = entry.DowntimeMs,
        JournalPath = entry.Result?.JournalPath ?? "",
        ErrorId = roll.Status is RollStatus.Stopped ? ErrorIds.RollStopped : roll.Status is RollStatus.Cancelled ? ErrorIds.Cancelled : entry.ErrorId,
        Error = roll.Status == RollStatus.Succeeded ? null
            : $"{roll.Kind} roll {roll.Status} after batch {roll.BatchesRun.ToString(CultureInfo.InvariantCulture)} of {roll.Batches.ToString(CultureInfo.InvariantCulture)}; "
              + $"this target (batch {entry.Batch.ToString(CultureInfo.InvariantCulture)}): {entry.Status}"
              + (entry.Error is null ? "" : $" ({entry.ErrorId}: {entry.Error})")
              + (roll.StopReason is null ? "" : $"; {roll.StopReason}"),
    };

    private static void CheckDistinct(IReadOnlyList<VaultTarget> targets)
    {
        var twice = targets.GroupBy(t => t.Name, StringComparer.OrdinalIgnoreCase).FirstOrDefault(g => g.Count() > 1);
        if (twice is not null)
        {
            throw new VaultException(ErrorIds.RollDuplicateTarget, VaultErrorKind.InvalidArgument,
                $"The target '{twice.Key}' came {twice.Count()} times into one roll; each target is deployed once. Nothing was changed.",
                "Pass each target once (Get-VaultTarget ... | Sort-Object Name -Unique).");
        }
    }
}
