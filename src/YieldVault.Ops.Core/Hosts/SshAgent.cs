using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Renci.SshNet;
using Renci.SshNet.Security;

namespace YieldVault.Ops.Hosts;

/// <summary>One key an ssh-agent holds: its public key blob and comment. The private key never leaves the agent.</summary>
public sealed class SshAgentIdentity
{
    public SshAgentIdentity(byte[] publicKey, string comment)
    {
        PublicKey = publicKey;
        Comment = comment;
    }

    public byte[] PublicKey { get; }

    public string Comment { get; }

    public string KeyType => KnownHosts.KeyType(PublicKey);

    public string Fingerprint => KnownHosts.Fingerprint(PublicKey);
}

/// <summary>
/// A client of the ssh-agent protocol (draft-miller-ssh-agent) over the agent's Unix socket: it lists the keys
/// (SSH_AGENTC_REQUEST_IDENTITIES) and has the agent sign (SSH_AGENTC_SIGN_REQUEST), nothing else: it never
/// adds, removes or reads keys. Each request is one short connection, bounded by a timeout.
/// </summary>
public sealed class SshAgent
{
    private const byte AgentFailure = 5;
    private const byte RequestIdentities = 11;
    private const byte IdentitiesAnswer = 12;
    private const byte SignRequest = 13;
    private const byte SignResponse = 14;

    /// <summary>The largest answer read from an agent; a real one is a few KB.</summary>
    private const int MaxMessageBytes = 256 * 1024;

    public SshAgent(string socketPath, TimeSpan timeout)
    {
        SocketPath = socketPath;
        Timeout = timeout;
    }

    public string SocketPath { get; }

    public TimeSpan Timeout { get; }

    /// <summary>SSH_AUTH_SOCK of this process, or null.</summary>
    public static string? EnvironmentSocket()
    {
        var value = Environment.GetEnvironmentVariable("SSH_AUTH_SOCK");
        return string.IsNullOrEmpty(value) ? null : value;
    }

    public IReadOnlyList<SshAgentIdentity> ListIdentities()
    {
        var reply = Request(new[] { RequestIdentities }, "list its keys");
        var reader = new Reader(reply);
        if (reader.Byte() != IdentitiesAnswer)
        {
            throw Failed("answered the request for its keys with something else than a key list");
        }

        var count = reader.UInt32();
        if (count > 1024)
        {
            throw Failed($"claims to hold {count} keys");
        }

        var identities = new List<SshAgentIdentity>();
        for (var i = 0; i < count; i++)
        {
            var blob = reader.Bytes();
            var comment = Encoding.UTF8.GetString(reader.Bytes());
            identities.Add(new SshAgentIdentity(blob, comment));
        }

        return identities;
    }

    /// <summary>The agent's signature blob (string algorithm, string signature) over <paramref name="data"/>.</summary>
    /// <param name="flags">SSH_AGENT_RSA_SHA2_256 (2) or SSH_AGENT_RSA_SHA2_512 (4) for RSA keys, else 0.</param>
    public byte[] Sign(byte[] publicKey, byte[] data, uint flags)
    {
        var message = new MemoryStream();
        message.WriteByte(SignRequest);
        WriteBytes(message, publicKey);
        WriteBytes(message, data);
        WriteUInt32(message, flags);
        var reply = Request(message.ToArray(), "sign");
        var reader = new Reader(reply);
        var type = reader.Byte();
        if (type == AgentFailure)
        {
            throw Failed($"refused to sign with key {KnownHosts.Fingerprint(publicKey)} (it may need a confirmation, or the key was removed)");
        }

        return type == SignResponse ? reader.Bytes() : throw Failed("answered the sign request with something else than a signature");
    }

    /// <summary>The SSH.NET key sources for what the agent holds: each key offered under the algorithms it signs for.</summary>
    public IReadOnlyList<IPrivateKeySource> KeySources(IEnumerable<SshAgentIdentity> identities) =>
        identities.Select(identity => (IPrivateKeySource)new AgentKeySource(this, identity)).ToList();

    private byte[] Request(byte[] message, string what)
    {
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        var milliseconds = (int)Math.Min(int.MaxValue, Timeout.TotalMilliseconds);
        socket.SendTimeout = milliseconds;
        socket.ReceiveTimeout = milliseconds;
        try
        {
            socket.Connect(UnixEndPoint(SocketPath));
            using var stream = new NetworkStream(socket, ownsSocket: false);
            var framed = new MemoryStream();
            WriteUInt32(framed, (uint)message.Length);
            framed.Write(message, 0, message.Length);
            var bytes = framed.ToArray();
            stream.Write(bytes, 0, bytes.Length);
            var header = ReadExactly(stream, 4);
            var length = (header[0] << 24) | (header[1] << 16) | (header[2] << 8) | header[3];
            if (length is <= 0 or > MaxMessageBytes)
            {
                throw Failed($"sent an answer of {length} bytes when asked to {what}");
            }

            return ReadExactly(stream, length);
        }
        catch (Exception ex) when (ex is SocketException or IOException or ObjectDisposedException)
        {
            throw new VaultException(ErrorIds.SshAgentFailed, VaultErrorKind.AuthenticationError,
                $"The ssh-agent at {SocketPath} could not be asked to {what}: {ex.Message}.",
                "Check that the agent runs (ssh-add -l) and that SSH_AUTH_SOCK points at its socket, or give the target a KeyFile.", ex);
        }
    }

    private VaultException Failed(string problem) => new(
        ErrorIds.SshAgentFailed, VaultErrorKind.AuthenticationError,
        $"The ssh-agent at {SocketPath} {problem}.",
        "Check the agent with ssh-add -l, or give the target a KeyFile.");

    private static byte[] ReadExactly(Stream stream, int count)
    {
        var buffer = new byte[count];
        var read = 0;
        while (read < count)
        {
            var n = stream.Read(buffer, read, count - read);
            if (n == 0)
            {
                throw new IOException("the agent closed the connection");
            }

            read += n;
        }

        return buffer;
    }

    private static void WriteUInt32(Stream stream, uint value)
    {
        stream.WriteByte((byte)(value >> 24));
        stream.WriteByte((byte)(value >> 16));
        stream.WriteByte((byte)(value >> 8));
        stream.WriteByte((byte)value);
    }

    private static void WriteBytes(Stream stream, byte[] value)
    {
        WriteUInt32(stream, (uint)value.Length);
        stream.Write(value, 0, value.Length);
    }

    // netstandard2.0 has no UnixDomainSocketEndPoint type; the runtime that loads us (PowerShell 7, .NET) does.
    private static EndPoint UnixEndPoint(string path)
    {
        var type = Type.GetType("System.Net.Sockets.UnixDomainSocketEndPoint, System.Net.Sockets", throwOnError: false)
            ?? throw new PlatformNotSupportedException("Unix domain sockets are not available on this runtime.");
        return (EndPoint)Activator.CreateInstance(type, path)!;
    }

    private sealed class Reader
    {
        private readonly byte[] _data;
        private int _offset;

        public Reader(byte[] data) => _data = data;

        public byte Byte() => _offset < _data.Length ? _data[_offset++] : throw Short();

        public uint UInt32()
        {
            if (_offset + 4 > _data.Length)
            {
                throw Short();
            }

            var value = ((uint)_data[_offset] << 24) | ((uint)_data[_offset + 1] << 16) | ((uint)_data[_offset + 2] << 8) | _data[_offset + 3];
            _offset += 4;
            return value;
        }

        public byte[] Bytes()
        {
            var length = UInt32();
            if (length > (uint)(_data.Length - _offset))
            {
                throw Short();
            }

            var value = new byte[length];
            Buffer.BlockCopy(_data, _offset, value, 0, (int)length);
            _offset += (int)length;
            return value;
        }

        private static IOException Short() => new("the agent's answer is cut short");
    }

    /// <summary>A key held by the agent, as SSH.NET's publickey authentication uses it.</summary>
    private sealed class AgentKeySource : IPrivateKeySource
    {
        public AgentKeySource(SshAgent agent, SshAgentIdentity identity)
        {
            var type = identity.KeyType;

            // RSA: the SHA-2 signatures of RFC 8332 only; OpenSSH 8.8 and later refuse ssh-rsa (SHA-1) by default.
            HostKeyAlgorithms = type switch
            {
                "ssh-rsa" => new HostAlgorithm[]
                {
                    new AgentKeyAlgorithm("rsa-sha2-512", agent, identity, 4),
                    new AgentKeyAlgorithm("rsa-sha2-256", agent, identity, 2),
                },
                "ssh-rsa-cert-v01@openssh.com" => new HostAlgorithm[]
                {
                    new AgentKeyAlgorithm("rsa-sha2-512-cert-v01@openssh.com", agent, identity, 4),
                    new AgentKeyAlgorithm("rsa-sha2-256-cert-v01@openssh.com", agent, identity, 2),
                },
                _ => new HostAlgorithm[] { new AgentKeyAlgorithm(type, agent, identity, 0) },
            };
        }

        public IReadOnlyCollection<HostAlgorithm> HostKeyAlgorithms { get; }
    }

    private sealed class AgentKeyAlgorithm : HostAlgorithm
    {
        private readonly SshAgent _agent;
        private readonly SshAgentIdentity _identity;
        private readonly uint _flags;

        public AgentKeyAlgorithm(string name, SshAgent agent, SshAgentIdentity identity, uint flags)
            : base(name)
        {
            _agent = agent;
            _identity = identity;
            _flags = flags;
        }

        public override byte[] Data => _identity.PublicKey;

        public override byte[] Sign(byte[] data) => _agent.Sign(_identity.PublicKey, data, _flags);

        public override bool VerifySignature(byte[] data, byte[] signature) =>
            throw new NotSupportedException("A key held by an ssh-agent only signs.");
    }
}
