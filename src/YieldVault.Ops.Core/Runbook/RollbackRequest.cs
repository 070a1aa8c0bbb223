using System;

namespace YieldVault.Ops.Runbook;

/// <summary>What to roll back to and how (Undo-VaultDeployment's parameters, as Core sees them).</summary>
public sealed class RollbackRequest
{
    /// <summary>A named release (release layout only); null: the release the last deployment replaced.</summary>
    public string? Release { get; init; }

    /// <summary>Go back to the release this backup recorded (release layout only).</summary>
    public VaultBackupRecord? Backup { get; init; }

    /// <summary>Also put back the env file saved in <see cref="Backup"/>.</summary>
    public bool RestoreEnvFile { get; init; }

    /// <summary>The roll this rollback is part of (Undo-VaultDeployment over a fleet, or a roll's -RollbackAllOnFailure).</summary>
    public string? RollId { get; init; }

    /// <summary>Clear a stale lock left by a dead run.</summary>
    public bool ClearStaleLock { get; init; }

    /// <summary>Roll back although the deployment being undone applied migrations the older code predates.</summary>
    public bool Force { get; init; }

    public TimeSpan StopTimeout { get; init; } = TimeSpan.FromSeconds(30);

    public TimeSpan HealthTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Blue-green: keep the slot traffic leaves running (it is stopped after <see cref="Drain"/> otherwise).</summary>
    public bool KeepPrevious { get; init; }

    /// <summary>Blue-green: how long the slot traffic leaves keeps running after the switch before it stops.</summary>
    public TimeSpan Drain { get; init; } = TimeSpan.FromSeconds(2);
}

/// <summary>What a rollback will go back to, resolved before anything is asked or changed (for the prompt and the run).</summary>
public sealed class RollbackPlan
{
    internal RollbackPlan(RollbackRequest request, string description, string? release = null, string? current = null)
    {
        Request = request;
        Description = description;
        Release = release;
        Current = current;
    }

    public RollbackRequest Request { get; }

    /// <summary>"from release A to B", "to the previous container": what ShouldProcess names.</summary>
    public string Description { get; }

    /// <summary>The release (or, for Docker, the previous container's image) it goes back to, as seen before the lock.</summary>
    public string? Release { get; }

    /// <summary>The release or image that runs now, as seen before the lock.</summary>
    public string? Current { get; }

    /// <summary>The same plan for a run that is part of roll <paramref name="rollId"/> (made before the roll had an id).</summary>
    internal RollbackPlan ForRoll(string rollId) => new(new RollbackRequest
    {
        Release = Request.Release, Backup = Request.Backup, RestoreEnvFile = Request.RestoreEnvFile, RollId = rollId, ClearStaleLock = Request.ClearStaleLock,
        Force = Request.Force, StopTimeout = Request.StopTimeout, HealthTimeout = Request.HealthTimeout, KeepPrevious = Request.KeepPrevious, Drain = Request.Drain,
    }, Description, Release, Current);
}
