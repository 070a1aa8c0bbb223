using System;
using System.Collections.Generic;

namespace YieldVault.Ops.Hosts;

/// <summary>What an OpenSSH client config (~/.ssh/config) says about one host name.</summary>
public sealed class SshHostConfig
{
    public static SshHostConfig Empty { get; } = new();

    /// <summary>The address to connect to (HostName, with %h expanded); null: the name itself.</summary>
    public string? HostName { get; init; }

    public int? Port { get; init; }

    public string? User { get; init; }

    /// <summary>IdentityFile values in the order given, expanded to absolute paths (they may not exist).</summary>
    public IReadOnlyList<string> IdentityFiles { get; init; } = Array.Empty<string>();

    /// <summary>ProxyJump as written ("none" is returned as "none").</summary>
    public string? ProxyJump { get; init; }

    public bool IdentitiesOnly { get; init; }

    /// <summary>IdentityAgent: a socket path, "none", or null (SSH_AUTH_SOCK).</summary>
    public string? IdentityAgent { get; init; }

    /// <summary>The first UserKnownHostsFile, expanded; null when not set.</summary>
    public string? UserKnownHostsFile { get; init; }

    /// <summary>True when at least one Host or Match block applied to the name.</summary>
    public bool Matched { get; init; }
}
