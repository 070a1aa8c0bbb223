using System;
using System.Collections.Generic;

namespace YieldVault.Ops;

/// <summary>What the service manager says about the backend process (runbook 1.1).</summary>
public enum ServiceStatus
{
    /// <summary>Running and not restarting.</summary>
    Running,

    /// <summary>Stopped on purpose (or never started).</summary>
    Stopped,

    /// <summary>Exited with an error and not restarting.</summary>
    Failed,

    /// <summary>Exits and is restarted over and over.</summary>
    CrashLooping,

    Starting,

    Stopping,

    /// <summary>The manager does not know the service (not installed, wrong name).</summary>
    NotFound,

    Unknown,
}

/// <summary>One reading of the backend's process from its service manager (systemd, PM2, Docker or Swarm).</summary>
public sealed class ServiceState
{
    public ServiceManagerKind Manager { get; init; }

    /// <summary>The unit, PM2 app or container name.</summary>
    public string ServiceName { get; init; } = "";

    public ServiceStatus Status { get; init; } = ServiceStatus.Unknown;

    /// <summary>Main process id on the host (for Docker, the container's init process as the host sees it).</summary>
    public int? Pid { get; init; }

    public DateTimeOffset? StartedAt { get; init; }

    /// <summary>How many times the manager restarted the process.</summary>
    public int? Restarts { get; init; }

    public long? MemoryBytes { get; init; }

    public double? CpuPercent { get; init; }

    /// <summary>The V8 heap in use, where the manager reports it (PM2's metrics); null elsewhere.</summary>
    public long? HeapUsedBytes { get; init; }

    /// <summary>Docker and Swarm: the image the container (the service's spec) runs.</summary>
    public string? Image { get; init; }

    /// <summary>Docker only: the container's own health check state (healthy, unhealthy, starting).</summary>
    public string? ContainerHealth { get; init; }

    /// <summary>Published ports, e.g. "127.0.0.1:3000->3000/tcp".</summary>
    public IReadOnlyList<string> Ports { get; init; } = Array.Empty<string>();

    /// <summary>The manager's own words (systemd "failed (Result: exit-code)", PM2 "errored", Docker "restarting").</summary>
    public string? Detail { get; init; }

    /// <summary>Swarm only: the tasks running now.</summary>
    public int? ReplicasRunning { get; init; }

    /// <summary>Swarm only: the tasks the service asks for (0 when it is scaled down).</summary>
    public int? ReplicasDesired { get; init; }

    /// <summary>Swarm only: the state of the service's last update (updating, completed, paused, rollback_completed ...), if any.</summary>
    public string? UpdateState { get; init; }

    /// <summary>Swarm only: the service's tasks, newest first, with their errors.</summary>
    public IReadOnlyList<VaultSwarmTask> Tasks { get; init; } = Array.Empty<VaultSwarmTask>();

    public TimeSpan? Uptime => Status == ServiceStatus.Running && StartedAt is { } started ? DateTimeOffset.UtcNow - started : null;

    public bool IsRunning => Status == ServiceStatus.Running;
}
