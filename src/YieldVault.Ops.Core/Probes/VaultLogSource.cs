namespace YieldVault.Ops;

public enum VaultLogSource
{
    /// <summary>The log file when it exists on the host, else the service manager's log.</summary>
    Auto,

    /// <summary>The target's LogPath (runbook 7.4 "tail -50 /var/log/yieldvault/backend.log").</summary>
    File,

    /// <summary>journald, PM2's log files or the container's output, whichever runs the backend.</summary>
    Manager,
}
