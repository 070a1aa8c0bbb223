namespace YieldVault.Ops;

/// <summary>What a healthy answer of the health endpoint looks like (the target's HealthResponse setting).</summary>
public enum HealthResponseKind
{
    /// <summary>JSON whose value at HealthJsonPath is one of HealthyValues (or JSON true), with one of HealthyStatusCodes.</summary>
    Json,

    /// <summary>Plain text: an empty body or one of HealthyValues ("OK"), with one of HealthyStatusCodes. JSON is read as for Json.</summary>
    Text,

    /// <summary>Only the status code counts; the body is not read.</summary>
    StatusCode,
}

/// <summary>Which tool installs a release's dependencies (the target's PackageManager setting).</summary>
public enum PackageManagerKind
{
    /// <summary>pnpm when pnpm-lock.yaml is there and pnpm is installed, yarn likewise with yarn.lock, else npm.</summary>
    Auto,

    Npm,

    Pnpm,

    Yarn,
}

/// <summary>Which built-in smoke checks run before a target's own (the target's SmokePreset setting).</summary>
public enum SmokePreset
{
    /// <summary>The runbook's Step 8 checks of the YieldVault API (summary, metrics, health, burst, database read, Stellar RPC).</summary>
    Runbook,

    /// <summary>Only the health check (with the target's health rules); the target's SmokeChecks add the rest.</summary>
    None,
}
