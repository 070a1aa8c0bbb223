using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Security;
using YieldVault.Ops.Hosts;

namespace YieldVault.Ops;

/// <summary>The SSH side of a target: its settings, with what the ssh config says about the host and its jump host.</summary>
public static partial class TargetBuilder
{
    private static SshEndpoint BuildSsh(TargetSettings s, string source, string hostName, string? sshUser, SecureString? password, TimeSpan connectTimeout, TimeSpan commandTimeout)
    {
        var explicitUser = s.Text("User") ?? sshUser;
        var configPath = SshConfigPath(s.Text("SshConfigFile"), s.BaseDirectory, s.Error);
        SshHostConfig Config(string host, string? user)
        {
            try
            {
                return configPath is null ? SshHostConfig.Empty : SshConfigFile.Resolve(configPath, host, user);
            }
            catch (VaultException ex) when (ex.ErrorId == ErrorIds.SshConfigInvalid)
            {
                throw new VaultException(ErrorIds.SshConfigInvalid, VaultErrorKind.InvalidData, $"{source}: target '{s.Name}': {ex.Message}", ex.RecommendedAction, ex);
            }
        }

        var config = Config(hostName, explicitUser);
        var user = explicitUser ?? config.User;
        if (string.IsNullOrEmpty(user))
        {
            throw s.Error("User", "an SSH target needs a User (or a Credential, or a User line for this host in the ssh config)");
        }

        var keyFile = s.FilePath("KeyFile");
        if (keyFile is not null && !File.Exists(keyFile))
        {
            throw s.Error("KeyFile", $"the key file '{keyFile}' does not exist");
        }

        // Like ssh: IdentityFile lines that name no file are passed over, and the default keys are offered only when
        // nothing names a key.
        var identityFiles = ExistingFiles(config.IdentityFiles);
        if (keyFile is null && config.IdentityFiles.Count == 0)
        {
            identityFiles = DefaultIdentityFiles();
        }

        var knownHosts = s.FilePath("KnownHostsFile") ?? config.UserKnownHostsFile ?? SshEndpoint.DefaultKnownHostsFile();
        var trustNew = s.Flag("TrustNewHostKey") ?? false;
                
        SshEndpoint? jumpHost = null;
        var jumpText = s.Text("JumpHost") ?? config.ProxyJump;
        if (jumpText is not null && !jumpText.Equals("none", StringComparison.OrdinalIgnoreCase))
        {
            var jumpKey = s.Has("JumpHost") ? "JumpHost" : "SshConfigFile";
            if (!JumpHosts.TryParse(jumpText, out var jumpUser, out var jumpName, out var jumpPort, out var jumpProblem))
            {
                throw s.Error(jumpKey, (jumpKey == "JumpHost" ? "" : $"ProxyJump '{jumpText}' in {configPath}: ") + jumpProblem);
            }

            var jumpConfig = Config(jumpName!, jumpUser);
            if (jumpConfig.ProxyJump is { } chained && !chained.Equals("none", StringComparison.OrdinalIgnoreCase))
            {
                throw s.Error(jumpKey, $"the ssh config gives the jump host '{jumpName}' a ProxyJump of its own ({chained}); a chain of jump hosts is not supported (set ProxyJump none for it)");
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

        return new SshEndpoint
        {
            HostName = config.HostName ?? hostName,
            Alias = config.HostName is { } h && !h.Equals(hostName, StringComparison.OrdinalIgnoreCase) ? hostName : null,
            Port = s.Number("SshPort") ?? config.Port ?? RunbookDefaults.SshPort,
            User = user!,
            KeyFile = keyFile,
            IdentityFiles = identityFiles,
            UseAgent = config.IdentityAgent != "none" && !config.IdentitiesOnly,
            AgentSocket = config.IdentityAgent is "none" ? null : config.IdentityAgent,
            Password = password,
            KnownHostsFile = knownHosts,
            HostKeyFingerprint = s.Text("HostKeyFingerprint"),
            TrustNewHostKey = trustNew,
            ConnectTimeout = connectTimeout,
            CommandTimeout = commandTimeout,
            JumpHost = jumpHost,
            SshConfigFile = configPath,
        };
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
}
