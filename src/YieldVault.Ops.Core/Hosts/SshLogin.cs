using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Net.Sockets;
using System.Threading;
using System.Threading.Tasks;
using Renci.SshNet;
using Renci.SshNet.Common;

namespace YieldVault.Ops.Hosts;

/// <summary>
/// One SSH login (SSH.NET): the host key checked against known_hosts or a pinned fingerprint before anything is sent,
/// then the keys offered (the KeyFile, the ssh config's identity files, the ssh-agent's keys) and the password. A
/// connection through a jump host is two logins: the jump host's, then the target's over a tunnel through it; each
/// checks its own host key under its own name.
/// </summary>
internal sealed class SshLogin
{
    private readonly SshEndpoint _endpoint;
    private readonly string _role;
    private readonly List<string> _offered = new();
    private HostKeyVerdict? _verdict;
    private string? _fingerprint;

    /// <param name="endpoint">Whom to log in to (its HostName and Port name the host key in known_hosts).</param>
    /// <param name="role">"" for the target, "the jump host " for a jump host (the start of messages).</param>
    public SshLogin(SshEndpoint endpoint, string role)
    {
        _endpoint = endpoint;
        _role = role;
    }

    /// <summary>The host key's fingerprint once the server showed it.</summary>
    public string? Fingerprint => _fingerprint;

    private string Where => $"{_role}{_endpoint.HostName}:{_endpoint.Port}";

    /// <summary>Connects to <paramref name="host"/>:<paramref name="port"/> (the endpoint itself, or a tunnel to it) and logs in.</summary>
    /// <param name="tunnelProblem">For a connection through a jump host: what went wrong with the tunnel, if anything.</param>
    public async Task<SshClient> ConnectAsync(string host, int port, Func<string?>? tunnelProblem, CancellationToken cancellationToken)
    {
        var reporter = Reporting.Current;
        var info = new ConnectionInfo(host, port, _endpoint.User, AuthenticationMethods(reporter).ToArray())
        {
            Timeout = _endpoint.ConnectTimeout,
        };

        var knownHosts = _endpoint.HostKeyFingerprint is null ? KnownHosts.Load(_endpoint.KnownHostsFile) : null;
        if (knownHosts is not null)
        {
            PreferKnownKeyTypes(info, knownHosts.KeyTypesFor(_endpoint.HostName, _endpoint.Port));
        }

        // Keep-alives find a half-open connection (a server that vanished, a NAT that forgot it) within a minute, instead of
        // a command or the deployment lock's heartbeat waiting on it until its own timeout.
        var client = new SshClient(info) { KeepAliveInterval = TimeSpan.FromSeconds(15) };
        client.HostKeyReceived += (_, e) => e.CanTrust = CheckHostKey(e.HostKey, knownHosts, reporter);
        using var timeout = new CancellationTokenSource(_endpoint.ConnectTimeout);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        try
        {
            await client.ConnectAsync(linked.Token).ConfigureAwait(false);
            reporter.Verbose($"Connected to {_role}{_endpoint} ({info.ServerVersion}), host key {_fingerprint}.");
            return client;
        }
        catch (Exception ex)
        {
            client.Dispose();
            if (ex is VaultException)
            {
                throw;
            }

            if (cancellationToken.IsCancellationRequested)
            {
                throw new OperationCanceledException("Connecting was cancelled.", ex, cancellationToken);
            }

            // A failure of ours inside SSH.NET's login (the agent refusing to sign) comes back wrapped.
            for (var inner = ex.InnerException; inner is not null; inner = inner.InnerException)
            {
                if (inner is VaultException vault)
                {
                    throw vault;
                }
            }

            throw Translate(ex, timeout.IsCancellationRequested, tunnelProblem?.Invoke());
        }
    }

    private bool CheckHostKey(byte[] key, KnownHosts? knownHosts, IVaultReporter reporter)
    {
        _fingerprint = KnownHosts.Fingerprint(key);
        if (_endpoint.HostKeyFingerprint is { } pinned)
        {
            var match = HostKeyFingerprints.Normalize(pinned) == HostKeyFingerprints.Normalize(_fingerprint);
            _verdict = match ? HostKeyVerdict.Trusted : HostKeyVerdict.Mismatch;
            return match;
        }

        _verdict = knownHosts!.Verify(_endpoint.HostName, _endpoint.Port, key);
        if (_verdict == HostKeyVerdict.Unknown && _endpoint.TrustNewHostKey)
        {
            KnownHosts.Append(_endpoint.KnownHostsFile, _endpoint.HostName, _endpoint.Port, key);
            reporter.Warning($"Trusted the new host key of {Where} ({KnownHosts.KeyType(key)} {_fingerprint}) and added it to {_endpoint.KnownHostsFile}.");
            _verdict = HostKeyVerdict.Trusted;
        }

        return _verdict == HostKeyVerdict.Trusted;
    }

    private VaultException Translate(Exception ex, bool timedOut, string? tunnelProblem)
    {
        var where = Where;
        switch (_verdict)
        {
            case HostKeyVerdict.Mismatch:
                return new VaultException(ErrorIds.HostKeyMismatch, VaultErrorKind.SecurityError,
                    $"The host key of {where} ({_fingerprint}) does not match the one recorded in " +
                    (_endpoint.HostKeyFingerprint is null ? _endpoint.KnownHostsFile : "HostKeyFingerprint") +
                    ". Someone may be intercepting the connection, or the server was reinstalled. Nothing was sent to the server.",
                    $"Confirm the server's key out of band (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub on the server); only then remove the old entry with: ssh-keygen -R '{KnownHosts.HostPattern(_endpoint.HostName, _endpoint.Port)}' -f {_endpoint.KnownHostsFile}", ex);
            case HostKeyVerdict.Revoked:
                return new VaultException(ErrorIds.HostKeyRevoked, VaultErrorKind.SecurityError,
                    $"The host key of {where} ({_fingerprint}) is marked @revoked in {_endpoint.KnownHostsFile}. Nothing was sent to the server.",
                    "Find out why the key was revoked before connecting to this host.", ex);
            case HostKeyVerdict.Unknown:
                return new VaultException(ErrorIds.HostKeyUnknown, VaultErrorKind.SecurityError,
                    $"{Capitalize(where)} presented host key {_fingerprint}, which {_endpoint.KnownHostsFile} does not know. Nothing was sent to the server.",
                    $"Check the fingerprint with the server's owner, then connect once with -TrustNewHostKey" +
                    (_role.Length == 0 ? $" (or pass -HostKeyFingerprint {_fingerprint})." : " (it records the jump host's key and the target's)."), ex);
        }

        // The target never showed a host key: the jump host did not connect us (a timeout is reported as one, below).
        if (tunnelProblem is not null && _verdict is null && ex is SshConnectionException or SocketException)
        {
            return new VaultException(ErrorIds.JumpHostRefused, VaultErrorKind.ConnectionError,
                $"The jump host did not open a connection to {_endpoint.HostName}:{_endpoint.Port}: {tunnelProblem} Nothing was sent to the target.",
                "Check from the jump host that the target's SSH port answers, and that the jump host's sshd allows TCP forwarding (AllowTcpForwarding) for this user.", ex);
        }

        switch (ex)
        {
            case SshAuthenticationException:
                return new VaultException(ErrorIds.AuthenticationFailed, VaultErrorKind.AuthenticationError,
                    $"{Capitalize(where)} refused the login of user '{_endpoint.User}' with " + (_offered.Count == 0 ? "nothing to offer" : string.Join(", ", _offered)) + ".",
                    _role.Length == 0
                        ? "Check the user name, the key or password, and the server's authorized_keys."
                        : "Check the jump host's user (JumpHost = 'user@host:port') and that its authorized_keys has one of these keys.", ex);
            case SocketException { SocketErrorCode: SocketError.ConnectionRefused }:
                return new VaultException(ErrorIds.TargetUnreachable, VaultErrorKind.ConnectionError,
                    $"Could not connect to {where} over SSH: connection refused.",
                    "Check that sshd runs on the server and that the SSH port is right.", ex);
            case SocketException { SocketErrorCode: SocketError.HostNotFound or SocketError.TryAgain or SocketError.NoData } socket:
                return new VaultException(ErrorIds.TargetUnreachable, VaultErrorKind.ConnectionError,
                    $"Could not resolve the host name '{_endpoint.HostName}'{(_role.Length == 0 ? "" : " of the jump host")}: {socket.Message}.",
                    "Check the HostName of the target and DNS.", ex);
            case SocketException socket:
                return new VaultException(ErrorIds.TargetUnreachable, VaultErrorKind.ConnectionError,
                    $"Could not connect to {where} over SSH: {socket.Message}.",
                    "Check the network path to the server.", ex);
            case SshOperationTimeoutException:
            case OperationCanceledException when timedOut:
                return new VaultException(ErrorIds.ConnectTimeout, VaultErrorKind.OperationTimeout,
                    $"Connecting to {where} over SSH did not finish within {_endpoint.ConnectTimeout.TotalSeconds:0.#} s.",
                    "Check that the host is up and reachable, or raise -ConnectTimeoutSec.", ex);
            case SshConnectionException:
                return new VaultException(ErrorIds.TargetUnreachable, VaultErrorKind.ConnectionError,
                    $"The SSH connection to {where} failed: {ex.Message}",
                    "Check that the server speaks SSH on that port.", ex);
            default:
                return new VaultException(ErrorIds.TargetUnreachable, VaultErrorKind.ConnectionError,
                    $"Could not connect to {where} over SSH: {ex.GetType().Name}: {ex.Message}", null, ex);
        }
    }

    // "The jump host ..." at the start of a sentence; a host name keeps its case.
    private string Capitalize(string text) => _role.Length == 0 || text.Length == 0 ? text : char.ToUpperInvariant(text[0]) + text.Substring(1);

    private IEnumerable<AuthenticationMethod> AuthenticationMethods(IVaultReporter reporter)
    {
        var keys = new List<IPrivateKeySource>();
        if (_endpoint.KeyFile is { } keyFile)
        {
            // The key the target names must work: a problem with it is an error, not something to pass over.
            keys.Add(LoadKey(keyFile));
            _offered.Add($"key {keyFile}");
        }

        var skipped = new List<VaultException>();
        foreach (var file in _endpoint.IdentityFiles.Where(f => !string.Equals(f, _endpoint.KeyFile, StringComparison.Ordinal)))
        {
            try
            {
                keys.Add(LoadKey(file));
                _offered.Add($"key {file}");
            }
            catch (VaultException ex)
            {
                skipped.Add(ex);
                reporter.Verbose($"Not offering {file} to {Where}: {ex.Message}");
            }
        }

        VaultException? agentProblem = null;
        var agentKeys = 0;
        if (_endpoint.EffectiveAgentSocket is { } socket)
        {
            var agent = new SshAgent(socket, _endpoint.ConnectTimeout);
            try
            {
                var identities = agent.ListIdentities();
                agentKeys = identities.Count;
                keys.AddRange(agent.KeySources(identities));
                _offered.Add($"{identities.Count} key(s) of the ssh-agent at {socket}");
                reporter.Verbose($"The ssh-agent at {socket} holds {identities.Count} key(s): {string.Join(", ", identities.Select(i => i.KeyType + " " + i.Fingerprint))}.");
            }
            catch (VaultException ex) when (ex.ErrorId == ErrorIds.SshAgentFailed)
            {
                agentProblem = ex;
                reporter.Verbose(ex.Message);
            }
        }

        if (keys.Count > 0)
        {
            yield return new PrivateKeyAuthenticationMethod(_endpoint.User, keys.ToArray());
        }

        if (_endpoint.Password is { } password)
        {
            _offered.Add("the given password");
            yield return new PasswordAuthenticationMethod(_endpoint.User, SecureStrings.Unprotect(password));
        }
        else if (keys.Count == 0)
        {
            // Nothing at all to log in with: say why, before connecting.
            if (agentProblem is not null && skipped.Count == 0)
            {
                throw agentProblem;
            }

            if (skipped.Count > 0)
            {
                throw new VaultException(ErrorIds.KeyFileInvalid, VaultErrorKind.InvalidData,
                    $"No key to log in to {Where} with: " + string.Join(" ", skipped.Select(s => s.Message)) + (agentProblem is null ? "" : " " + agentProblem.Message),
                    "Use an unencrypted OpenSSH or PEM private key file that this user can read, or load the key into ssh-agent (ssh-add).");
            }

            throw new VaultException(ErrorIds.SshAgentFailed, VaultErrorKind.AuthenticationError,
                $"The ssh-agent at {_endpoint.EffectiveAgentSocket} holds {agentKeys} keys, and the target names no key file: nothing to log in to {Where} with.",
                "Add the key to the agent (ssh-add ~/.ssh/id_ed25519), or give the target a KeyFile.");
        }
    }

    private static PrivateKeyFile LoadKey(string path)
    {
        try
        {
            return new PrivateKeyFile(path);
        }
        catch (Exception ex) when (ex is SshException or IOException or UnauthorizedAccessException or ArgumentException or SshPassPhraseNullOrEmptyException)
        {
            throw new VaultException(ErrorIds.KeyFileInvalid, VaultErrorKind.InvalidData,
                $"Could not read the SSH private key '{path}': {ex.Message}",
                "Use an unencrypted OpenSSH or PEM private key file readable by this user (or load an encrypted one into ssh-agent).", ex);
        }
    }

    private static void PreferKnownKeyTypes(ConnectionInfo info, IReadOnlyList<string> knownTypes)
    {
        // Like OpenSSH: when known_hosts has keys for this host, only ask for algorithms of those key
        // types, so a server with several keys shows the one we can verify.
        if (knownTypes.Count == 0)
        {
            return;
        }

        var keep = new HashSet<string>(knownTypes.SelectMany(AlgorithmsFor), StringComparer.Ordinal);
        foreach (var algorithm in info.HostKeyAlgorithms.Keys.ToList())
        {
            if (!keep.Contains(algorithm))
            {
                info.HostKeyAlgorithms.Remove(algorithm);
            }
        }
    }

    private static IEnumerable<string> AlgorithmsFor(string keyType) => keyType switch
    {
        "ssh-rsa" => new[] { "rsa-sha2-512", "rsa-sha2-256", "ssh-rsa" },
        _ => new[] { keyType },
    };
}
