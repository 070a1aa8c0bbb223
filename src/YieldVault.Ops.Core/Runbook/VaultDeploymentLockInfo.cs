using System;

namespace YieldVault.Ops;

/// <summary>
/// A target's deployment lock as Get-VaultDeploymentLock reads it (and Unlock-VaultDeployment clears it): who holds it,
/// since when, when it was last refreshed, and whether it is stale. The lock's token is never shown.
/// </summary>
public sealed class VaultDeploymentLockInfo
{
    public VaultTarget? Target { get; init; }

    /// <summary>The lock file on the target's host (&lt;StatePath&gt;/&lt;service&gt;/deploy.lock).</summary>
    public string Path { get; init; } = "";

    /// <summary>The run that holds it (its journal is JournalPath); empty for a lock without one (an empty file).</summary>
    public string? RunId { get; init; }

    /// <summary>The machine the holding run runs on (its host name).</summary>
    public string? Machine { get; init; }

    /// <summary>The process id of the holding run on that machine.</summary>
    public int? ProcessId { get; init; }

    /// <summary>The user who started the holding run on that machine.</summary>
    public string? User { get; init; }

    /// <summary>When the holding run took the lock.</summary>
    public DateTimeOffset? StartedAt { get; init; }

    /// <summary>How long the lock has been held (from StartedAt until now).</summary>
    public TimeSpan? HeldFor { get; init; }

    /// <summary>Since the lock was last refreshed: a live run refreshes it every 10 s.</summary>
    public TimeSpan Age { get; init; }

    /// <summary>The holding run is gone (its process died, it ended without removing the lock, or it stopped refreshing the lock).</summary>
    public bool IsStale { get; init; }

    /// <summary>Why it is stale (empty when it is not).</summary>
    public string StaleReason { get; init; } = "";

    /// <summary>The holding run's journal on the target's host.</summary>
    public string? JournalPath { get; init; }

    /// <summary>Unlock-VaultDeployment: the lock was removed by this call.</summary>
    public bool Cleared { get; set; }

    /// <summary>held, stale, or cleared (by Unlock-VaultDeployment).</summary>
    public string State => Cleared ? "cleared" : IsStale ? "stale" : "held";
}
