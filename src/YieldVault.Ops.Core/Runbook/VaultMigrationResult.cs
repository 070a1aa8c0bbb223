namespace YieldVault.Ops;

public enum MigrationAction
{
    Status,
    Deploy,
    Validate,
}

/// <summary>Runbook 5.2: one migration command and what it said.</summary>
public sealed class VaultMigrationResult
{
    public VaultTarget? Target { get; init; }

    public MigrationAction Action { get; init; }

    public string Command { get; init; } = "";

    public int ExitCode { get; init; }

    public bool Succeeded => ExitCode == 0;

    /// <summary>The last lines of the tool's output (secrets hidden).</summary>
    public string Output { get; init; } = "";

    public double DurationMs { get; init; }
}
