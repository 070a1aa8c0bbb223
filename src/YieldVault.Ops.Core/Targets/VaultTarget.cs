using System;
using System.Collections.Generic;
using System.Linq;

namespace YieldVault.Ops;

/// <summary>
/// One backend instance the runbook is run against: where it lives (local, or a host over SSH) and the
/// runbook's settings for it. Every setting starts at the runbook's default.
/// </summary>
public sealed partial record VaultTarget
{
    public string Name { get; init; } = "";

    public string Environment { get; init; } = RunbookDefaults.Environment;

    public TransportKind Transport => Ssh is null ? TransportKind.Local : TransportKind.Ssh;

    /// <summary>SSH settings, or null for the local machine.</summary>
    public SshEndpoint? Ssh { get; init; }

    public string HostName => Ssh?.HostName ?? "localhost";

    public string AppPath { get; init; } = RunbookDefaults.AppPath;

    public int Port { get; init; } = RunbookDefaults.Port;

    public ServiceManagerKind ServiceManager { get; init; } = RunbookDefaults.ServiceManager;

    public string ServiceName { get; init; } = RunbookDefaults.ServiceName;

    /// <summary>The env file, relative to <see cref="AppPath"/> unless absolute.</summary>
    public string EnvFile { get; init; } = RunbookDefaults.EnvFile;

    public string LogPath { get; init; } = RunbookDefaults.LogPath;

    public string BackupPath { get; init; } = RunbookDefaults.BackupPath;

    public string HealthPath { get; init; } = RunbookDefaults.HealthPath;

    /// <summary>The readiness endpoint; empty: the backend has none, and readiness is not checked.</summary>
    public string ReadyPath { get; init; } = RunbookDefaults.ReadyPath;

    /// <summary>The version endpoint; empty: the backend has none, and the version comes from the release on disk.</summary>
    public string VersionPath { get; init; } = RunbookDefaults.VersionPath;

    /// <summary>The status codes of a healthy (and ready) answer.</summary>
    public IReadOnlyList<int> HealthyStatusCodes { get; init; } = RunbookDefaults.HealthyStatusCodes;

    /// <summary>The values of the health status field (or plain-text bodies) that mean healthy, compared ignoring case.</summary>
    public IReadOnlyList<string> HealthyValues { get; init; } = RunbookDefaults.HealthyValues;

    /// <summary>Where the status is in a JSON health answer: a dotted path such as "status" or "health.state".</summary>
    public string HealthJsonPath { get; init; } = RunbookDefaults.HealthJsonPath;

    /// <summary>What a healthy answer looks like: JSON (the default), plain text, or only the status code.</summary>
    public HealthResponseKind HealthResponse { get; init; } = HealthResponseKind.Json;

    public bool HasReadyPath => ReadyPath.Length > 0;

    public bool HasVersionPath => VersionPath.Length > 0;

    public IReadOnlyList<string> RequiredVariables { get; init; } = RunbookDefaults.RequiredVariables;

    public Uri? PublicUrl { get; init; }

    /// <summary>
    /// Where releases live: each deployment in releases/&lt;time&gt;-&lt;shortsha&gt;, with <see cref="AppPath"/> a link to the
    /// current one. Null: "&lt;AppPath&gt;-releases".
    /// </summary>
    public string? ReleasesPath { get; init; }

    /// <summary>The git repository to deploy from; null: the origin of the current checkout.</summary>
    public string? Repository { get; init; }

    /// <summary>How many releases to keep (the current and the previous one are always kept).</summary>
    public int KeepReleases { get; init; } = 5;

    /// <summary>The largest artifact (Invoke-VaultDeployment -Artifact) fetched for this target, in MB; a larger one is refused before anything stops.</summary>
    public int MaxArtifactSizeMB { get; init; } = RunbookDefaults.MaxArtifactSizeMB;

    /// <summary>How long downloading an artifact may take on this target's host, in seconds.</summary>
    public int ArtifactTimeoutSec { get; init; } = RunbookDefaults.ArtifactTimeoutSec;

    /// <summary>Migration tool preset: Prisma (the runbook's), NodePgMigrate, Npm (npm run migrate...), None.</summary>
    public MigrationPreset MigrationPreset { get; init; } = MigrationPreset.Prisma;

    /// <summary>The target's own smoke checks, run after the runbook's (Test-VaultSmoke, and Step 9 of a deployment).</summary>
    public IReadOnlyList<SmokeCheck> SmokeChecks { get; init; } = Array.Empty<SmokeCheck>();

    /// <summary>The built-in smoke checks: the runbook's YieldVault API checks, or None (only the health check).</summary>
    public SmokePreset SmokePreset { get; init; } = SmokePreset.Runbook;

    /// <summary>The log lines a start must show (Step 7.4), "{Port}" for the port; null: the runbook backend's; empty: none.</summary>
    public IReadOnlyList<string>? StartupMarkers { get; init; }

    /// <summary>Which tool installs a release's dependencies; Auto detects it from the lock file.</summary>
    public PackageManagerKind PackageManager { get; init; } = PackageManagerKind.Auto;

    /// <summary>The build (program and arguments); null: the package manager's "run build" when package.json has a build script.</summary>
    public IReadOnlyList<string>? BuildCommand { get; init; }

    /// <summary>The file the backend starts from, relative to <see cref="AppDirectory"/>; null: "main" of package.json, else dist/index.js.</summary>
    public string? EntryPoint { get; init; }

    /// <summary>In a monorepo: the backend's directory inside the repository (apps/api); null: the repository root.</summary>
    public string? AppSubdirectory { get; init; }

    /// <summary>Where the backend runs from: <see cref="AppPath"/>, or its <see cref="AppSubdirectory"/>.</summary>
    public string AppDirectory => AppSubdirectory is null ? AppPath : AppPath.TrimEnd('/') + "/" + AppSubdirectory.Trim('/');

    public string ReleasesDirectory => ReleasesPath ?? AppPath.TrimEnd('/') + "-releases";

    /// <summary>Where YieldVault.Ops keeps its own state on the host: the deployment lock, journals, history.</summary>
    public string StatePath { get; init; } = RunbookDefaults.StatePath;

    /// <summary>PM2 only: the PM2_HOME of the PM2 daemon that runs the backend (null: the user's default ~/.pm2).</summary>
    public string? Pm2Home { get; init; }

    /// <summary>
    /// Docker and Swarm: the engine to talk to (for Swarm, a manager's). unix:///path, tcp://host:port, or ssh://user@host[:port]; null means
    /// the local socket for a local target and the target's own SSH connection (docker system dial-stdio) for an SSH target.
    /// </summary>
    public string? DockerHost { get; init; }

    /// <summary>Run privileged commands (systemctl, journalctl) through "sudo -n"; null: when the user is not root.</summary>
    public bool? UseSudo { get; init; }

    /// <summary>Whether privileged commands need "sudo -n" in front.</summary>
    public bool NeedsSudo => UseSudo ?? (Ssh is null ? !string.Equals(System.Environment.UserName, "root", StringComparison.Ordinal) : Ssh.User != "root");

    /// <summary>
    /// Where the env file is inside a release, relative to the release's root (config/prod.env, or apps/api/.env under an
    /// AppSubdirectory): the path at which the file shared by every release is linked into each one. Null when the env file
    /// is outside the app (an absolute EnvFile that is not under <see cref="AppPath"/>): it then stays where it is.
    /// </summary>
    public string? EnvFileInRelease
    {
        get
        {
            var appRoot = AppPath.TrimEnd('/') + "/";
            var inRelease = !EnvFile.StartsWith("/", StringComparison.Ordinal)
                ? (AppSubdirectory is null ? "" : AppSubdirectory.Trim('/') + "/") + EnvFile
                : EnvFile.StartsWith(appRoot, StringComparison.Ordinal) ? EnvFile.Substring(appRoot.Length) : null;
            if (inRelease is null)
            {
                return null;
            }

            var segments = inRelease.Split('/').Where(segment => segment.Length > 0 && segment != ".").ToArray();
            return segments.Length == 0 ? null : string.Join("/", segments);
        }
    }

    /// <summary>The env file's full path on the target (a relative EnvFile is in <see cref="AppDirectory"/>, where the backend runs).</summary>
    public string EnvFilePath => EnvFile.StartsWith("/", StringComparison.Ordinal) ? EnvFile : AppDirectory.TrimEnd('/') + "/" + EnvFile;

    /// <summary>A short description for prompts and messages: "prod-1 (deploy@app1.internal)".</summary>
    public string DisplayName => Ssh is null ? $"{Name} (local)" : $"{Name} ({Ssh})";

    public override string ToString() => Name;

    /// <summary>Checks the settings that would make later steps fail in confusing ways.</summary>
    public void Validate()
    {
        if (FindProblem() is { } problem)
        {
            throw new VaultException(ErrorIds.TargetInvalid, VaultErrorKind.InvalidArgument, $"Target '{Name}': {problem.Message}", $"Correct the {problem.Key} setting of target '{Name}'.")
            {
                TargetObject = this,
            };
        }
    }

    /// <summary>The first setting that is not acceptable, or null.</summary>
    internal (string Key, string Message)? FindProblem()
    {
        if (!TargetNames.IsValid(Name))
        {
            return ("Name", $"'{Name}' is not a valid target name. Use letters, digits, '.', '_' and '-' (1-64 characters, starting with a letter or digit).");
        }

        if (Port is < 1 or > 65535)
        {
            return ("Port", $"Port {Port} is outside 1-65535.");
        }

        if (FindProxyProblem() is { } proxy)
        {
            return proxy;
        }

        if (FindSwarmProblem() is { } swarm)
        {
            return swarm;
        }

        foreach (var (key, path) in new[] { ("AppPath", AppPath), ("LogPath", LogPath), ("BackupPath", BackupPath), ("StatePath", StatePath) })
        {
            if (!RemotePaths.IsSafeAbsolute(path))
            {
                return (key, $"{key} '{path}' must be an absolute path without control characters or '..' segments.");
            }
        }

        if (!RemotePaths.IsSafeRelativeOrAbsolute(EnvFile))
        {
            return ("EnvFile", $"EnvFile '{EnvFile}' contains control characters or '..' segments.");
        }

        foreach (var (key, path) in new[] { ("HealthPath", HealthPath), ("ReadyPath", ReadyPath), ("VersionPath", VersionPath) })
        {
            // An empty ReadyPath or VersionPath says the backend has no such endpoint; every backend has a health endpoint.
            if (path.Length == 0 && key != "HealthPath")
            {
                continue;
            }

            // "//host/x" and "/\host/x" would make the probe ask another host (new Uri(base, path)): the smoke checks' rule.
            if (!SmokeCheck.IsValidPath(path))
            {
                return (key, $"{key} '{path}' must be a URL path starting with a single '/', without '\\', '#', spaces or control characters" +
                    (key == "HealthPath" ? "." : " (or '' when the backend has none)."));
            }
        }

        if (BackendSettings.FindProblem(this) is { } backend)
        {
            return backend;
        }

        foreach (var variable in RequiredVariables)
        {
            if (!EnvironmentFiles.IsValidName(variable))
            {
                return ("RequiredVariables", $"'{variable}' is not a valid environment variable name.");
            }
        }

        if (!ServiceNames.IsValid(ServiceName))
        {
            return ("ServiceName", $"ServiceName '{ServiceName}' may only contain letters, digits, '.', '_', '@' and '-'.");
        }

        if (ReleasesPath is not null && !RemotePaths.IsSafeAbsolute(ReleasesPath))
        {
            return ("ReleasesPath", $"ReleasesPath '{ReleasesPath}' must be an absolute path without control characters or '..' segments.");
        }

        if (KeepReleases is < 2 or > 100)
        {
            return ("KeepReleases", $"KeepReleases {KeepReleases} is outside 2-100.");
        }

        if (MaxArtifactSizeMB is < 1 or > 102400)
        {
            return ("MaxArtifactSizeMB", $"MaxArtifactSizeMB {MaxArtifactSizeMB} is outside 1-102400 (100 GB).");
        }

        if (ArtifactTimeoutSec is < 5 or > 86400)
        {
            return ("ArtifactTimeoutSec", $"ArtifactTimeoutSec {ArtifactTimeoutSec} is outside 5-86400 seconds.");
        }

        if (Repository is not null && !Repositories.IsValid(Repository))
        {
            return ("Repository", $"Repository '{Repository}' must be a git URL (https://, ssh://, git@host:path, file://) or an absolute path, without spaces or control characters.");
        }

        if (Pm2Home is not null && !RemotePaths.IsSafeAbsolute(Pm2Home))
        {
            return ("Pm2Home", $"Pm2Home '{Pm2Home}' must be an absolute path without control characters or '..' segments.");
        }

        if (DockerHost is not null && !DockerHosts.IsValid(DockerHost))
        {
            return ("DockerHost", $"DockerHost '{DockerHost}' must be unix:///path, tcp://host:port or ssh://user@host[:port].");
        }

        foreach (var check in SmokeChecks)
        {
            if (check.FindProblem() is { } smoke)
            {
                return ("SmokeChecks", $"check '{check.Name}', key '{smoke.Key}': {smoke.Problem}");
            }
        }

        if (Ssh is null)
        {
            return null;
        }

        if (Ssh.Alias is { } alias && (alias.Length == 0 || alias.Any(char.IsWhiteSpace) || alias.Any(char.IsControl)))
        {
            return ("HostName", $"HostName '{alias}' contains white space or control characters.");
        }

        if (!HostNames.IsValid(Ssh.HostName))
        {
            return ("HostName", $"HostName '{Ssh.HostName}' is not a valid DNS name or IP address" + (Ssh.Alias is null ? "." : $" (the ssh config's HostName for '{Ssh.Alias}')."));
        }

        if (Ssh.Port is < 1 or > 65535)
        {
            return ("SshPort", $"SshPort {Ssh.Port} is outside 1-65535.");
        }

        if (string.IsNullOrEmpty(Ssh.User) || !HostNames.IsValidUser(Ssh.User))
        {
            return ("User", $"User '{Ssh.User}' is not a valid user name for SSH.");
        }

        if (Ssh.KeyFile is null && Ssh.IdentityFiles.Count == 0 && !Ssh.HasPassword && Ssh.EffectiveAgentSocket is null)
        {
            return ("KeyFile", "An SSH target needs a KeyFile, a Credential, an IdentityFile for the host in the ssh config, or a running ssh-agent (SSH_AUTH_SOCK).");
        }

        if (Ssh.JumpHost is { } jump)
        {
            if (!HostNames.IsValid(jump.HostName))
            {
                return ("JumpHost", $"The jump host '{jump.HostName}' is not a valid DNS name or IP address" + (jump.Alias is null ? "." : $" (the ssh config's HostName for '{jump.Alias}')."));
            }

            if (!HostNames.IsValidUser(jump.User))
            {
                return ("JumpHost", $"The jump host's user '{jump.User}' is not a valid user name for SSH.");
            }

            if (jump.KeyFile is null && jump.IdentityFiles.Count == 0 && jump.EffectiveAgentSocket is null)
            {
                return ("JumpHost", $"The jump host {jump.Address} needs a key (a password is never sent to it): give the target a KeyFile, the jump host an IdentityFile in the ssh config, or run an ssh-agent.");
            }
        }

        if (Ssh.HostKeyFingerprint is not null && !HostKeyFingerprints.IsSha256(Ssh.HostKeyFingerprint))
        {
            return ("HostKeyFingerprint", $"HostKeyFingerprint '{Ssh.HostKeyFingerprint}' is not in the form 'SHA256:<base64>' that ssh-keygen -l prints.");
        }

        return null;
    }
}
