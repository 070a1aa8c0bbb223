using System;
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
    /// the same user gets its own login instead of riding on an earlier one.
    /// </summary>
    public string ConnectionKey =>
        string.Join("|", User, HostName.ToUpperInvariant(), Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            KeyFile ?? "", Password is null ? "" : CredentialIds.GetValue(Password, _ => Guid.NewGuid().ToString("N")),
            KnownHostsFile, HostKeyFingerprint ?? "", TrustNewHostKey ? "tofu" : "");

    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<SecureString, string> CredentialIds = new();

    public override string ToString() =>
        Port == RunbookDefaults.SshPort ? $"{User}@{HostName}" : $"{User}@{HostName}:{Port}";

    public static string DefaultKnownHostsFile()
    {
        var home = Environment.GetEnvironmentVariable("HOME") ?? Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        return System.IO.Path.Combine(home, ".ssh", "known_hosts");
    }
}
