using System.Threading;
using System.Threading.Tasks;

namespace YieldVault.Ops.Runbook;

/// <summary>
/// How a new version is put in place: a release directory and a link switch (git, artifact), or a new
/// container (Docker). Everything before <see cref="SwitchAsync"/> happens while the old version serves.
/// </summary>
public interface IDeploymentStrategy
{
    /// <summary>What runs now (release name or container image), for the result and for rollback.</summary>
    Task<string?> CurrentAsync(CancellationToken cancellationToken);

    /// <summary>Builds or pulls the new version; returns (name, expected version, expected commit).</summary>
    Task<(string Name, string? Version, string? Commit)> PrepareAsync(CancellationToken cancellationToken);

    /// <summary>The directory migrations run in (the new release; the current app for Docker).</summary>
    string MigrationDirectory { get; }

    /// <summary>
    /// The service manager replaces the running version itself, task by task (a Swarm rolling update): the runner neither
    /// stops nor starts the service around <see cref="SwitchAsync"/> and <see cref="SwitchBackAsync"/>, which do the whole
    /// update and rollback and return when the engine has finished them.
    /// </summary>
    bool IsRollingUpdate { get; }

    /// <summary>After the stop: make the new version the one the service manager starts.</summary>
    Task SwitchAsync(CancellationToken cancellationToken);

    /// <summary>After a failure: make the previous version the one the service manager starts.</summary>
    Task SwitchBackAsync(CancellationToken cancellationToken);

    /// <summary>A failed preparation or a rolled-back version: remove what was made for it.</summary>
    Task DiscardAsync(CancellationToken cancellationToken);

    /// <summary>After success: keep the last releases or containers, remove older ones.</summary>
    Task PruneAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Before the stop: that the version serving now could be brought back if the new one fails (it still exists and
    /// would start, the paths the rollback writes are writable, the disk has room). Returns what was checked; throws
    /// <see cref="ErrorIds.RollbackNotReady"/> otherwise.
    /// </summary>
    Task<string> CheckRollbackReadyAsync(CancellationToken cancellationToken);

    /// <summary>Commands shown by -WhatIf for the preparation.</summary>
    string[] PlanPrepare();
}
