namespace YieldVault.Ops;

/// <summary>One line of the runbook's pre-deployment checklist, checked.</summary>
public sealed class VaultReadinessCheck
{
    /// <summary>The target this is about (shown by name; binds to -Target of the next cmdlet).</summary>
    public VaultTarget? Target { get; init; }

    /// <summary>BackupDirectoryWritable, DatabaseHealthy, StellarRpcHealthy, DiskSpace, Tools, EnvFile, NoDeploymentLock.</summary>
    public string Check { get; init; } = "";

    public bool Passed { get; init; }

    /// <summary>What was found, in words (names and numbers only, never a value from the env file).</summary>
    public string Reason { get; init; } = "";
}
