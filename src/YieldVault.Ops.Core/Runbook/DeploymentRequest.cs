using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;

namespace YieldVault.Ops.Runbook;

public enum MigrationTiming
{
    /// <summary>After the old version stopped, before the new one starts (the runbook's order).</summary>
    AfterStop,

    /// <summary>While the old version still serves (for backward-compatible migrations): less downtime.</summary>
    BeforeStop,
}

/// <summary>What to deploy and how (Invoke-VaultDeployment's parameters, as Core sees them).</summary>
public sealed class DeploymentRequest
{
    public string? Ref { get; init; }

    public string? Image { get; init; }

    public string? Artifact { get; init; }

    public string? Sha256 { get; init; }

    /// <summary>Docker: the registry credential for the pull; null: the host's ~/.docker/config.json auth, if any.</summary>
    public RegistryCredential? RegistryCredential { get; init; }

    /// <summary>The run's redactor, which learns the registry secrets a pull uses.</summary>
    public SecretRedactor? Redactor { get; init; }

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

    /// <summary>Smoke tests after verification (runbook Step 8); a failure rolls back. Returns a failure text or null.</summary>
    public Func<VaultTarget, CancellationToken, Task<string?>>? Smoke { get; init; }

    public string Source => Ref ?? Image ?? Artifact ?? "";
}
