using System.Collections.Generic;

namespace YieldVault.Ops;

/// <summary>The values the runbook uses, so a target only states where it differs.</summary>
public static class RunbookDefaults
{
    public const int Port = 3000;
    public const string AppPath = "/app/yieldvault-backend";
    public const string EnvFile = ".env";
    public const string LogPath = "/var/log/yieldvault/backend.log";
    public const string BackupPath = "/var/backups/yieldvault";
    public const string ServiceName = "yieldvault-backend";
    public const string Environment = "production";
    public const string HealthPath = "/health";
    public const string ReadyPath = "/ready";
    public const string VersionPath = "/api/v1/version";
    public const string StatePath = "/var/lib/yieldvault-ops";

    /// <summary>Swarm: how long the engine watches each updated task for a failure before it goes on (its own default is 5 s).</summary>
    public const int SwarmMonitorSec = 10;
    public const int SshPort = 22;
    public const int ConnectTimeoutSec = 10;
    public const int CommandTimeoutSec = 300;
    public const ServiceManagerKind ServiceManager = ServiceManagerKind.Systemd;

    /// <summary>The largest artifact a deployment fetches (-Artifact), in MB.</summary>
    public const int MaxArtifactSizeMB = 500;

    /// <summary>How long an artifact's download may take, in seconds.</summary>
    public const int ArtifactTimeoutSec = 600;

    public const string HealthJsonPath = "status";

    public static IReadOnlyList<string> RequiredVariables { get; } =
        new[] { "STELLAR_RPC_URL", "VAULT_CONTRACT_ID", "DATABASE_URL" };

    /// <summary>The runbook's /health answers 200 when healthy (503 when not).</summary>
    public static IReadOnlyList<int> HealthyStatusCodes { get; } = new[] { 200 };

    /// <summary>
    /// What the health status field says when healthy: the runbook's "healthy", and what other Node backends answer
    /// ("ok"; "UP" of Spring/Kubernetes-style checks; "pass" of the IETF health-check draft). Compared ignoring case.
    /// </summary>
    public static IReadOnlyList<string> HealthyValues { get; } = new[] { "healthy", "ok", "up", "pass" };

    /// <summary>
    /// The runbook backend's start-up log lines (Step 7.4); "{Port}" stands for the target's port. A target's
    /// StartupMarkers replace them.
    /// </summary>
    public static IReadOnlyList<string> StartupMarkers { get; } = new[] { "Server started on port {Port}", "Database connected", "Stellar RPC connected" };
}
