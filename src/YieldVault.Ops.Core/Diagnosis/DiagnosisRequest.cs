using System;
using System.Collections.Generic;
using System.Linq;

namespace YieldVault.Ops.Diagnosis;

/// <summary>What Get-VaultDiagnosis checks and how long it samples.</summary>
public sealed class DiagnosisRequest
{
    public static readonly IReadOnlyList<VaultSymptom> AllSymptoms = (VaultSymptom[])Enum.GetValues(typeof(VaultSymptom));

    /// <summary>The runbook's troubleshooting issues to check (all of them by default).</summary>
    public IReadOnlyCollection<VaultSymptom> Symptoms { get; init; } = AllSymptoms;

    /// <summary>How long memory, CPU and I/O wait are sampled (one reading a second).</summary>
    public TimeSpan Sample { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How many requests each endpoint gets for its latency.</summary>
    public int Requests { get; init; } = 10;

    /// <summary>The read endpoints to time besides health; null: <see cref="DefaultReadPaths"/>.</summary>
    public IReadOnlyList<string>? ReadPaths { get; init; }

    /// <summary>A 95th percentile above this is slow.</summary>
    public TimeSpan Slow { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>
    /// The runbook backend's database read and its Stellar RPC read (the smoke checks' DatabaseRead and StellarRpc); for
    /// another backend, the GET paths of its own smoke checks (at most two), else none.
    /// </summary>
    public static IReadOnlyList<string> DefaultReadPaths(VaultTarget target) =>
        target.SmokePreset == SmokePreset.Runbook
            ? new[] { "/api/v1/transactions?limit=1", "/api/v1/vault/total-assets" }
            : target.SmokeChecks.Where(c => string.Equals(c.Method, "GET", StringComparison.OrdinalIgnoreCase)).Select(c => c.Path).Distinct(StringComparer.Ordinal).Take(2).ToArray();
}
