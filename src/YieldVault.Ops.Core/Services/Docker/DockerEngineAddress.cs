using System;
using System.Globalization;

namespace YieldVault.Ops.Services;

internal enum DockerEngineTransport
{
    /// <summary>A Unix socket on this machine.</summary>
    UnixSocket,

    /// <summary>Plain HTTP over TCP (no TLS).</summary>
    Tcp,

    /// <summary><c>docker system dial-stdio</c> over SSH, like the docker CLI does for ssh:// hosts.</summary>
    Ssh,
}

/// <summary>
/// Where a target's Docker engine is and how to reach it, from the target's <c>DockerHost</c> setting:
/// unix:///path, tcp://host:port, ssh://user@host[:port], or nothing (the local socket for a local target,
/// the target's own SSH connection for an SSH target). For an SSH target a unix:// path is the socket on that
/// server (reached with <c>docker -H unix://path system dial-stdio</c> there); tcp:// is always dialled from here.
/// </summary>
internal sealed class DockerEngineAddress
{
    public const string DefaultSocketPath = "/var/run/docker.sock";

    private DockerEngineAddress(DockerEngineTransport transport, string? socketPath, string? host, int port, string? user, bool usesTargetConnection)
    {
        Transport = transport;
        SocketPath = socketPath;
        Host = host;
        Port = port;
        User = user;
        UsesTargetConnection = usesTargetConnection;
    }

    public DockerEngineTransport Transport { get; }

    /// <summary>The engine's Unix socket: on this machine, or for SSH on the server (null: the server's default).</summary>
    public string? SocketPath { get; }

    /// <summary>TCP and SSH: the host name or address.</summary>
    public string? Host { get; }

    /// <summary>TCP and SSH: the port.</summary>
    public int Port { get; }

    /// <summary>SSH only: the login; null when the target's own connection is used.</summary>
    public string? User { get; }

    /// <summary>SSH only: dial over the target's own SSH connection rather than a separate one.</summary>
    public bool UsesTargetConnection { get; }

    /// <summary>For messages: "unix:///var/run/docker.sock", "tcp://10.0.0.5:2375", "ssh://deploy@app1".</summary>
    public string Display => Transport switch
    {
        DockerEngineTransport.UnixSocket => "unix://" + SocketPath,
        DockerEngineTransport.Tcp => $"tcp://{Host}:{Port.ToString(CultureInfo.InvariantCulture)}",
        _ => $"ssh://{User}@{Host}" + (Port == RunbookDefaults.SshPort ? "" : ":" + Port.ToString(CultureInfo.InvariantCulture))
            + (SocketPath is null ? "" : $" (unix://{SocketPath})"),
    };

    /// <summary>SSH only: what runs on the server to relay the engine's socket over the channel.</summary>
    public string DialCommand => SocketPath is null
        ? "docker system dial-stdio"
        : "docker -H " + Hosts.ShellQuote.Quote("unix://" + SocketPath) + " system dial-stdio";

    public override string ToString() => Display;

    /// <summary>The engine of <paramref name="target"/>.</summary>
    public static DockerEngineAddress For(VaultTarget target)
    {
        if (target.DockerHost is { Length: > 0 } dockerHost)
        {
            var parsed = Parse(dockerHost);
            if (parsed.Transport == DockerEngineTransport.UnixSocket && target.Ssh is { } server)
            {
                // A socket path of an SSH target is on that server (e.g. a rootless engine's /run/user/1000/docker.sock).
                return new DockerEngineAddress(DockerEngineTransport.Ssh, parsed.SocketPath, server.HostName, server.Port, server.User, usesTargetConnection: true);
            }

            if (parsed.Transport == DockerEngineTransport.Ssh && target.Ssh is { } ssh
                && string.Equals(parsed.User, ssh.User, StringComparison.Ordinal)
                && string.Equals(parsed.Host, ssh.HostName, StringComparison.OrdinalIgnoreCase)
                && parsed.Port == ssh.Port)
            {
                // The same login as the target: ride on the target's connection instead of a second one.
                return new DockerEngineAddress(DockerEngineTransport.Ssh, null, ssh.HostName, ssh.Port, ssh.User, usesTargetConnection: true);
            }

            return parsed;
        }

        return target.Ssh is { } endpoint
            ? new DockerEngineAddress(DockerEngineTransport.Ssh, null, endpoint.HostName, endpoint.Port, endpoint.User, usesTargetConnection: true)
            : new DockerEngineAddress(DockerEngineTransport.UnixSocket, DefaultSocketPath, null, 0, null, usesTargetConnection: false);
    }

    /// <summary>Parses a DockerHost value; throws <c>DockerHostInvalid</c> for anything else.</summary>
    public static DockerEngineAddress Parse(string value)
    {
        if (value is null)
        {
            throw new ArgumentNullException(nameof(value));
        }

        if (!DockerHosts.IsValid(value))
        {
            throw Invalid(value);
        }

        if (value.StartsWith("unix://", StringComparison.Ordinal))
        {
            return new DockerEngineAddress(DockerEngineTransport.UnixSocket, value.Substring("unix://".Length), null, 0, null, usesTargetConnection: false);
        }

        if (value.StartsWith("tcp://", StringComparison.Ordinal))
        {
            var (host, port) = SplitHostPort(value, value.Substring("tcp://".Length), defaultPort: null);
            return new DockerEngineAddress(DockerEngineTransport.Tcp, null, host, port, null, usesTargetConnection: false);
        }

        // ssh://user@host[:port] (the pattern in DockerHosts guarantees the '@').
        var rest = value.Substring("ssh://".Length);
        var at = rest.IndexOf('@');
        var user = rest.Substring(0, at);
        var (sshHost, sshPort) = SplitHostPort(value, rest.Substring(at + 1), RunbookDefaults.SshPort);
        return new DockerEngineAddress(DockerEngineTransport.Ssh, null, sshHost, sshPort, user, usesTargetConnection: false);
    }

    private static (string Host, int Port) SplitHostPort(string value, string hostPort, int? defaultPort)
    {
        var colon = hostPort.LastIndexOf(':');
        if (colon < 0)
        {
            return defaultPort is { } port ? (hostPort, port) : throw Invalid(value);
        }

        var host = hostPort.Substring(0, colon);
        if (host.Length == 0
            || !int.TryParse(hostPort.Substring(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var number)
            || number is < 1 or > 65535)
        {
            throw Invalid(value);
        }

        return (host, number);
    }

    private static VaultException Invalid(string value) =>
        new(ErrorIds.DockerHostInvalid, VaultErrorKind.InvalidArgument,
            $"DockerHost '{value}' is not a Docker engine address this module can use.",
            "Use unix:///path/to/docker.sock, tcp://host:port (plain HTTP; TLS is not supported) or ssh://user@host[:port], or leave DockerHost empty.");
}
