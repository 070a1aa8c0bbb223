using System;
using System.Collections.Generic;

namespace YieldVault.Ops;

/// <summary>The state of one backend at a glance (runbook Step 1: 1.1 service, 1.2 health and version, 1.3 resources).</summary>
public sealed class VaultBackendStatus
{
    /// <summary>The target this is about (shown by name; binds to -Target of the next cmdlet).</summary>
    public VaultTarget? Target { get; init; }

    public string Environment { get; init; } = "";

    /// <summary>"local" or "deploy@app1.internal".</summary>
    public string Host { get; init; } = "";

    public ServiceManagerKind Manager { get; init; }

    public ServiceStatus State { get; init; } = ServiceStatus.Unknown;

    public int? Pid { get; init; }

    public TimeSpan? Uptime { get; init; }

    public int? Restarts { get; init; }

    /// <summary>Docker and Swarm: the image the container (the service's spec) runs.</summary>
    public string? Image { get; init; }

    /// <summary>Swarm: tasks running / tasks the service asks for ("1/1"); null for the other managers.</summary>
    public string? Replicas { get; init; }

    /// <summary>Swarm: the state of the service's last update (updating, completed, paused, rollback_completed ...).</summary>
    public string? UpdateState { get; init; }

    /// <summary>Swarm: the service's tasks, newest first, with their errors.</summary>
    public IReadOnlyList<VaultSwarmTask> Tasks { get; init; } = Array.Empty<VaultSwarmTask>();

    public string? Version { get; init; }

    public string? Commit { get; init; }

    /// <summary>/health said healthy; null when the backend could not be asked.</summary>
    public bool? Healthy { get; init; }

    public bool? Ready { get; init; }

    /// <summary>The health checks ("database=up stellarRpc=down").</summary>
    public string? Checks { get; init; }

    /// <summary>Established TCP connections to the backend's port (includes this probe's own, if any is open).</summary>
    public int? ActiveConnections { get; init; }

    // -Detailed (runbook 1.3)
    public double? CpuPercent { get; init; }

    public double? MemoryMB { get; init; }

    /// <summary>Free space where the app lives, in MB.</summary>
    public double? AppDiskFreeMB { get; init; }

    /// <summary>Free space where the log lives, in MB.</summary>
    public double? LogDiskFreeMB { get; init; }

    public int? OpenFiles { get; init; }

    /// <summary>What could not be read, and why (the rest of the object is still true).</summary>
    public IReadOnlyList<string> Problems { get; init; } = Array.Empty<string>();

    public DateTimeOffset Timestamp { get; init; } = DateTimeOffset.UtcNow;

    /// <summary>"3d 4h", "12m 5s" for the table view.</summary>
    public string UptimeText => Uptime is not { } u ? "" :
        u.TotalDays >= 1 ? $"{(int)u.TotalDays}d {u.Hours}h" :
        u.TotalHours >= 1 ? $"{(int)u.TotalHours}h {u.Minutes}m" :
        u.TotalMinutes >= 1 ? $"{(int)u.TotalMinutes}m {u.Seconds}s" : $"{(int)u.TotalSeconds}s";
}
