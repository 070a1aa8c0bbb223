using System;

namespace YieldVault.Ops;

/// <summary>Which version of the backend a target runs (runbook 1.2 "Check current version", 7.3).</summary>
public sealed class VaultBackendVersion
{
    /// <summary>The target this is about (shown by name; binds to -Target of the next cmdlet).</summary>
    public VaultTarget? Target { get; init; }

    /// <summary>The version the backend reports (e.g. "1.3.0"), or null when it could not be asked.</summary>
    public string? Version { get; init; }

    /// <summary>The git commit it runs.</summary>
    public string? Commit { get; init; }

    /// <summary>The nearest git tag of that commit, when read from git.</summary>
    public string? Tag { get; init; }

    /// <summary>
    /// Where it was read: "api" (the version endpoint); when there is none or it did not answer, what is deployed:
    /// "git" (package.json and the git commit of the app directory), "package.json" (no git checkout), "image" (the Docker
    /// container's image labels or tag); "none" when nothing told.
    /// </summary>
    public string Source { get; init; } = "api";

    public DateTimeOffset? StartedAt { get; init; }

    public string? NodeVersion { get; init; }

    public string? Error { get; init; }

    public string ShortCommit => Commit is { Length: > 12 } c ? c.Substring(0, 12) : Commit ?? "";

    public override string ToString() => Version is null ? ShortCommit : $"{Version} ({ShortCommit})";
}
