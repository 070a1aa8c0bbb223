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

    /// <summary>Docker: the registry credential for the pull; null: the host's ~/.docker/config.json auth, if any.</summary>
    public RegistryCredential? RegistryCredential { get; init; }

    /// <summary>The run's redactor, which learns the registry secrets a pull uses.</summary>
    public SecretRedactor? Redactor { get; init; }

    public string? Incident { get; init; }

    /// <summary>The roll this deployment is part of (Invoke-VaultDeployment over a fleet in batches), for the result and the history.</summary>
    public string? RollId { get; init; }

    public bool NoRollback { get; init; }

    /// <summary>Clear a stale lock left by a dead run.</summary>
    public bool ClearStaleLock { get; init; }

    /// <summary>Deploy although the version serving now could not be brought back (<see cref="ErrorIds.RollbackNotReady"/>).</summary>
    public bool Force { get; init; }

    public bool Maintenance { get; init; }

    public bool BackupNodeModules { get; init; }

    public bool SkipMigrations { get; init; }

    /// <summary>When migrations run; null: the strategy's default (in place: after the stop; blue-green: before the new slot starts).</summary>
    public MigrationTiming? MigrationTiming { get; init; }

    /// <summary>In place or blue-green (Default: blue-green where the target has a proxy).</summary>
    public DeploymentStrategyKind Strategy { get; init; } = DeploymentStrategyKind.Default;

    /// <summary>Blue-green: how long the previous slot keeps running after the switch (and its old nginx workers are gone) before it stops.</summary>
    public TimeSpan Drain { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Blue-green: keep the previous slot running (warm) for an instant switch back; it is not stopped.</summary>
    public bool KeepPrevious { get; init; }

    /// <summary>The strategy this request gets on <paramref name="target"/>.</summary>
    public DeploymentStrategyKind StrategyFor(VaultTarget target) =>
        Strategy != DeploymentStrategyKind.Default ? Strategy : target.Proxy == ProxyKind.None ? DeploymentStrategyKind.InPlace : DeploymentStrategyKind.BlueGreen;

    /// <summary>When migrations run on <paramref name="target"/>.</summary>
    public MigrationTiming TimingFor(VaultTarget target) =>
        MigrationTiming ?? (StrategyFor(target) == DeploymentStrategyKind.BlueGreen ? Ops.MigrationTiming.BeforeStop : Ops.MigrationTiming.AfterStop);

    /// <summary>The migration command instead of the target's preset.</summary>
    public IReadOnlyList<string>? MigrationCommand { get; init; }

    public TimeSpan StopTimeout { get; init; } = TimeSpan.FromSeconds(30);

    public TimeSpan HealthTimeout { get; init; } = TimeSpan.FromSeconds(60);

    public TimeSpan ProbeInterval { get; init; } = TimeSpan.FromMilliseconds(25);

    /// <summary>In place: the longest the backend may be down (from the stop until the new version is verified) before the run rolls back; null: no bound.</summary>
    public TimeSpan? MaxDowntime { get; init; }

    /// <summary>After verification, watch the new version this long (runbook 10.1); a failed health check, a restart or an error line rolls back. Null: no watch.</summary>
    public TimeSpan? Watch { get; init; }

    /// <summary>The operator of a guided run (Invoke-VaultRunbook), asked before each step and after a failed one; null: nobody is asked.</summary>
    public IRunbookStepGate? StepGate { get; init; }

    /// <summary>The smoke checks after verification (runbook Step 8; a failure rolls back), or null to skip them.</summary>
    public SmokeOptions? Smoke { get; init; }

    /// <summary>What is deployed, for progress, the lock, journals and history (an artifact URL without its query values).</summary>
    public string Source => Ref ?? Image ?? (Artifact is null ? "" : Releases.ArtifactAddress.Display(Artifact));
}
