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
    public const int SshPort = 22;
    public const int ConnectTimeoutSec = 10;
    public const int CommandTimeoutSec = 300;
    public const ServiceManagerKind ServiceManager = ServiceManagerKind.Systemd;

    public static IReadOnlyList<string> RequiredVariables { get; } =
        new[] { "STELLAR_RPC_URL", "VAULT_CONTRACT_ID", "DATABASE_URL" };
}
