using System;

namespace YieldVault.Ops;

/// <summary>Runbook 2.1: what was running, and a copy of its env file, to come back to.</summary>
public sealed class VaultBackupRecord
{
    public VaultTarget? Target { get; init; }

    /// <summary>The backup directory on the host.</summary>
    public string Path { get; init; } = "";

    public DateTimeOffset CreatedAt { get; init; }

    /// <summary>The release the app path pointed to (release layout), or null.</summary>
    public string? Release { get; init; }

    public string? Commit { get; init; }

    public string? Version { get; init; }

    /// <summary>Docker: the image the container ran.</summary>
    public string? Image { get; init; }

    /// <summary>The env file copy (mode 600), or null when there was no env file.</summary>
    public string? EnvFileCopy { get; init; }

    /// <summary>The SHA-256 (lower-case hex) of the env file copy when it was taken (also in backup.json); a restore checks it.</summary>
    public string? EnvFileSha256 { get; init; }

    public string? NodeModulesArchive { get; init; }

    public override string ToString() => Path;
}
