using System;
using System.Collections.Generic;
using System.Linq;

namespace YieldVault.Ops;

/// <summary>How a roll ended.</summary>
public enum RollStatus
{
    /// <summary>Every target was deployed (or rolled back, for Undo) and verified.</summary>
    Succeeded,

    /// <summary>Every target was touched; some failed, but no more than -MaxFailedTargets.</summary>
    CompletedWithFailures,

    /// <summary>More targets failed than -MaxFailedTargets allows: the roll stopped; the targets after it were not touched.</summary>
    Stopped,

    /// <summary>Ctrl+C: the runs under way brought a serving version back; the targets after them were not touched.</summary>
    Cancelled,
}

/// <summary>What a roll did to one target.</summary>
public enum RollTargetStatus
{
    /// <summary>Its run succeeded (the new version serves; for Undo, the previous one).</summary>
    Succeeded,

    /// <summary>Its run failed after the stop and rolled back by itself: the version before serves.</summary>
    RolledBack,

    /// <summary>Its run failed (before the stop nothing changed; or its rollback failed too: see Error).</summary>
    Failed,

    /// <summary>The roll stopped before this target: it still runs what it ran.</summary>
    NotTouched,

    /// <summary>It had succeeded, and -RollbackAllOnFailure rolled it back after the roll stopped.</summary>
    Undone,

    /// <summary>It had succeeded, and the rollback -RollbackAllOnFailure asked for failed: see Error.</summary>
    UndoFailed,
}

/// <summary>One target of a roll: its batch, what it ran before and after, how it ended and why.</summary>
public sealed class VaultRollTarget
{
    public VaultTarget? Target { get; init; }

    public string Name { get; init; } = "";

    /// <summary>The batch it was in (1 = the first).</summary>
    public int Batch { get; init; }

    public RollTargetStatus Status { get; set; } = RollTargetStatus.NotTouched;

    public string? VersionBefore { get; set; }

    public string? VersionAfter { get; set; }

    /// <summary>Time /health failed during its run (and its undo, if any), as its prober measured it.</summary>
    public double DowntimeMs { get; set; }

    public TimeSpan Duration { get; set; }

    public string? ErrorId { get; set; }

    /// <summary>Why it failed (secrets hidden).</summary>
    public string? Error { get; set; }

    /// <summary>Its run's result (null when it was not touched).</summary>
    public VaultDeploymentResult? Result { get; set; }

    /// <summary>-RollbackAllOnFailure: the result of its rollback.</summary>
    public VaultDeploymentResult? Undo { get; set; }

    public bool IsFailure => Status is RollTargetStatus.Failed or RollTargetStatus.RolledBack or RollTargetStatus.UndoFailed;

    public override string ToString() => $"{Name} {Status}";
}

/// <summary>
/// What Invoke-VaultDeployment or Undo-VaultDeployment did over many targets in batches: one summary besides the
/// per-target results (per target: batch, before, after, status, downtime; which failed and why).
/// </summary>
public sealed class VaultRollResult
{
    public string RollId { get; init; } = "";

    /// <summary>"deploy" or "rollback".</summary>
    public string Kind { get; init; } = "deploy";

    /// <summary>What was deployed (the ref, image or artifact), or what Undo went back to.</summary>
    public string Source { get; init; } = "";

    public RollStatus Status { get; set; } = RollStatus.Succeeded;

    public DateTimeOffset StartedAt { get; init; }

    public TimeSpan Duration { get; set; }

    /// <summary>The batches the targets were cut into.</summary>
    public int Batches { get; init; }

    /// <summary>The batches that ran (all of them, unless the roll stopped).</summary>
    public int BatchesRun { get; set; }

    public int MaxFailedTargets { get; init; }

    public IList<VaultRollTarget> Targets { get; init; } = new List<VaultRollTarget>();

    /// <summary>Why the roll stopped, when it did.</summary>
    public string? StopReason { get; set; }

    public int Succeeded => Targets.Count(t => t.Status == RollTargetStatus.Succeeded);

    /// <summary>Targets whose run failed (rolled back by itself, or failed), before any -RollbackAllOnFailure.</summary>
    public int Failed => Targets.Count(t => t.Status is RollTargetStatus.Failed or RollTargetStatus.RolledBack);

    public int NotTouched => Targets.Count(t => t.Status == RollTargetStatus.NotTouched);

    /// <summary>-RollbackAllOnFailure: targets rolled back after the roll stopped (and those whose rollback failed).</summary>
    public int Undone => Targets.Count(t => t.Status is RollTargetStatus.Undone or RollTargetStatus.UndoFailed);

    /// <summary>"rb-3 (batch 2): HealthCheckTimeout: ...", one line per target that failed.</summary>
    public IReadOnlyList<string> Failures => Targets.Where(t => t.IsFailure)
        .Select(t => $"{t.Name} (batch {t.Batch}): {t.Status}" + (t.ErrorId is null ? "" : $" {t.ErrorId}") + (t.Error is null ? "" : $": {t.Error}"))
        .ToList();

    /// <summary>"2/3" for the table view.</summary>
    public string BatchesText => $"{BatchesRun}/{Batches}";

    public override string ToString() => $"{RollId} {Kind} {Status}";
}
