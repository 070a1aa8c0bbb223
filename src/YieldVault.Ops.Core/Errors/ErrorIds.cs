namespace YieldVault.Ops;

/// <summary>
/// The stable error ids of YieldVault.Ops (the first part of an error's FullyQualifiedErrorId, and
/// <see cref="VaultException.ErrorId"/>): what scripts and tests match on. docs/en-US/about_YieldVault.Ops_Errors.md
/// says what each means and what to do; a test keeps the two in step. Each value is its own name: renaming a
/// constant changes an id users match on, so don't.
/// </summary>
public static class ErrorIds
{
    // Targets and input: the targets file, target settings and cmdlet arguments, checked before anything runs.

    /// <summary>No targets file was given (no -Path, no $env:YIELDVAULT_TARGETS), or the file named does not exist.</summary>
    public const string TargetConfigNotFound = nameof(TargetConfigNotFound);

    /// <summary>The targets file cannot be used: not one constant hashtable, an unknown key, a bad value or a duplicate target name.</summary>
    public const string TargetConfigInvalid = nameof(TargetConfigInvalid);

    /// <summary>The targets file has no target with the name asked for (in the environment asked for).</summary>
    public const string TargetNotFound = nameof(TargetNotFound);

    /// <summary>A target's setting is invalid (a name, port, path, host name, key file, smoke check ...), from New-VaultTarget or a target object.</summary>
    public const string TargetInvalid = nameof(TargetInvalid);

    /// <summary>The -Ref is not a git ref this module deploys (a tag, branch or commit of safe characters).</summary>
    public const string InvalidRef = nameof(InvalidRef);

    /// <summary>The -Image is not a Docker image reference (lower-case name[:tag][@sha256:digest]).</summary>
    public const string InvalidImage = nameof(InvalidImage);

    /// <summary>The -Sha256 is not 64 hexadecimal characters.</summary>
    public const string InvalidChecksum = nameof(InvalidChecksum);

    /// <summary>The -Artifact is neither an http(s) URL without credentials nor an absolute path on the host.</summary>
    public const string InvalidArtifact = nameof(InvalidArtifact);

    /// <summary>A directory argument (-ReleasePath, the migration directory) is not a safe absolute path on the host.</summary>
    public const string InvalidPath = nameof(InvalidPath);

    /// <summary>The -MigrationCommand contains a NUL character.</summary>
    public const string InvalidMigrationCommand = nameof(InvalidMigrationCommand);

    /// <summary>-Image was given for a target that is not run by Docker.</summary>
    public const string ImageNeedsDocker = nameof(ImageNeedsDocker);

    /// <summary>A Docker target was given -Ref or -Artifact; Docker targets deploy images (-Image).</summary>
    public const string DockerNeedsImage = nameof(DockerNeedsImage);

    /// <summary>The backup given to Undo-VaultDeployment -Backup predates managed releases and names no release.</summary>
    public const string BackupHasNoRelease = nameof(BackupHasNoRelease);

    /// <summary>Invoke-VaultMigration on a target whose MigrationPreset is None, without -Preset or -Command.</summary>
    public const string NoMigrationTool = nameof(NoMigrationTool);

    /// <summary>The target's env file does not exist where it must (to link into a release, or to read a dependency's URL).</summary>
    public const string EnvFileMissing = nameof(EnvFileMissing);

    /// <summary>The target's env file exists but the target's user could not read it.</summary>
    public const string EnvFileUnreadable = nameof(EnvFileUnreadable);

    /// <summary>The env file lacks what a deployment needs (it does not exist, or required variables are missing or empty); nothing was changed.</summary>
    public const string EnvironmentInvalid = nameof(EnvironmentInvalid);

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

    // Releases and deployment: fetching, building and switching releases, the run's lock, checks and outcome.

    /// <summary>The target has no Repository and AppPath is not a git checkout with an origin remote.</summary>
    public const string RepositoryUnknown = nameof(RepositoryUnknown);

    /// <summary>git fetch of the repository failed on the host.</summary>
    public const string FetchFailed = nameof(FetchFailed);

    /// <summary>The -Ref is not a tag, branch or commit of the repository; nothing was changed.</summary>
    public const string RefNotFound = nameof(RefNotFound);

    /// <summary>Checking out the commit into a new release directory failed.</summary>
    public const string CheckoutFailed = nameof(CheckoutFailed);

    /// <summary>npm ci/install/prune failed, or exited 0 but could not write every file (node_modules incomplete).</summary>
    public const string DependencyInstallFailed = nameof(DependencyInstallFailed);

    /// <summary>npm run build failed, or the release has no dist/index.js after it.</summary>
    public const string BuildFailed = nameof(BuildFailed);

    /// <summary>The artifact could not be fetched (HTTP error, timeout, too many redirects, no curl, not a file), or its file could not be checksummed.</summary>
    public const string ArtifactUnavailable = nameof(ArtifactUnavailable);

    /// <summary>The artifact is larger than the target's MaxArtifactSizeMB; the download was stopped and nothing was changed.</summary>
    public const string ArtifactTooLarge = nameof(ArtifactTooLarge);

    /// <summary>The artifact's SHA-256 is not the -Sha256 given; it was not unpacked.</summary>
    public const string ChecksumMismatch = nameof(ChecksumMismatch);

    /// <summary>The artifact could not be extracted.</summary>
    public const string ArtifactInvalid = nameof(ArtifactInvalid);

    /// <summary>Moving the existing AppPath into the releases directory (first managed deployment) failed.</summary>
    public const string ReleaseLayoutFailed = nameof(ReleaseLayoutFailed);

    /// <summary>Pointing the AppPath link at a release failed.</summary>
    public const string ReleaseSwitchFailed = nameof(ReleaseSwitchFailed);

    /// <summary>Removing an old release beyond KeepReleases failed.</summary>
    public const string ReleasePruneFailed = nameof(ReleasePruneFailed);

    /// <summary>The release asked for is not (or no longer) in the releases directory.</summary>
    public const string ReleaseNotFound = nameof(ReleaseNotFound);

    /// <summary>There is no earlier release to go back to (AppPath is not a release link, or the current release is the oldest).</summary>
    public const string NoPreviousRelease = nameof(NoPreviousRelease);

    /// <summary>Restoring the env file from a backup during a rollback failed.</summary>
    public const string EnvRestoreFailed = nameof(EnvRestoreFailed);

    /// <summary>Taking the backup (copy, node_modules archive or backup.json) failed.</summary>
    public const string BackupFailed = nameof(BackupFailed);

    /// <summary>The env file's copy in a new backup is not whole (its size or SHA-256 differs from the env file: a full disk); the backup was removed before anything stopped.</summary>
    public const string EnvBackupIncomplete = nameof(EnvBackupIncomplete);

    /// <summary>A backup's env file copy no longer has the SHA-256 recorded when it was taken, so -RestoreEnvFile does not restore it; nothing was changed.</summary>
    public const string EnvBackupChecksumMismatch = nameof(EnvBackupChecksumMismatch);

    /// <summary>Creating or removing the maintenance flag file failed.</summary>
    public const string MaintenanceFailed = nameof(MaintenanceFailed);

    /// <summary>The database migration command exited non-zero.</summary>
    public const string MigrationFailed = nameof(MigrationFailed);

    /// <summary>The deployment lock file could not be created (StatePath not writable).</summary>
    public const string LockFailed = nameof(LockFailed);

    /// <summary>Another deployment holds the target's lock; nothing was changed.</summary>
    public const string DeploymentLocked = nameof(DeploymentLocked);

    /// <summary>A lock is left from a run that did not finish; nothing was changed until it is cleared with -Force.</summary>
    public const string DeploymentLockStale = nameof(DeploymentLockStale);

    /// <summary>A run found its deployment lock no longer carries its token (another run cleared it with -Force, or took it) and stopped before its next step.</summary>
    public const string LockLost = nameof(LockLost);

    /// <summary>Undo-VaultDeployment found, under the lock, that the release to go back to is no longer the one the user confirmed; nothing was changed.</summary>
    public const string RollbackTargetChanged = nameof(RollbackTargetChanged);

    /// <summary>In place: the new version did not serve within -MaxDowntimeSec of the stop; the run rolled back instead of waiting.</summary>
    public const string DowntimeBudgetExceeded = nameof(DowntimeBudgetExceeded);

    /// <summary>Before the stop: the version that serves could not be brought back if the new one fails (no previous release or container that would start, a path not writable, a full disk); nothing was stopped.</summary>
    public const string RollbackNotReady = nameof(RollbackNotReady);

    /// <summary>Undo-VaultDeployment would go back to code older than the migrations the deployment being undone applied; refused without -Force.</summary>
    public const string RollbackPredatesMigrations = nameof(RollbackPredatesMigrations);

    /// <summary>The backend reports a version or commit other than the one a deployment or Undo-VaultDeployment put in place.</summary>
    public const string VersionMismatch = nameof(VersionMismatch);

    /// <summary>The log shows errors or stack traces since the new version started.</summary>
    public const string LogErrors = nameof(LogErrors);

    /// <summary>The deployment failed after the stop and was rolled back; the previous version serves again.</summary>
    public const string DeploymentRolledBack = nameof(DeploymentRolledBack);

    /// <summary>The deployment failed without an id of its own (the record of a failed deployment normally carries the failure's id).</summary>
    public const string DeploymentFailed = nameof(DeploymentFailed);

    /// <summary>After a deployment's automatic rollback the backend does not report the previous version.</summary>
    public const string RollbackVerificationFailed = nameof(RollbackVerificationFailed);

    /// <summary>Undo-VaultDeployment failed without an id of its own (the record normally carries the failure's id).</summary>
    public const string RollbackFailed = nameof(RollbackFailed);

    /// <summary>Something in a run took longer than it may (a timeout outside the SSH and HTTP layers, which have their own ids).</summary>
    public const string OperationTimeout = nameof(OperationTimeout);

    /// <summary>A failure YieldVault.Ops did not expect (a defect): the run still ends, journals it and rolls back where it stopped the service.</summary>
    public const string UnexpectedFailure = nameof(UnexpectedFailure);

    /// <summary>A release was prepared but its entry point (the target's EntryPoint, main of package.json, else dist/index.js) is not there, and the release had no build step to make it; nothing was stopped.</summary>
    public const string EntryPointNotFound = nameof(EntryPointNotFound);

    /// <summary>The new release's files (its package.json and lock files) could not be read to choose how to install and build it; nothing was stopped.</summary>
    public const string ReleaseUnreadable = nameof(ReleaseUnreadable);

    /// <summary>The new release (or its AppSubdirectory) has no package.json, so there is nothing to install or start; nothing was stopped.</summary>
    public const string PackageJsonNotFound = nameof(PackageJsonNotFound);

    /// <summary>The release's lock file asks for pnpm or yarn, which is not installed on the host; nothing was stopped.</summary>
    public const string PackageManagerNotFound = nameof(PackageManagerNotFound);

    /// <summary>The registry refused to let the engine pull the image: no credentials, or wrong ones; nothing was stopped.</summary>
    public const string ImagePullUnauthorized = nameof(ImagePullUnauthorized);

    /// <summary>-RegistryCredential has no user name or no password (or token); nothing was changed.</summary>
    public const string InvalidRegistryCredential = nameof(InvalidRegistryCredential);

    // Probes and dependencies: health, version and log of the backend; its database and Stellar RPC (results' ErrorId).

    /// <summary>The backend did not answer its health endpoint at all.</summary>
    public const string BackendUnreachable = nameof(BackendUnreachable);

    /// <summary>The backend was not healthy (and ready) within the health timeout.</summary>
    public const string HealthCheckTimeout = nameof(HealthCheckTimeout);

    /// <summary>While its health was awaited, the backend's process exited and its manager will not start it again (PM2 errored, systemd failed, an exited container).</summary>
    public const string BackendExited = nameof(BackendExited);

    /// <summary>Neither the version endpoint nor git in AppPath tells the backend's version.</summary>
    public const string VersionUnknown = nameof(VersionUnknown);

    /// <summary>The log file at LogPath does not exist.</summary>
    public const string LogNotFound = nameof(LogNotFound);

    /// <summary>The log file at LogPath could not be read.</summary>
    public const string LogUnreadable = nameof(LogUnreadable);

    /// <summary>A dependency's variable (DATABASE_URL, STELLAR_RPC_URL) is not set in the env file.</summary>
    public const string DependencyConfigMissing = nameof(DependencyConfigMissing);

    /// <summary>A dependency's variable is not a URL of the right kind (postgres://, http(s)://).</summary>
    public const string DependencyConfigInvalid = nameof(DependencyConfigInvalid);

    /// <summary>The dependency refused or closed the connection.</summary>
    public const string DependencyRefused = nameof(DependencyRefused);

    /// <summary>The dependency's host name could not be resolved (here, or on the server).</summary>
    public const string DependencyDnsFailed = nameof(DependencyDnsFailed);

    /// <summary>The dependency did not answer (or the connection did not open) within the timeout.</summary>
    public const string DependencyTimeout = nameof(DependencyTimeout);

    /// <summary>PostgreSQL refused the login (password or pg_hba.conf).</summary>
    public const string DependencyAuthFailed = nameof(DependencyAuthFailed);

    /// <summary>The dependency answered with an error (an HTTP or SQL error, no such database, no JSON-RPC) or the connection failed otherwise.</summary>
    public const string DependencyFailed = nameof(DependencyFailed);

    /// <summary>The Stellar RPC answered that it is not healthy.</summary>
    public const string DependencyUnhealthy = nameof(DependencyUnhealthy);

    /// <summary>The PostgreSQL check needs YieldVault.Ops.Postgres.dll (Npgsql), which runs on PowerShell 7.4 or later.</summary>
    public const string DatabaseProbeUnavailable = nameof(DatabaseProbeUnavailable);

    // Smoke: the runbook's smoke tests.

    /// <summary>Test-VaultSmoke's -BaseUrl is not a usable public address.</summary>
    public const string BaseUrlInvalid = nameof(BaseUrlInvalid);

    /// <summary>Test-VaultSmoke -IncludeWrite or -ApiKey with a plain http -BaseUrl that is not loopback: the admin key would cross the network in clear text; nothing was sent.</summary>
    public const string BaseUrlNotSecure = nameof(BaseUrlNotSecure);

    /// <summary>A smoke check failed after the new version started (the deployment rolls back).</summary>
    public const string SmokeTestFailed = nameof(SmokeTestFailed);

    // Notifications: the Slack webhook.

    /// <summary>No webhook URL: no -WebhookUrl and no $env:YIELDVAULT_SLACK_WEBHOOK_URL; nothing was sent.</summary>
    public const string WebhookUrlMissing = nameof(WebhookUrlMissing);

    /// <summary>The webhook URL is not an https:// URL with a path (the value is never shown); nothing was sent.</summary>
    public const string InvalidWebhookUrl = nameof(InvalidWebhookUrl);

    /// <summary>The webhook did not take the message after its retries (an error with -FailOnError; otherwise a warning).</summary>
    public const string NotificationFailed = nameof(NotificationFailed);

    // Records and drill: deployment history, reports, and the quarterly runbook drill.

    /// <summary>The deployment history (history.jsonl) could not be read.</summary>
    public const string DeploymentHistoryUnreadable = nameof(DeploymentHistoryUnreadable);

    /// <summary>ConvertTo-VaultRunbookReport was given something other than a deployment, rollback or drill result.</summary>
    public const string ReportInputInvalid = nameof(ReportInputInvalid);

    /// <summary>The run was stopped by the user (Ctrl+C): the error id recorded in the deployment history.</summary>
    public const string Cancelled = nameof(Cancelled);

    /// <summary>The drill was pointed at a production target without -AllowProduction.</summary>
    public const string DrillOnProduction = nameof(DrillOnProduction);

    /// <summary>The drill's target was not healthy before the drill, so the drill changed nothing.</summary>
    public const string DrillTargetUnhealthy = nameof(DrillTargetUnhealthy);

    /// <summary>The runbook drill ran and did not pass.</summary>
    public const string DrillFailed = nameof(DrillFailed);

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

    // Any cmdlet: failures that are defects, not something the user did.

    /// <summary>A cmdlet met an exception it does not know (a defect in YieldVault.Ops).</summary>
    public const string UnexpectedError = nameof(UnexpectedError);

    /// <summary>A VaultException made without an id (the standard exception constructors); the module itself always gives one.</summary>
    public const string VaultError = nameof(VaultError);
}
