using System;
using System.Collections;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Security;
using YieldVault.Ops.Hosts;

namespace YieldVault.Ops;

/// <summary>
/// Turns a set of named settings (a hashtable from a targets .psd1, or New-VaultTarget's parameters)
/// into a validated <see cref="VaultTarget"/>. Unknown keys are errors, not ignored: a typo in a
/// production config must not silently fall back to a default.
/// </summary>
public static partial class TargetBuilder
{
    public static IReadOnlyList<string> KnownKeys { get; } = new[]
    {
        "Name", "Environment", "HostName", "SshPort", "User", "KeyFile", "KnownHostsFile", "HostKeyFingerprint",
        "TrustNewHostKey", "ConnectTimeoutSec", "CommandTimeoutSec", "AppPath", "Port", "ServiceManager",
        "ServiceName", "EnvFile", "LogPath", "BackupPath", "HealthPath", "ReadyPath", "VersionPath",
        "RequiredVariables", "PublicUrl", "StatePath", "Pm2Home", "DockerHost", "UseSudo",
        "ReleasesPath", "Repository", "KeepReleases", "MigrationPreset", "SmokeChecks",
        "HealthyStatusCodes", "HealthyValues", "HealthJsonPath", "HealthResponse", "SmokePreset", "StartupMarkers",
        "PackageManager", "BuildCommand", "EntryPoint", "AppSubdirectory",
        "Proxy", "UpstreamFile", "UpstreamName", "BluePort", "GreenPort", "ProxyPort", "ProxyReload", "NginxConfig",
        "JumpHost", "SshConfigFile", "MaxArtifactSizeMB", "ArtifactTimeoutSec",
        "SwarmUpdateOrder", "SwarmUpdateParallelism", "SwarmUpdateDelaySec", "SwarmMonitorSec",
    };

    private static readonly string[] SshOnlyKeys =
        { "SshPort", "User", "KeyFile", "KnownHostsFile", "HostKeyFingerprint", "TrustNewHostKey", "JumpHost", "SshConfigFile" };

    /// <param name="settings">Setting name to value; names are case-insensitive.</param>
    /// <param name="source">Where the settings came from, for messages (a file path or a cmdlet name).</param>
    /// <param name="baseDirectory">Relative KeyFile/KnownHostsFile paths are resolved against it.</param>
    /// <param name="sshUser">User from a credential, used when no User setting is given.</param>
    /// <param name="password">Password from a credential (never from a file).</param>
    /// <param name="errorId">Error id for invalid settings (a file's and a cmdlet's differ).</param>
    public static VaultTarget Build(IDictionary settings, string source, string? baseDirectory = null, string? sshUser = null, SecureString? password = null, string errorId = ErrorIds.TargetConfigInvalid)
    {
        var s = new TargetSettings(settings, source, baseDirectory, errorId);
        foreach (var key in s.Keys)
        {
            if (!KnownKeys.Contains(key, StringComparer.OrdinalIgnoreCase))
            {
                var hint = key.Equals("Password", StringComparison.OrdinalIgnoreCase)
                    ? "passwords are not read from files; use KeyFile, or New-VaultTarget -Credential"
                    : "unknown key; valid keys are " + string.Join(", ", KnownKeys);
                throw s.Error(key, hint);
            }
        }

        if (string.IsNullOrEmpty(s.Name))
        {
            throw s.Error("Name", "every target needs a Name");
        }

        var hostName = s.Text("HostName");
        if (hostName is null && SshOnlyKeys.FirstOrDefault(s.Has) is { } sshOnly)
        {
            throw s.Error(sshOnly, "only applies to SSH targets; add HostName or remove this key");
        }

        // Checked for every target, so a wrong value in a local target's settings is an error too, not ignored.
        var connectSec = s.Number("ConnectTimeoutSec") ?? RunbookDefaults.ConnectTimeoutSec;
        var commandSec = s.Number("CommandTimeoutSec") ?? RunbookDefaults.CommandTimeoutSec;
        if (connectSec is < 1 or > 600)
        {
            throw s.Error("ConnectTimeoutSec", $"{connectSec} is outside 1-600 seconds");
        }

        if (commandSec is < 1 or > 86400)
        {
            throw s.Error("CommandTimeoutSec", $"{commandSec} is outside 1-86400 seconds");
        }

        var ssh = hostName is null ? null : BuildSsh(s, source, hostName, sshUser, password, TimeSpan.FromSeconds(connectSec), TimeSpan.FromSeconds(commandSec));

        Uri? publicUrl = null;
        var publicText = s.Text("PublicUrl");
        if (publicText is not null)
        {
            if (!Uri.TryCreate(publicText, UriKind.Absolute, out publicUrl) || (publicUrl.Scheme != Uri.UriSchemeHttp && publicUrl.Scheme != Uri.UriSchemeHttps)
                || !string.IsNullOrEmpty(publicUrl.UserInfo))
            {
                throw s.Error("PublicUrl", "expected an absolute http:// or https:// URL without user information");
            }
        }

        IReadOnlyList<string> required = RunbookDefaults.RequiredVariables;
        if (s.Raw("RequiredVariables") is { } rv)
        {
            required = rv is string single ? new[] { single } :
                rv is IEnumerable items ? items.Cast<object?>().Select(o => o as string ?? throw s.Error("RequiredVariables", $"expected names but found {TargetSettings.Describe(o)}")).ToArray() :
                throw s.Error("RequiredVariables", $"expected a list of names but found {TargetSettings.Describe(rv)}");
        }

        if (!SmokeChecks.TryParse(s.Raw("SmokeChecks"), out var smokeChecks, out var smokeProblem))
        {
            throw s.Error("SmokeChecks", smokeProblem!);
        }

        var target = new VaultTarget
        {
            Name = s.Name!,
            Environment = s.Text("Environment") ?? RunbookDefaults.Environment,
            Ssh = ssh,
            AppPath = s.Text("AppPath") ?? RunbookDefaults.AppPath,
            Port = s.Number("Port") ?? RunbookDefaults.Port,
            ServiceManager = s.Choice("ServiceManager", RunbookDefaults.ServiceManager),
            ServiceName = s.Text("ServiceName") ?? RunbookDefaults.ServiceName,
            EnvFile = s.Text("EnvFile") ?? RunbookDefaults.EnvFile,
            LogPath = s.Text("LogPath") ?? RunbookDefaults.LogPath,
            BackupPath = s.Text("BackupPath") ?? RunbookDefaults.BackupPath,
            HealthPath = s.Text("HealthPath") ?? RunbookDefaults.HealthPath,
            ReadyPath = s.Text("ReadyPath") ?? RunbookDefaults.ReadyPath,
            VersionPath = s.Text("VersionPath") ?? RunbookDefaults.VersionPath,
            RequiredVariables = required,
            PublicUrl = publicUrl,
            StatePath = s.Text("StatePath") ?? RunbookDefaults.StatePath,
            Pm2Home = s.Text("Pm2Home"),
            DockerHost = s.Text("DockerHost"),
            UseSudo = s.Flag("UseSudo"),
            ReleasesPath = s.Text("ReleasesPath"),
            Repository = s.Text("Repository"),
            KeepReleases = s.Number("KeepReleases") ?? 5,
            MaxArtifactSizeMB = s.Number("MaxArtifactSizeMB") ?? RunbookDefaults.MaxArtifactSizeMB,
            ArtifactTimeoutSec = s.Number("ArtifactTimeoutSec") ?? RunbookDefaults.ArtifactTimeoutSec,
            MigrationPreset = s.Choice("MigrationPreset", MigrationPreset.Prisma),
            SmokeChecks = smokeChecks,
            HealthyStatusCodes = s.Numbers("HealthyStatusCodes") ?? RunbookDefaults.HealthyStatusCodes,
            HealthyValues = s.Texts("HealthyValues") ?? RunbookDefaults.HealthyValues,
            HealthJsonPath = s.Text("HealthJsonPath") ?? RunbookDefaults.HealthJsonPath,
            HealthResponse = s.Choice("HealthResponse", HealthResponseKind.Json),
            SmokePreset = s.Choice("SmokePreset", SmokePreset.Runbook),
            StartupMarkers = s.Texts("StartupMarkers"),
            PackageManager = s.Choice("PackageManager", PackageManagerKind.Auto),
            BuildCommand = s.Command("BuildCommand"),
            EntryPoint = s.Text("EntryPoint"),
            AppSubdirectory = s.Text("AppSubdirectory"),
            Proxy = s.Choice("Proxy", ProxyKind.None),
            UpstreamFile = s.Text("UpstreamFile"),
            UpstreamName = s.Text("UpstreamName"),
            BluePort = s.Number("BluePort"),
            GreenPort = s.Number("GreenPort"),
            ProxyPort = s.Number("ProxyPort") ?? 80,
            ProxyReload = s.Choice("ProxyReload", ProxyReload.Signal),
            NginxConfig = s.Text("NginxConfig"),
            SwarmUpdateOrder = s.Choice("SwarmUpdateOrder", SwarmUpdateOrder.StopFirst),
            SwarmUpdateParallelism = s.Number("SwarmUpdateParallelism") ?? 1,
            SwarmUpdateDelaySec = s.Number("SwarmUpdateDelaySec") ?? 0,
            SwarmMonitorSec = s.Number("SwarmMonitorSec") ?? RunbookDefaults.SwarmMonitorSec,
        };

        if (target.FindProblem() is { } problem)
        {
            throw s.Error(problem.Key, problem.Message);
        }

        return target;
    }

    /// <summary>Expands '~' and makes a relative path absolute against <paramref name="baseDirectory"/>.</summary>
    public static string ExpandPath(string path, string? baseDirectory)
    {
        if (path == "~" || path.StartsWith("~/", StringComparison.Ordinal))
        {
            var home = System.Environment.GetEnvironmentVariable("HOME") ?? System.Environment.GetFolderPath(System.Environment.SpecialFolder.UserProfile);
            path = home + path.Substring(1);
        }

        if (!Path.IsPathRooted(path))
        {
            path = Path.Combine(baseDirectory ?? Directory.GetCurrentDirectory(), path);
        }

        return Path.GetFullPath(path);
    }
}
