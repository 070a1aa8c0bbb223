namespace YieldVault.Ops.Releases;

/// <summary>A new release, built and verified while the old one still serves.</summary>
public sealed class PreparedRelease
{
    public string Name { get; init; } = "";

    public string Path { get; init; } = "";

    /// <summary>Where the backend runs from in it: <see cref="Path"/>, or the target's AppSubdirectory in it.</summary>
    public string AppDirectory { get; init; } = "";

    /// <summary>The commit it was built from (git), or the artifact's SHA-256.</summary>
    public string Commit { get; init; } = "";

    /// <summary>package.json's version, which /api/v1/version must report after the switch.</summary>
    public string? Version { get; init; }

    /// <summary>What was asked for: the ref, or the artifact's file name.</summary>
    public string Source { get; init; } = "";
}
