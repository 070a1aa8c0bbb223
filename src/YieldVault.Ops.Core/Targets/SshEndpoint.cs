using System;
using System.Collections.Generic;
using System.Security;

namespace YieldVault.Ops;

/// <summary>
/// How to reach a target over SSH. The password, when there is one, stays a SecureString until the
/// moment of authentication and never appears in ToString, output or errors.
/// </summary>
public sealed class SshEndpoint
{
    public string HostName { get; init; } = "";

    public int Port { get; init; } = RunbookDefaults.SshPort;

    public string User { get; init; } = "";

    public string? KeyFile { get; init; }

    /// <summary>
    /// More key files to offer after <see cref="KeyFile"/>: the IdentityFile lines of the ssh config, or (when neither
    /// gives one) the default ~/.ssh/id_ed25519, id_ecdsa and id_rsa that exist, as ssh does. One that cannot be read
    /// (an encrypted key, say) is skipped when another way to log in remains.
    /// </summary>
    public IReadOnlyList<string> IdentityFiles { get; init; } = Array.Empty<string>();

    /// <summary>Offer the keys of the running ssh-agent (off with IdentitiesOnly yes or IdentityAgent none in the ssh config).</summary>
    public bool UseAgent { get; init; } = true;

    /// <summary>The agent's socket from the ssh config's IdentityAgent; null: SSH_AUTH_SOCK when connecting.</summary>
    public string? AgentSocket { get; init; }

    /// <summary>The host to hop through (JumpHost, or ProxyJump in the ssh config); null: connect directly.</summary>
    public SshEndpoint? JumpHost { get; init; }

    /// <summary>The name the target gave when the ssh config turned it into another <see cref="HostName"/> (a Host alias).</summary>
    public string? Alias { get; init; }

    /// <summary>The ssh client config that was applied (null: none).</summary>
    public string? SshConfigFile { get; init; }

    /// <summary>The agent socket to use now, or null (no agent).</summary>
    public string? EffectiveAgentSocket => UseAgent ? AgentSocket ?? Hosts.SshAgent.EnvironmentSocket() : null;

    public SecureString? Password { get; init; }

    /// <summary>OpenSSH known_hosts file used to verify the server's host key.</summary>
    public string KnownHostsFile { get; init; } = DefaultKnownHostsFile();

    /// <summary>A pinned "SHA256:..." fingerprint; when set it is checked instead of known_hosts.</summary>
    public string? HostKeyFingerprint { get; init; }

    /// <summary>Accept and record a host key that known_hosts does not know. A changed key is never accepted.</summary>
    public bool TrustNewHostKey { get; init; }

    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(RunbookDefaults.ConnectTimeoutSec);

    public TimeSpan CommandTimeout { get; init; } = TimeSpan.FromSeconds(RunbookDefaults.CommandTimeoutSec);

    public bool HasPassword => Password is not null && Password.Length > 0;

    /// <summary>
    /// Identity used to share one connection between targets on the same host and account. A password
    /// counts by the credential object it came from (never by its value), so another credential for
    /// the same user gets its own login instead of riding on an earlier one; another ssh-agent (a changed
    /// SSH_AUTH_SOCK) or jump host is another login too.
    /// </summary>
    public string ConnectionKey =>
        string.Join("|", User, HostName.ToUpperInvariant(), Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            KeyFile ?? "", Password is null ? "" : CredentialIds.GetValue(Password, _ => Guid.NewGuid().ToString("N")),
            KnownHostsFile, HostKeyFingerprint ?? "", TrustNewHostKey ? "tofu" : "", string.Join(",", IdentityFiles),
            EffectiveAgentSocket ?? "", JumpHost is null ? "" : "via(" + JumpHost.ConnectionKey + ")");

    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<SecureString, string> CredentialIds = new();

    public override string ToString() => Address + (JumpHost is null ? "" : " via " + JumpHost.Address);

    /// <summary>user@host, or user@host:port when the port is not 22.</summary>
    public string Address =>
        Port == RunbookDefaults.SshPort ? $"{User}@{HostName}" : $"{User}@{HostName}:{Port}";

    public static string DefaultKnownHostsFile()
    {
        var home = Environment.GetEnvironmentVariable("HOME") ?? Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        return System.IO.Path.Combine(home, ".ssh", "known_hosts");
    }
}
