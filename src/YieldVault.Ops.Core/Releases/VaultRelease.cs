namespace YieldVault.Ops;

/// <summary>A prepared release directory under releases/.</summary>
public sealed class VaultRelease
{
    public VaultTarget? Target { get; init; }

    /// <summary>"20261126T040000Z-1d137c0" (time of preparation, short commit).</summary>
    public string Name { get; init; } = "";

    public string Path { get; init; } = "";

    public bool IsCurrent { get; init; }

    public override string ToString() => Name;
}
