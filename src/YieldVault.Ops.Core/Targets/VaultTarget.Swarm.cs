namespace YieldVault.Ops;

/// <summary>
/// How a Swarm service is updated: the order of each task's replacement, how many at once, the pause between them and
/// how long the engine watches a new task for a failure (after which it rolls the update back by itself).
/// </summary>
public sealed partial record VaultTarget
{
    /// <summary>
    /// Swarm: stop the old task before its replacement starts (StopFirst, the only order a host-mode published port or a
    /// single node allows), or start the new one first (StartFirst: no gap, where the network lets two tasks share the
    /// port: the routing mesh on a multi-node swarm).
    /// </summary>
    public SwarmUpdateOrder SwarmUpdateOrder { get; init; } = SwarmUpdateOrder.StopFirst;

    /// <summary>Swarm: how many tasks are replaced at once.</summary>
    public int SwarmUpdateParallelism { get; init; } = 1;

    /// <summary>Swarm: seconds between replacing one group of tasks and the next.</summary>
    public int SwarmUpdateDelaySec { get; init; }

    /// <summary>Swarm: seconds the engine watches each new task for a failure (exit, unhealthy) before it counts as updated.</summary>
    public int SwarmMonitorSec { get; init; } = RunbookDefaults.SwarmMonitorSec;

    private (string Key, string Message)? FindSwarmProblem()
    {
        if (SwarmUpdateParallelism is < 1 or > 100)
        {
            return ("SwarmUpdateParallelism", $"SwarmUpdateParallelism {SwarmUpdateParallelism} is outside 1-100.");
        }

        if (SwarmUpdateDelaySec is < 0 or > 3600)
        {
            return ("SwarmUpdateDelaySec", $"SwarmUpdateDelaySec {SwarmUpdateDelaySec} is outside 0-3600 seconds.");
        }

        if (SwarmMonitorSec is < 1 or > 3600)
        {
            return ("SwarmMonitorSec", $"SwarmMonitorSec {SwarmMonitorSec} is outside 1-3600 seconds.");
        }

        if (ServiceManager == ServiceManagerKind.Swarm && Proxy != ProxyKind.None)
        {
            return ("Proxy", "a Swarm service is updated by the engine's own rolling update; blue-green behind nginx (Proxy) applies to systemd, PM2 and Docker targets.");
        }

        return null;
    }
}

/// <summary>The order in which a Swarm update replaces a task (the engine's update_config.order).</summary>
public enum SwarmUpdateOrder
{
    /// <summary>stop-first: the old task stops, then the new one starts (a short gap per task).</summary>
    StopFirst,

    /// <summary>start-first: the new task starts and runs beside the old one before the old one stops.</summary>
    StartFirst,
}
