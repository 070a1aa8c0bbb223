using System;
using System.Collections.Generic;

namespace YieldVault.Ops;

/// <summary>The answer of a backend's /health (and, when asked, /ready) endpoint (runbook 1.2 and 7.1-7.2).</summary>
public sealed class VaultHealthResult
{
    /// <summary>The target this is about (shown by name; binds to -Target of the next cmdlet).</summary>
    public VaultTarget? Target { get; init; }

    /// <summary>True when /health answered 200 with status "healthy" (and /ready said ready, when checked).</summary>
    public bool Healthy { get; init; }

    /// <summary>The "status" field of the health response ("healthy", "unhealthy", ...), or null.</summary>
    public string? Status { get; init; }

    public int? StatusCode { get; init; }

    /// <summary>The "checks" object: api, database, stellarRpc and their "up"/"down".</summary>
    public IReadOnlyDictionary<string, string> Checks { get; init; } = new Dictionary<string, string>();

    public double LatencyMs { get; init; }

    /// <summary>Readiness (runbook 7.2) when it was checked; null otherwise.</summary>
    public bool? Ready { get; init; }

    /// <summary>The readiness "dependencies" object, when readiness was checked.</summary>
    public IReadOnlyDictionary<string, bool> Dependencies { get; init; } = new Dictionary<string, bool>();

    public string? Environment { get; init; }

    public double? UptimeSeconds { get; init; }

    /// <summary>The URL as seen on the server (http://localhost:PORT/health), whatever path reached it.</summary>
    public string Url { get; init; } = "";

    /// <summary>Why the backend could not be asked or answered badly; null when it answered.</summary>
    public string? Error { get; init; }

    public DateTimeOffset Timestamp { get; init; } = DateTimeOffset.UtcNow;

    /// <summary>Wait-VaultBackendHealthy: how many checks it took.</summary>
    public int? Attempts { get; init; }

    /// <summary>Wait-VaultBackendHealthy: how long it waited until healthy.</summary>
    public double? WaitedMs { get; init; }

    /// <summary>"database=up stellarRpc=down" for the table view.</summary>
    public string ChecksSummary
    {
        get
        {
            var parts = new List<string>();
            foreach (var pair in Checks)
            {
                parts.Add(pair.Key + "=" + pair.Value);
            }

            return string.Join(" ", parts);
        }
    }
}
