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
public static class TargetBuilder
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
        var values = new Dictionary<string, object?>(StringComparer.OrdinalIgnoreCase);
        foreach (DictionaryEntry entry in settings)
        {
            values[Convert.ToString(entry.Key, CultureInfo.InvariantCulture) ?? ""] = entry.Value;
        }

        var name = values.TryGetValue("Name", out var n) ? Convert.ToString(n, CultureInfo.InvariantCulture) : null;
        var label = string.IsNullOrEmpty(name) ? "(unnamed)" : name!;

        VaultException Error(string key, string problem) => new(
            errorId, VaultErrorKind.InvalidData,
            $"{source}: target '{label}', key '{key}': {problem}",
            $"Fix key '{key}' of target '{label}' in {source}.");

        foreach (var key in values.Keys)
        {
            if (!KnownKeys.Contains(key, StringComparer.OrdinalIgnoreCase))
            {
                var hint = key.Equals("Password", StringComparison.OrdinalIgnoreCase)
                    ? "passwords are not read from files; use KeyFile, or New-VaultTarget -Credential"
                    : "unknown key; valid keys are " + string.Join(", ", KnownKeys);
                throw Error(key, hint);
            }
        }

        if (string.IsNullOrEmpty(name))
        {
            throw Error("Name", "every target needs a Name");
        }

        string? Text(string key)
        {
            if (!values.TryGetValue(key, out var v) || v is null)
            {
                return null;
            }

            if (v is string s)
            {
                return s;
            }

            if (v is Uri u)
            {
                return u.OriginalString;
            }

            throw Error(key, $"expected a string but found {Describe(v)}");
        }

        int? Number(string key)
        {
            if (!values.TryGetValue(key, out var v) || v is null)
            {
                return null;
            }

            return v switch
            {
                int i => i,
                long l when l is >= int.MinValue and <= int.MaxValue => (int)l,
                string s when int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var p) => p,
                _ => throw Error(key, $"expected a whole number but found {Describe(v)}"),
            };
        }

        bool? Flag(string key)
        {
            if (!values.TryGetValue(key, out var v) || v is null)
            {
                return null;
            }

            return v switch
            {
                bool b => b,
                _ => throw Error(key, $"expected $true or $false but found {Describe(v)}"),
            };
        }

        string? FilePath(string key)
        {
            var text = Text(key);
            if (text is null)
            {
                return null;
            }

            if (text.Length == 0 || text.Any(char.IsControl))
            {
                throw Error(key, "expected a file path");
            }

            return ExpandPath(text, baseDirectory);
        }

        var hostName = Text("HostName");
        if (hostName is null)
        {
            foreach (var key in SshOnlyKeys)
            {
                if (values.ContainsKey(key) && values[key] is not null)
                {
                    throw Error(key, "only applies to SSH targets; add HostName or remove this key");
                }
            }
        }

        // Checked for every target, so a wrong value in a local target's settings is an error too, not ignored.
        var connectSec = Number("ConnectTimeoutSec") ?? RunbookDefaults.ConnectTimeoutSec;
        var commandSec = Number("CommandTimeoutSec") ?? RunbookDefaults.CommandTimeoutSec;
        if (connectSec is < 1 or > 600)
        {
            throw Error("ConnectTimeoutSec", $"{connectSec} is outside 1-600 seconds");
        }

        if (commandSec is < 1 or > 86400)
        {
            throw Error("CommandTimeoutSec", $"{commandSec} is outside 1-86400 seconds");
        }

        SshEndpoint? ssh = null;
        if (hostName is not null)
        {
            var explicitUser = Text("User") ?? sshUser;
            var configPath = SshConfigPath(Text("SshConfigFile"), baseDirectory, Error);
            SshHostConfig Config(string host, string? user)
            {
                try
                {
                    return configPath is null ? SshHostConfig.Empty : SshConfigFile.Resolve(configPath, host, user);
                }
                catch (VaultException ex) when (ex.ErrorId == ErrorIds.SshConfigInvalid)
                {
                    throw new VaultException(ErrorIds.SshConfigInvalid, VaultErrorKind.InvalidData, $"{source}: target '{label}': {ex.Message}", ex.RecommendedAction, ex);
                }
            }

            var config = Config(hostName, explicitUser);
            var user = explicitUser ?? config.User;
            if (string.IsNullOrEmpty(user))
            {
                throw Error("User", "an SSH target needs a User (or a Credential, or a User line for this host in the ssh config)");
            }

            var keyFile = FilePath("KeyFile");
            if (keyFile is not null && !File.Exists(keyFile))
            {
                throw Error("KeyFile", $"the key file '{keyFile}' does not exist");
            }

            // Like ssh: IdentityFile lines that name no file are passed over, and the default keys are offered only when
            // nothing names a key.
            var identityFiles = ExistingFiles(config.IdentityFiles);
            if (keyFile is null && config.IdentityFiles.Count == 0)
            {
                identityFiles = DefaultIdentityFiles();
            }

            var knownHosts = FilePath("KnownHostsFile") ?? config.UserKnownHostsFile ?? SshEndpoint.DefaultKnownHostsFile();
            var trustNew = Flag("TrustNewHostKey") ?? false;
            var connectTimeout = TimeSpan.FromSeconds(connectSec);
            var commandTimeout = TimeSpan.FromSeconds(commandSec);

            SshEndpoint? jumpHost = null;
            var jumpText = Text("JumpHost") ?? config.ProxyJump;
            if (jumpText is not null && !jumpText.Equals("none", StringComparison.OrdinalIgnoreCase))
            {
                var jumpKey = values.ContainsKey("JumpHost") && values["JumpHost"] is not null ? "JumpHost" : "SshConfigFile";
                if (!JumpHosts.TryParse(jumpText, out var jumpUser, out var jumpName, out var jumpPort, out var jumpProblem))
                {
                    throw Error(jumpKey, (jumpKey == "JumpHost" ? "" : $"ProxyJump '{jumpText}' in {configPath}: ") + jumpProblem);
                }

                var jumpConfig = Config(jumpName!, jumpUser);
                if (jumpConfig.ProxyJump is { } chained && !chained.Equals("none", StringComparison.OrdinalIgnoreCase))
                {
                    throw Error(jumpKey, $"the ssh config gives the jump host '{jumpName}' a ProxyJump of its own ({chained}); a chain of jump hosts is not supported (set ProxyJump none for it)");
                }

                var jumpIdentities = ExistingFiles(jumpConfig.IdentityFiles);
                jumpHost = new SshEndpoint
                {
                    HostName = jumpConfig.HostName ?? jumpName!,
                    Alias = jumpConfig.HostName is { } jh && !jh.Equals(jumpName, StringComparison.OrdinalIgnoreCase) ? jumpName : null,
                    Port = jumpPort ?? jumpConfig.Port ?? RunbookDefaults.SshPort,

                    // Like ssh -J: the jump host's own user, else the local user; never the target's password.
                    User = jumpUser ?? jumpConfig.User ?? SshConfigFile.LocalUserName(),
                    KeyFile = jumpIdentities.Count == 0 ? keyFile : null,
                    IdentityFiles = jumpIdentities.Count > 0 ? jumpIdentities : identityFiles,
                    UseAgent = jumpConfig.IdentityAgent != "none" && !jumpConfig.IdentitiesOnly,
                    AgentSocket = jumpConfig.IdentityAgent is "none" ? null : jumpConfig.IdentityAgent,
                    KnownHostsFile = knownHosts,
                    TrustNewHostKey = trustNew,
                    ConnectTimeout = connectTimeout,
                    CommandTimeout = commandTimeout,
                    SshConfigFile = configPath,
                };
            }

            ssh = new SshEndpoint
            {
                HostName = config.HostName ?? hostName,
                Alias = config.HostName is { } h && !h.Equals(hostName, StringComparison.OrdinalIgnoreCase) ? hostName : null,
                Port = Number("SshPort") ?? config.Port ?? RunbookDefaults.SshPort,
                User = user!,
                KeyFile = keyFile,
                IdentityFiles = identityFiles,
                UseAgent = config.IdentityAgent != "none" && !config.IdentitiesOnly,
                AgentSocket = config.IdentityAgent is "none" ? null : config.IdentityAgent,
                Password = password,
                KnownHostsFile = knownHosts,
                HostKeyFingerprint = Text("HostKeyFingerprint"),
                TrustNewHostKey = trustNew,
                ConnectTimeout = connectTimeout,
                CommandTimeout = commandTimeout,
                JumpHost = jumpHost,
                SshConfigFile = configPath,
            };
        }

        ServiceManagerKind serviceManager = RunbookDefaults.ServiceManager;
        if (values.TryGetValue("ServiceManager", out var sm) && sm is not null)
        {
            var text = sm is ServiceManagerKind kind ? kind.ToString() : Convert.ToString(sm, CultureInfo.InvariantCulture);
            if (!Enum.TryParse(text, ignoreCase: true, out serviceManager) || !Enum.IsDefined(typeof(ServiceManagerKind), serviceManager)
                || int.TryParse(text, out _))
            {
                throw Error("ServiceManager", $"'{text}' is not one of {string.Join(", ", Enum.GetNames(typeof(ServiceManagerKind)))}");
            }
        }

        T Choice<T>(string key, T fallback)
            where T : struct, Enum
        {
            if (!values.TryGetValue(key, out var v) || v is null)
            {
                return fallback;
            }

            var text = v is T typed ? typed.ToString() : Convert.ToString(v, CultureInfo.InvariantCulture);
            return Enum.TryParse<T>(text, ignoreCase: true, out var parsed) && Enum.IsDefined(typeof(T), parsed) && !int.TryParse(text, out _)
                ? parsed
                : throw Error(key, $"'{text}' is not one of {string.Join(", ", Enum.GetNames(typeof(T)))}");
        }

        // One value or a list; null when the key is not set.
        IReadOnlyList<object?>? Items(string key)
        {
            if (!values.TryGetValue(key, out var v) || v is null)
            {
                return null;
            }

            return v is string || v is IDictionary || v is not IEnumerable list ? new[] { v } : list.Cast<object?>().ToArray();
        }

        IReadOnlyList<string>? Texts(string key) =>
            Items(key)?.Select(o => o as string ?? throw Error(key, $"expected text but found {Describe(o)}")).ToArray();

        IReadOnlyList<int>? Numbers(string key) =>
            Items(key)?.Select(o => o switch
            {
                int i => i,
                long l when l is >= int.MinValue and <= int.MaxValue => (int)l,
                string t when int.TryParse(t, NumberStyles.None, CultureInfo.InvariantCulture, out var p) => p,
                _ => throw Error(key, $"expected whole numbers but found {Describe(o)}"),
            }).ToArray();

        // A command as words: a list is taken as it is; one string is split at spaces (no quoting: use a list for a word with spaces).
        IReadOnlyList<string>? Command(string key)
        {
            var words = Texts(key);
            return words is { Count: 1 } ? words[0].Split(new[] { ' ', '\t' }, StringSplitOptions.RemoveEmptyEntries) : words;
        }

        MigrationPreset Preset()
        {
            if (!values.TryGetValue("MigrationPreset", out var mp) || mp is null)
            {
                return MigrationPreset.Prisma;
            }

            var text = mp is MigrationPreset p ? p.ToString() : Convert.ToString(mp, CultureInfo.InvariantCulture);
            return Enum.TryParse<MigrationPreset>(text, ignoreCase: true, out var preset) && !int.TryParse(text, out _)
                ? preset
                : throw Error("MigrationPreset", $"'{text}' is not one of {string.Join(", ", Enum.GetNames(typeof(MigrationPreset)))}");
        }

        Uri? publicUrl = null;
        var publicText = Text("PublicUrl");
        if (publicText is not null)
        {
            if (!Uri.TryCreate(publicText, UriKind.Absolute, out publicUrl) || (publicUrl.Scheme != Uri.UriSchemeHttp && publicUrl.Scheme != Uri.UriSchemeHttps)
                || !string.IsNullOrEmpty(publicUrl.UserInfo))
            {
                throw Error("PublicUrl", "expected an absolute http:// or https:// URL without user information");
            }
        }

        IReadOnlyList<string> required = RunbookDefaults.RequiredVariables;
        if (values.TryGetValue("RequiredVariables", out var rv) && rv is not null)
        {
            var list = rv is string single ? new[] { single } :
                rv is IEnumerable items ? items.Cast<object?>().Select(o => o as string ?? throw Error("RequiredVariables", $"expected names but found {Describe(o)}")).ToArray() :
                throw Error("RequiredVariables", $"expected a list of names but found {Describe(rv)}");
            required = list;
        }

        values.TryGetValue("SmokeChecks", out var smokeSetting);
        if (!SmokeChecks.TryParse(smokeSetting, out var smokeChecks, out var smokeProblem))
        {
            throw Error("SmokeChecks", smokeProblem!);
        }

        var target = new VaultTarget
        {
            Name = name!,
            Environment = Text("Environment") ?? RunbookDefaults.Environment,
            Ssh = ssh,
            AppPath = Text("AppPath") ?? RunbookDefaults.AppPath,
            Port = Number("Port") ?? RunbookDefaults.Port,
            ServiceManager = serviceManager,
            ServiceName = Text("ServiceName") ?? RunbookDefaults.ServiceName,
            EnvFile = Text("EnvFile") ?? RunbookDefaults.EnvFile,
            LogPath = Text("LogPath") ?? RunbookDefaults.LogPath,
            BackupPath = Text("BackupPath") ?? RunbookDefaults.BackupPath,
            HealthPath = Text("HealthPath") ?? RunbookDefaults.HealthPath,
            ReadyPath = Text("ReadyPath") ?? RunbookDefaults.ReadyPath,
            VersionPath = Text("VersionPath") ?? RunbookDefaults.VersionPath,
            RequiredVariables = required,
            PublicUrl = publicUrl,
            StatePath = Text("StatePath") ?? RunbookDefaults.StatePath,
            Pm2Home = Text("Pm2Home"),
            DockerHost = Text("DockerHost"),
            UseSudo = Flag("UseSudo"),
            ReleasesPath = Text("ReleasesPath"),
            Repository = Text("Repository"),
            KeepReleases = Number("KeepReleases") ?? 5,
            MaxArtifactSizeMB = Number("MaxArtifactSizeMB") ?? RunbookDefaults.MaxArtifactSizeMB,
            ArtifactTimeoutSec = Number("ArtifactTimeoutSec") ?? RunbookDefaults.ArtifactTimeoutSec,
            MigrationPreset = Preset(),
            SmokeChecks = smokeChecks,
            HealthyStatusCodes = Numbers("HealthyStatusCodes") ?? RunbookDefaults.HealthyStatusCodes,
            HealthyValues = Texts("HealthyValues") ?? RunbookDefaults.HealthyValues,
            HealthJsonPath = Text("HealthJsonPath") ?? RunbookDefaults.HealthJsonPath,
            HealthResponse = Choice("HealthResponse", HealthResponseKind.Json),
            SmokePreset = Choice("SmokePreset", SmokePreset.Runbook),
            StartupMarkers = Texts("StartupMarkers"),
            PackageManager = Choice("PackageManager", PackageManagerKind.Auto),
            BuildCommand = Command("BuildCommand"),
            EntryPoint = Text("EntryPoint"),
            AppSubdirectory = Text("AppSubdirectory"),
            Proxy = Choice("Proxy", ProxyKind.None),
            UpstreamFile = Text("UpstreamFile"),
            UpstreamName = Text("UpstreamName"),
            BluePort = Number("BluePort"),
            GreenPort = Number("GreenPort"),
            ProxyPort = Number("ProxyPort") ?? 80,
            ProxyReload = Choice("ProxyReload", ProxyReload.Signal),
            NginxConfig = Text("NginxConfig"),
            SwarmUpdateOrder = Choice("SwarmUpdateOrder", SwarmUpdateOrder.StopFirst),
            SwarmUpdateParallelism = Number("SwarmUpdateParallelism") ?? 1,
            SwarmUpdateDelaySec = Number("SwarmUpdateDelaySec") ?? 0,
            SwarmMonitorSec = Number("SwarmMonitorSec") ?? RunbookDefaults.SwarmMonitorSec,
        };

        if (target.FindProblem() is { } problem)
        {
            throw Error(problem.Key, problem.Message);
        }

        return target;
    }

    /// <summary>The ssh config to apply: the SshConfigFile setting, 'none' for none, else ~/.ssh/config when it exists.</summary>
    private static string? SshConfigPath(string? setting, string? baseDirectory, Func<string, string, VaultException> error)
    {
        if (setting is null)
        {
            var path = SshConfigFile.DefaultPath();
            return File.Exists(path) ? path : null;
        }

        if (setting.Equals("none", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        if (setting.Length == 0 || setting.Any(char.IsControl))
        {
            throw error("SshConfigFile", "expected a file path, or 'none'");
        }

        var full = ExpandPath(setting, baseDirectory);
        return File.Exists(full) ? full : throw error("SshConfigFile", $"the ssh config '{full}' does not exist (use 'none' for no ssh config)");
    }

    private static IReadOnlyList<string> ExistingFiles(IEnumerable<string> paths) =>
        paths.Select(p => Path.GetFullPath(p)).Where(File.Exists).Distinct(StringComparer.Ordinal).ToList();

    /// <summary>The keys ssh offers when nothing names one: ~/.ssh/id_ed25519, id_ecdsa and id_rsa, those that exist.</summary>
    private static IReadOnlyList<string> DefaultIdentityFiles() =>
        ExistingFiles(new[] { "id_ed25519", "id_ecdsa", "id_rsa" }.Select(name => Path.Combine(SshConfigFile.HomeDirectory(), ".ssh", name)));

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

    private static string Describe(object? value) => value switch
    {
        null => "nothing",
        string s => $"text '{s}'",
        IDictionary => "a hashtable",
        IEnumerable => "a list",
        _ => $"a {value.GetType().Name} ({Convert.ToString(value, CultureInfo.InvariantCulture)})",
    };
}
