namespace YieldVault.Ops;

/// <summary>
/// The stable error ids of YieldVault.Ops (the first part of an error's FullyQualifiedErrorId, and
/// <see cref="VaultException.ErrorId"/>): what scripts and tests match on. docs/en-US/about_YieldVault.Ops_Errors.md
/// says what each means and what to do; a test keeps the two in step. Each value is its own name: renaming a
/// constant changes an id users match on, so don't. The ids are in partial files by area: ErrorIds.Hosts.cs,
/// ErrorIds.Deployment.cs, ErrorIds.Checks.cs and ErrorIds.Operations.cs.
/// </summary>
public static partial class ErrorIds
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

    // Any cmdlet: failures that are defects, not something the user did.

    /// <summary>A cmdlet met an exception it does not know (a defect in YieldVault.Ops).</summary>
    public const string UnexpectedError = nameof(UnexpectedError);

    /// <summary>A VaultException made without an id (the standard exception constructors); the module itself always gives one.</summary>
    public const string VaultError = nameof(VaultError);
}
