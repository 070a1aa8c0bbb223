using System;
using System.Collections.Generic;

namespace YieldVault.Ops;

/// <summary>One step of a run as its journal recorded it (a step, the rollback inside a deployment, a cancel).</summary>
public sealed class VaultJournalStep
{
    /// <summary>The step's name ("Stop current service"), or "rollback", "cancel", "lock" for the lines outside the steps.</summary>
    public string Step { get; init; } = "";

    /// <summary>Succeeded, Failed, Skipped; empty when the step started and never ended (the run died in it).</summary>
    public string Outcome { get; init; } = "";

    public DateTimeOffset? StartedAt { get; init; }

    public DateTimeOffset? EndedAt { get; init; }

    public TimeSpan? Duration { get; init; }

    /// <summary>What the step did or why it failed (redacted when it was written).</summary>
    public string? Detail { get; init; }

    /// <summary>The how-many-th time this step ran in the run (a guided run's retries run a step again).</summary>
    public int Attempt { get; init; } = 1;
}

/// <summary>A run's journal on the target's host (&lt;StatePath&gt;/&lt;service&gt;/journal/&lt;run&gt;.jsonl), read back.</summary>
public sealed class VaultDeploymentJournal
{
    public VaultTarget? Target { get; init; }

    public string RunId { get; init; } = "";

    /// <summary>The journal file on the target's host.</summary>
    public string Path { get; init; } = "";

    /// <summary>What the run was, from its start line ("deploy v1.3.0 for INCIDENT-123 by ops on laptop").</summary>
    public string? What { get; init; }

    public DateTimeOffset? StartedAt { get; init; }

    public DateTimeOffset? EndedAt { get; init; }

    /// <summary>
    /// How the run ended: Succeeded, RolledBack, Failed, Cancelled, Abandoned (its lock was cleared after it died);
    /// Running (no end yet and its lock is held), or Unfinished (no end and no live lock: the run died).
    /// </summary>
    public string Outcome { get; init; } = "";

    public TimeSpan? Duration { get; init; }

    /// <summary>The run's error or the end's note (redacted when it was written).</summary>
    public string? Detail { get; init; }

    /// <summary>The outcome of the rollback inside the run, when there was one (Succeeded or Failed).</summary>
    public string? Rollback { get; init; }

    public string? VersionBefore { get; init; }

    public string? VersionAfter { get; init; }

    public double? DowntimeMs { get; init; }

    public IReadOnlyList<VaultJournalStep> Steps { get; init; } = Array.Empty<VaultJournalStep>();

    /// <summary>Lines of the file that were not journal lines (cut short by a full disk, or edited by hand).</summary>
    public int BadLines { get; init; }
}
