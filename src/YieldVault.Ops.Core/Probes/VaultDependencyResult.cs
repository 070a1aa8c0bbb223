namespace YieldVault.Ops;

/// <summary>One dependency of the backend, checked from where the backend runs (pre-deployment checklist).</summary>
public sealed class VaultDependencyResult
{
    /// <summary>The target this is about (shown by name; binds to -Target of the next cmdlet).</summary>
    public VaultTarget? Target { get; init; }

    /// <summary>"database" or "stellarRpc".</summary>
    public string Dependency { get; init; } = "";

    /// <summary>What was checked, without credentials: "db.internal:5432/yieldvault", "https://rpc.example/".</summary>
    public string Endpoint { get; init; } = "";

    public bool Healthy { get; init; }

    public double? LatencyMs { get; init; }

    /// <summary>Why it failed: DependencyRefused, DependencyDnsFailed, DependencyAuthFailed, DependencyTimeout, ...</summary>
    public string? ErrorId { get; init; }

    public string? Reason { get; init; }

    /// <summary>PostgreSQL's version, or the RPC's health status and latest ledger.</summary>
    public string? Detail { get; init; }
}
