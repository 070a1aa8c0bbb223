namespace YieldVault.Ops;

/// <summary>Error ids: Blue-green, Swarm, rolls and the on-call session (the ids and their rules: ErrorIds.cs).</summary>
public static partial class ErrorIds
{
    // Blue-green: nginx in front of two slots, the upstream file, and switching traffic between the slots.

    /// <summary>A blue-green deployment, Switch-VaultTraffic or Get-VaultTrafficState on a target without a proxy (Proxy = 'Nginx' in its settings).</summary>
    public const string ProxyNotConfigured = nameof(ProxyNotConfigured);

    /// <summary>-Maintenance was given with a blue-green deployment, which keeps the old version serving until the switch: there is no downtime to cover.</summary>
    public const string BlueGreenWithMaintenance = nameof(BlueGreenWithMaintenance);

    /// <summary>The upstream file nginx includes (UpstreamFile) exists but cannot be read by the target's user.</summary>
    public const string UpstreamUnreadable = nameof(UpstreamUnreadable);

    /// <summary>The upstream file (or its directory) cannot be written by the target's user; nothing was changed.</summary>
    public const string UpstreamUnwritable = nameof(UpstreamUnwritable);

    /// <summary>The upstream file sends traffic to a port that is neither the blue nor the green slot's; nothing was changed.</summary>
    public const string UpstreamForeign = nameof(UpstreamForeign);

    /// <summary>nginx -t refused the configuration with the new upstream; the previous upstream file was put back and nginx was not reloaded.</summary>
    public const string ProxyConfigInvalid = nameof(ProxyConfigInvalid);

    /// <summary>There is no nginx on the target's host (not on the PATH, nor in the sbin directories); nothing was changed.</summary>
    public const string ProxyNotInstalled = nameof(ProxyNotInstalled);

    /// <summary>nginx does not run (no live master in its pid file), so nothing serves the upstream.</summary>
    public const string ProxyNotRunning = nameof(ProxyNotRunning);

    /// <summary>Reloading nginx (nginx -s reload, or systemctl reload nginx) failed.</summary>
    public const string ProxyReloadFailed = nameof(ProxyReloadFailed);

    /// <summary>The switch of nginx's upstream failed for another reason (the command's output says which).</summary>
    public const string ProxySwitchFailed = nameof(ProxySwitchFailed);

    /// <summary>After a switch, nginx did not answer with the new slot's health and version several times in a row within the time given.</summary>
    public const string TrafficVerificationFailed = nameof(TrafficVerificationFailed);

    /// <summary>The target's traffic record (<StatePath>/<service>/traffic.json) cannot be read.</summary>
    public const string TrafficStateUnreadable = nameof(TrafficStateUnreadable);

    /// <summary>The target's traffic record could not be written after a switch (the switch itself happened).</summary>
    public const string TrafficStateUnwritable = nameof(TrafficStateUnwritable);

    /// <summary>Switch-VaultTraffic was asked to send traffic to a slot that does not run or is not healthy; nothing was changed.</summary>
    public const string SlotNotRunning = nameof(SlotNotRunning);

    /// <summary>Undo-VaultDeployment on a blue-green target found no usable version in the other slot (none yet, or one whose deployment failed).</summary>
    public const string NoPreviousSlot = nameof(NoPreviousSlot);

    /// <summary>-Strategy InPlace on a blue-green target whose live slot is not the target's own service; nothing was changed.</summary>
    public const string InPlaceOnBlueGreen = nameof(InPlaceOnBlueGreen);

    /// <summary>Undo-VaultDeployment -Release or -Backup on a blue-green target, whose rollback is a switch back to the other slot.</summary>
    public const string BlueGreenUndoPreviousOnly = nameof(BlueGreenUndoPreviousOnly);

    // Docker Swarm: a service updated and rolled back by the engine, driven and verified by the module.

    /// <summary>The target's ServiceName is not a Swarm service name (letters, digits, '_', '.', '-'; starting with a letter or digit).</summary>
    public const string SwarmServiceNameInvalid = nameof(SwarmServiceNameInvalid);

    /// <summary>The Docker engine of a Swarm target is not a swarm manager (not in a swarm, or a worker node).</summary>
    public const string SwarmNotManager = nameof(SwarmNotManager);

    /// <summary>The swarm has no service named as the target's ServiceName (the module updates services; it does not create them).</summary>
    public const string SwarmServiceNotFound = nameof(SwarmServiceNotFound);

    /// <summary>The service neither publishes the target's Port nor runs on the host network, so its health cannot be checked there; nothing was changed.</summary>
    public const string SwarmPortNotPublished = nameof(SwarmPortNotPublished);

    /// <summary>The engine rolled a Swarm update back by itself: a new task failed or was unhealthy while the engine watched it.</summary>
    public const string SwarmUpdateRolledBack = nameof(SwarmUpdateRolledBack);

    /// <summary>A Swarm update or rollback ended paused, or another update replaced it; the message has the engine's words and the tasks' errors.</summary>
    public const string SwarmUpdateFailed = nameof(SwarmUpdateFailed);

    /// <summary>A Swarm update or rollback did not finish within its bound.</summary>
    public const string SwarmUpdateTimeout = nameof(SwarmUpdateTimeout);

    /// <summary>Undo-VaultDeployment on a Swarm service that has no previous spec to go back to; nothing was changed.</summary>
    public const string SwarmNoPreviousSpec = nameof(SwarmNoPreviousSpec);

    /// <summary>Undo-VaultDeployment -Release or -Backup on a Swarm target, whose rollback is the service's previous spec.</summary>
    public const string SwarmUndoPreviousOnly = nameof(SwarmUndoPreviousOnly);

    // Rolls: Invoke-VaultDeployment and Undo-VaultDeployment over many targets in batches.

    /// <summary>A -BatchSize value is neither a count nor a percentage (1-100%).</summary>
    public const string InvalidBatchSize = nameof(InvalidBatchSize);

    /// <summary>The same target (by name) came twice into one roll.</summary>
    public const string RollDuplicateTarget = nameof(RollDuplicateTarget);

    /// <summary>A roll stopped because more targets failed than -MaxFailedTargets allows; the targets not yet touched were left as they were.</summary>
    public const string RollStopped = nameof(RollStopped);

    // The on-call session: the guided runbook, journals, the deployment lock by hand, the post-deployment watch.

    /// <summary>The operator stopped a guided run (Invoke-VaultRunbook) at a step: before the stop nothing changed, after it the previous version was brought back.</summary>
    public const string StoppedByOperator = nameof(StoppedByOperator);

    /// <summary>Invoke-VaultRunbook asks before each step, but this host cannot prompt (a non-interactive session); nothing was changed.</summary>
    public const string PromptUnavailable = nameof(PromptUnavailable);

    /// <summary>No journal of the run asked for (or none at all) under the target's journal directory.</summary>
    public const string JournalNotFound = nameof(JournalNotFound);

    /// <summary>A run's journal exists but could not be read (permissions, or the target's user cannot list the journal directory).</summary>
    public const string JournalUnreadable = nameof(JournalUnreadable);

    /// <summary>Unlock-VaultDeployment found a different lock from the one it read and was asked to clear (another run took it meanwhile); nothing was removed.</summary>
    public const string LockChanged = nameof(LockChanged);

    /// <summary>Watch-VaultBackend -FailOn (or a deployment's -WatchSec) saw a threshold crossed: the backend is not behaving after the deployment.</summary>
    public const string WatchThresholdExceeded = nameof(WatchThresholdExceeded);

    /// <summary>A -FailOn threshold names no known measure, or its value is not a number of the right range.</summary>
    public const string InvalidThreshold = nameof(InvalidThreshold);
}
