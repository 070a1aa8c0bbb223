using System;
using System.Collections.Generic;

namespace YieldVault.Ops;

/// <summary>One reading of Watch-VaultBackend (runbook Step 10.1): health, the log's errors, restarts, memory, latency.</summary>
public sealed class VaultWatchSample
{
    public VaultTarget? Target { get; init; }

    public DateTimeOffset Time { get; init; }

    /// <summary>Since the watch started.</summary>
    public TimeSpan Elapsed { get; init; }

    /// <summary>The health endpoint said healthy (under the target's health rules).</summary>
    public bool Healthy { get; init; }

    /// <summary>The health endpoint's status code; null when it did not answer.</summary>
    public int? StatusCode { get; init; }

    /// <summary>How long the health endpoint took to answer.</summary>
    public double LatencyMs { get; init; }

    /// <summary>What the service manager says.</summary>
    public ServiceStatus State { get; init; } = ServiceStatus.Unknown;

    /// <summary>Restarts since the watch started (by the manager, or a new process id).</summary>
    public int Restarts { get; init; }

    /// <summary>Resident memory of the backend's process, when the manager or /proc tells it.</summary>
    public double? MemoryMB { get; init; }

    public double? CpuPercent { get; init; }

    /// <summary>Error lines the log gained since the previous reading.</summary>
    public int NewErrors { get; init; }

    /// <summary>Error lines the log gained since the watch started.</summary>
    public int Errors { get; init; }

    /// <summary>Errors per minute since the watch started.</summary>
    public double ErrorsPerMinute { get; init; }

    /// <summary>Health checks that failed since the watch started (this one included).</summary>
    public int FailedHealthChecks { get; init; }

    /// <summary>The newest error lines of this reading (secrets hidden), at most three.</summary>
    public IReadOnlyList<string> ErrorLines { get; init; } = Array.Empty<string>();

    /// <summary>The -FailOn thresholds this reading crossed ("Restarts 1 > 0").</summary>
    public IReadOnlyList<string> Breaches { get; init; } = Array.Empty<string>();
}
