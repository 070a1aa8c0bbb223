namespace YieldVault.Ops;

/// <summary>One smoke check of runbook Step 8 (or 9.2 through a public URL) on one target.</summary>
public sealed class VaultSmokeResult
{
    /// <summary>The target this is about (shown by name; binds to -Target of the next cmdlet).</summary>
    public VaultTarget? Target { get; init; }

    /// <summary>The check: VaultSummary, Health, DatabaseRead, ..., or the name of one of the target's own checks.</summary>
    public string Name { get; init; } = "";

    public bool Passed { get; init; }

    /// <summary>The HTTP status of the answer (for a burst, the first one that failed, else the last); null when none came.</summary>
    public int? StatusCode { get; init; }

    /// <summary>How long the answer took (for a burst, the slowest; for the rate-limit probe, the whole probe).</summary>
    public double? LatencyMs { get; init; }

    /// <summary>Why the check failed, or a short summary of what passed. Never holds a secret.</summary>
    public string Detail { get; init; } = "";

    /// <summary>What was asked: the path ("/api/v1/transactions?limit=1"), or with -BaseUrl the public URL (never with credentials).</summary>
    public string Url { get; init; } = "";

    /// <summary>The backend answered 503 because MAINTENANCE_MODE is set, so the check could not run.</summary>
    internal bool BlockedByMaintenance { get; init; }
}
