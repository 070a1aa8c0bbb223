using System;
using System.Collections.Generic;

namespace YieldVault.Ops;

public enum DeploymentStatus
{
    Succeeded,

    /// <summary>The new version failed after the stop and the previous one serves again.</summary>
    RolledBack,

    /// <summary>Nothing was changed (failure before the stop), or the rollback itself failed (see Error).</summary>
    Failed,
}

public enum StepOutcome
{
    Succeeded,
    Failed,
    Skipped,
    NotRun,
}

/// <summary>One step of a deployment, timed against the runbook's target for it.</summary>
public sealed class VaultDeploymentStep
{
    public int Number { get; init; }

    public string Name { get; init; } = "";

    /// <summary>The runbook section it implements ("Step 3", "5.2").</summary>
    public string Runbook { get; init; } = "";

    public StepOutcome Outcome { get; set; } = StepOutcome.NotRun;

    public TimeSpan Duration { get; set; }

    /// <summary>The runbook's time for this step (Metrics to Track), when it names one.</summary>
    public TimeSpan? Target { get; init; }

    public string? Detail { get; set; }

    /// <summary>What the step runs, for -WhatIf plans.</summary>
    public IReadOnlyList<string> Commands { get; init; } = Array.Empty<string>();

    /// <summary>The step changes the target (a guided run asks before it); false for steps that only read.</summary>
    public bool ChangesState { get; init; }

    /// <summary>A guided run may leave the step out (the run is sound without it: a backup, the smoke checks).</summary>
    public bool CanSkip { get; init; }

    /// <summary>A guided run may run the step again after it failed (running it twice does no harm).</summary>
    public bool CanRetry { get; init; }

    public bool WithinTarget => Target is null || Duration <= Target;
}

/// <summary>What Invoke-VaultDeployment and Undo-VaultDeployment did.</summary>
public sealed class VaultDeploymentResult
{
    public VaultTarget? Target { get; init; }

    public string RunId { get; init; } = "";

    public DeploymentStatus Status { get; set; } = DeploymentStatus.Failed;

    /// <summary>"deploy" or "rollback".</summary>
    public string Kind { get; init; } = "deploy";

    /// <summary>What was deployed: the ref, the image or the artifact.</summary>
    public string Source { get; init; } = "";

    public string? Incident { get; init; }

    /// <summary>The roll (a deployment or rollback of many targets in batches) this run was part of; null for a run on its own.</summary>
    public string? RollId { get; init; }

    public string? VersionBefore { get; set; }

    public string? CommitBefore { get; set; }

    public string? ReleaseBefore { get; set; }

    public string? VersionAfter { get; set; }

    public string? CommitAfter { get; set; }

    public string? ReleaseAfter { get; set; }

    public DateTimeOffset StartedAt { get; init; }

    public TimeSpan Duration { get; set; }

    /// <summary>Time /health failed or refused during the run, as measured by the prober.</summary>
    public double DowntimeMs { get; set; }

    public int FailedProbes { get; set; }

    public int Probes { get; set; }

    public IList<VaultDeploymentStep> Steps { get; init; } = new List<VaultDeploymentStep>();

    /// <summary>The run's journal on the target's host.</summary>
    public string JournalPath { get; set; } = "";

    /// <summary>Why it did not succeed (secrets hidden).</summary>
    public string? Error { get; set; }

    public string? ErrorId { get; set; }

    /// <summary>The run applied database migrations (a rollback to older code may not run on the migrated schema).</summary>
    public bool MigrationsApplied { get; set; }

    /// <summary>The kind of the error (the error record's category), when it did not succeed.</summary>
    public VaultErrorKind? ErrorKind { get; set; }

    /// <summary>What to do about the error, when the failure says.</summary>
    public string? RecommendedAction { get; set; }

    public bool RolledBack => Status == DeploymentStatus.RolledBack;

    /// <summary>
    /// Set by a recovery after Ctrl+C that is not a rollback of a deployment (Undo-VaultDeployment starts what is there)
    /// once it saw <see cref="VersionAfter"/> serve: the run ends Cancelled, and says that the backend serves.
    /// </summary>
    internal bool ServesAfterCancel { get; set; }

    /// <summary>
    /// Set by a recovery after Ctrl+C that neither rolled back nor started anything: what it did and what serves
    /// ("the new version in the Blue slot was stopped before any traffic reached it; 1.2.3 serves on"). The run ends
    /// Cancelled, its journal and its last warning say this.
    /// </summary>
    internal string? CancelOutcome { get; set; }

    /// <summary>What serves after the run is what served before it: its version, commit and release.</summary>
    internal void ServesAsBefore()
    {
        VersionAfter = VersionBefore;
        CommitAfter = CommitBefore;
        ReleaseAfter = ReleaseBefore;
    }

    /// <summary>Runbook "Total RTO": from the start of the run until it ended, target 30 min.</summary>
    public static readonly TimeSpan RtoTarget = TimeSpan.FromMinutes(30);
}
