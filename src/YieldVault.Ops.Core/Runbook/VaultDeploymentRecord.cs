using System;

namespace YieldVault.Ops;

/// <summary>
/// One run in a target's deployment history (<c>&lt;StatePath&gt;/&lt;service&gt;/history.jsonl</c> on its host): a
/// deployment, a rollback or a drill, as it ended. What Get-VaultDeploymentHistory writes.
/// </summary>
public sealed class VaultDeploymentRecord
{
    /// <summary>The target whose history the record was read from (not stored in the file).</summary>
    public VaultTarget? Target { get; init; }

    public string RunId { get; init; } = "";

    /// <summary>"deploy", "rollback" or "drill".</summary>
    public string Kind { get; init; } = "deploy";

    public DeploymentStatus Status { get; init; } = DeploymentStatus.Failed;

    /// <summary>What was deployed: the ref, the image, the artifact, or the release rolled back to.</summary>
    public string Source { get; init; } = "";

    public string? VersionBefore { get; init; }

    public string? CommitBefore { get; init; }

    public string? ReleaseBefore { get; init; }

    public string? VersionAfter { get; init; }

    public string? CommitAfter { get; init; }

    public string? ReleaseAfter { get; init; }

    public DateTimeOffset StartedAt { get; init; }

    public TimeSpan Duration { get; init; }

    public DateTimeOffset EndedAt => StartedAt + Duration;

    /// <summary>Time /health failed or refused during the run, as measured by the prober.</summary>
    public double DowntimeMs { get; init; }

    public int FailedProbes { get; init; }

    public string? Incident { get; init; }

    /// <summary>The roll the run was part of, or (kind "roll") the roll this record sums up.</summary>
    public string? RollId { get; init; }

    /// <summary>The run applied database migrations.</summary>
    public bool MigrationsApplied { get; init; }

    /// <summary>"user@machine" of whoever ran the cmdlet.</summary>
    public string DeployedBy { get; init; } = "";

    /// <summary>The run's journal on the target's host; empty when the run failed before it took the lock.</summary>
    public string JournalPath { get; init; } = "";

    public string? ErrorId { get; init; }

    /// <summary>Why it did not succeed (secrets hidden).</summary>
    public string? Error { get; init; }

    public override string ToString() => $"{RunId} {Kind} {Status}";
}
