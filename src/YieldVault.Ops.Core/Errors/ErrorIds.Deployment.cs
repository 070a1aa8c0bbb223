namespace YieldVault.Ops;

/// <summary>Error ids: Releases and deployment (the ids and their rules: ErrorIds.cs).</summary>
public static partial class ErrorIds
{
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
}
