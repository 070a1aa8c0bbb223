namespace YieldVault.Ops;

/// <summary>Error ids: SSH and hosts, the service managers, and Docker engines (the ids and their rules: ErrorIds.cs).</summary>
public static partial class ErrorIds
{
    // SSH and hosts: reaching and trusting the host, and running commands on it.

    /// <summary>The host could not be reached over SSH (connection refused, name not resolved, network or SSH protocol failure).</summary>
    public const string TargetUnreachable = nameof(TargetUnreachable);

    /// <summary>Connecting to the host over SSH did not finish within ConnectTimeoutSec.</summary>
    public const string ConnectTimeout = nameof(ConnectTimeout);

    /// <summary>The SSH connection broke while a command ran; the command may or may not have finished.</summary>
    public const string ConnectionLost = nameof(ConnectionLost);

    /// <summary>The host's key differs from the one in known_hosts or the pinned HostKeyFingerprint; nothing was sent.</summary>
    public const string HostKeyMismatch = nameof(HostKeyMismatch);

    /// <summary>The host's key is marked @revoked in known_hosts; nothing was sent.</summary>
    public const string HostKeyRevoked = nameof(HostKeyRevoked);

    /// <summary>known_hosts does not know the host's key and the target does not allow a new one (-TrustNewHostKey); nothing was sent.</summary>
    public const string HostKeyUnknown = nameof(HostKeyUnknown);

    /// <summary>The SSH server refused the login with the given user and key or password.</summary>
    public const string AuthenticationFailed = nameof(AuthenticationFailed);

    /// <summary>The SSH private key file could not be read or used (encrypted, wrong format, unreadable).</summary>
    public const string KeyFileInvalid = nameof(KeyFileInvalid);

    /// <summary>The known_hosts file is too large (or never ends, like a device) to be a known_hosts file; it was not used.</summary>
    public const string KnownHostsInvalid = nameof(KnownHostsInvalid);

    /// <summary>The known_hosts file could not be read (path or permissions); nothing was sent.</summary>
    public const string KnownHostsUnreadable = nameof(KnownHostsUnreadable);

    /// <summary>The ssh client config (SshConfigFile, ~/.ssh/config) cannot be read or holds a value this module cannot use; nothing was connected.</summary>
    public const string SshConfigInvalid = nameof(SshConfigInvalid);

    /// <summary>The ssh-agent (SSH_AUTH_SOCK or IdentityAgent) was the way to log in, and it did not answer, held no keys, or refused to sign.</summary>
    public const string SshAgentFailed = nameof(SshAgentFailed);

    /// <summary>The jump host (JumpHost, ProxyJump) let us in but did not open a connection to the target's SSH port.</summary>
    public const string JumpHostRefused = nameof(JumpHostRefused);

    /// <summary>A program could not be started on this machine (not installed or not on PATH).</summary>
    public const string CommandNotFound = nameof(CommandNotFound);

    /// <summary>A command on the host did not finish within the command timeout and was stopped (over SSH, its process group on the server is killed).</summary>
    public const string CommandTimeout = nameof(CommandTimeout);

    /// <summary>A command argument contains a NUL character, which no shell can pass on.</summary>
    public const string InvalidArgumentCharacter = nameof(InvalidArgumentCharacter);

    /// <summary>A command's environment variable name is not a valid name.</summary>
    public const string InvalidEnvironmentName = nameof(InvalidEnvironmentName);

    // Service managers: systemd, PM2, and stopping the backend whatever runs it.

    /// <summary>systemctl or journalctl is not installed or not on PATH on the host (a systemd target).</summary>
    public const string ServiceManagerNotInstalled = nameof(ServiceManagerNotInstalled);

    /// <summary>PM2 is not on the PATH of a non-interactive shell on the host (a PM2 target).</summary>
    public const string ServiceManagerNotFound = nameof(ServiceManagerNotFound);

    /// <summary>systemctl could not talk to systemd (not booted with systemd, or no dbus).</summary>
    public const string ServiceManagerUnavailable = nameof(ServiceManagerUnavailable);

    /// <summary>A pm2 command failed with a non-zero exit code.</summary>
    public const string ServiceManagerFailed = nameof(ServiceManagerFailed);

    /// <summary>pm2 jlist printed no JSON process list.</summary>
    public const string ServiceManagerOutputInvalid = nameof(ServiceManagerOutputInvalid);

    /// <summary>systemd refused the user and the user cannot become root with password-less sudo (or UseSudo is off).</summary>
    public const string SudoRequired = nameof(SudoRequired);

    /// <summary>The service manager has no service named ServiceName (no systemd unit, no PM2 app).</summary>
    public const string ServiceNotFound = nameof(ServiceNotFound);

    /// <summary>systemctl start failed.</summary>
    public const string ServiceStartFailed = nameof(ServiceStartFailed);

    /// <summary>systemctl restart failed.</summary>
    public const string ServiceRestartFailed = nameof(ServiceRestartFailed);

    /// <summary>systemctl stop failed.</summary>
    public const string ServiceStopFailed = nameof(ServiceStopFailed);

    /// <summary>Killing the service failed (systemctl kill, or kill of the PM2 app's processes).</summary>
    public const string ServiceKillFailed = nameof(ServiceKillFailed);

    /// <summary>The service manager's own stop did not finish in time (systemd or pm2 stop still waiting).</summary>
    public const string ServiceStopTimeout = nameof(ServiceStopTimeout);

    /// <summary>journalctl could not read the unit's journal.</summary>
    public const string ServiceLogUnreadable = nameof(ServiceLogUnreadable);

    /// <summary>PM2 does not know the app and AppPath does not exist on the host, so there is nothing to start it from.</summary>
    public const string AppPathNotFound = nameof(AppPathNotFound);

    /// <summary>The ecosystem file in AppPath defines no app named ServiceName, so pm2 started nothing.</summary>
    public const string EcosystemAppMissing = nameof(EcosystemAppMissing);

    /// <summary>PM2 does not know the app and AppPath has neither ecosystem.config.js nor dist/index.js to start it from.</summary>
    public const string AppEntryPointNotFound = nameof(AppEntryPointNotFound);

    /// <summary>After the stop's timeout the backend's process still runs or its port is still in use.</summary>
    public const string StopTimeout = nameof(StopTimeout);

    /// <summary>Even after a kill the backend's process still runs or its port is still in use.</summary>
    public const string StopFailed = nameof(StopFailed);

    // Docker: the engine, containers and images of Docker targets.

    /// <summary>The target's DockerHost is not an engine address this module can use.</summary>
    public const string DockerHostInvalid = nameof(DockerHostInvalid);

    /// <summary>The target cannot carry a Docker engine connection as configured (no way through its shell, or ssh:// without a key).</summary>
    public const string DockerHostUnsupported = nameof(DockerHostUnsupported);

    /// <summary>The Docker engine could not be reached (not running, no socket access, connection failed).</summary>
    public const string DockerUnreachable = nameof(DockerUnreachable);

    /// <summary>The Docker engine did not answer a request in time.</summary>
    public const string DockerTimeout = nameof(DockerTimeout);

    /// <summary>The Docker engine refused a request (an HTTP error from its API; a conflict is ResourceBusy).</summary>
    public const string DockerRequestFailed = nameof(DockerRequestFailed);

    /// <summary>The engine has no container with the name asked for.</summary>
    public const string ContainerNotFound = nameof(ContainerNotFound);

    /// <summary>The target's ServiceName is not a valid Docker container name.</summary>
    public const string ContainerNameInvalid = nameof(ContainerNameInvalid);

    /// <summary>The container would not answer on the target's Port (PORT in the env file, published ports and Port disagree, or PORT is not a number); nothing was changed.</summary>
    public const string ContainerPortMismatch = nameof(ContainerPortMismatch);

    /// <summary>The image is not on the engine and pulling it failed; nothing was changed.</summary>
    public const string ImageNotFound = nameof(ImageNotFound);

    /// <summary>There is no previous container to go back to (none before the deployment, gone, or no &lt;name&gt;-previous to undo to).</summary>
    public const string NoPreviousContainer = nameof(NoPreviousContainer);

    /// <summary>Undo-VaultDeployment -Release or -Backup on a Docker target, which keeps one previous container, not releases.</summary>
    public const string DockerUndoPreviousOnly = nameof(DockerUndoPreviousOnly);
}
