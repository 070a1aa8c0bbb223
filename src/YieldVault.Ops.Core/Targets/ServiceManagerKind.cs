namespace YieldVault.Ops;

/// <summary>How the backend process is supervised on a target (runbook 1.1).</summary>
public enum ServiceManagerKind
{
    Systemd,
    Pm2,
    Docker,

    /// <summary>A Docker Swarm service named ServiceName: the engine's own rolling update and rollback, driven and verified by the module.</summary>
    Swarm,
}

/// <summary>How commands reach the target's host.</summary>
public enum TransportKind
{
    Local,
    Ssh,
}

/// <summary>Which migration tool runs runbook 5.2 (Invoke-VaultMigration).</summary>
public enum MigrationPreset
{
    /// <summary>The runbook's: npx prisma migrate status / deploy, npx prisma validate.</summary>
    Prisma,

    /// <summary>node-pg-migrate (pure npm): npx node-pg-migrate up [--dry-run].</summary>
    NodePgMigrate,

    /// <summary>The package's own scripts: npm run migrate (and migrate:status / migrate:validate when present).</summary>
    Npm,

    /// <summary>No migrations.</summary>
    None,
}
