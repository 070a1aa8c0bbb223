using System;
using System.Collections.Generic;
using YieldVault.Ops.Smoke;

namespace YieldVault.Ops.Runbook;

/// <summary>What to deploy and how (Invoke-VaultDeployment's parameters, as Core sees them).</summary>
public sealed class DeploymentRequest
{
    public string? Ref { get; init; }

    public string? Image { get; init; }

    public string? Artifact { get; init; }

    public string? Sha256 { get; init; }

    public string? Incident { get; init; }

    public bool NoRollback { get; init; }

    /// <summary>Clear a stale lock left by a dead run.</summary>
    public bool ClearStaleLock { get; init; }

    public bool Maintenance { get; init; }

    public bool BackupNodeModules { get; init; }

    public bool SkipMigrations { get; init; }

    public MigrationTiming MigrationTiming { get; init; } = MigrationTiming.AfterStop;

    /// <summary>The migration command instead of the target's preset.</summary>
    public IReadOnlyList<string>? MigrationCommand { get; init; }

    public TimeSpan StopTimeout { get; init; } = TimeSpan.FromSeconds(30);

    public TimeSpan HealthTimeout { get; init; } = TimeSpan.FromSeconds(60);

    public TimeSpan ProbeInterval { get; init; } = TimeSpan.FromMilliseconds(25);

    /// <summary>The smoke checks after verification (runbook Step 8; a failure rolls back), or null to skip them.</summary>
    public SmokeOptions? Smoke { get; init; }

    public string Source => Ref ?? Image ?? Artifact ?? "";
}
