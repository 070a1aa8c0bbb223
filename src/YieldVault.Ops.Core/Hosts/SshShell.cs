using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Net.Sockets;
using System.Security;
using System.Threading;
using System.Threading.Tasks;
using Renci.SshNet;
using Renci.SshNet.Common;

namespace YieldVault.Ops.Hosts;

/// <summary>
/// One SSH connection to a host (SSH.NET), verified against known_hosts or a pinned fingerprint,
/// shared by every command and port forward for that host within a PowerShell session.
/// </summary>
public sealed class SshShell : IHostShell
{
    private readonly SshEndpoint _endpoint;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly Dictionary<string, ForwardedPortLocal> _forwards = new(StringComparer.Ordinal);
    private SshClient? _client;
    private HostKeyVerdict? _lastVerdict;
    private string? _lastFingerprint;
    private bool _disposed;

    public SshShell(SshEndpoint endpoint)
    {
        _endpoint = endpoint;
    }

    public string Description => _endpoint.ToString();

    public bool IsConnected => _client?.IsConnected == true;

    public async Task<CommandResult> RunAsync(CommandLine command, TimeSpan? timeout, CancellationToken cancellationToken)
    {
        var client = await GetClientAsync(cancellationToken).ConfigureAwait(false);
        var text = command.ToShellString();
        var watch = System.Diagnostics.Stopwatch.StartNew();
        using var ssh = client.CreateCommand(text);
        ssh.CommandTimeout = timeout ?? _endpoint.CommandTimeout;
        try
        {
            await ssh.ExecuteAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (SshOperationTimeoutException ex)
        {
            throw new VaultException(ErrorIds.CommandTimeout, VaultErrorKind.OperationTimeout,
                $"'{command}' did not finish within {ssh.CommandTimeout.TotalSeconds:0.#} s on {Description} and was stopped.",
                "Raise -CommandTimeoutSec on the target, or find out why the command hangs.", ex);
        }
        catch (SshConnectionException ex)
        {
            Drop();
            throw new VaultException(ErrorIds.ConnectionLost, VaultErrorKind.ConnectionError,
                $"The SSH connection to {Description} was lost while running '{command}': {ex.Message}",
                "Check the network and the server; the command may or may not have finished on the server.", ex);
        }

        // ExitStatus is null when the remote process died from a signal.
        return new CommandResult(command.ToString(), ssh.ExitStatus ?? -1, ssh.Result, ssh.Error, watch.Elapsed);
    }

    public async Task<Uri> GetHttpBaseAsync(int port, CancellationToken cancellationToken)
    {
        var (host, localPort) = await ForwardTcpAsync("localhost", port, cancellationToken).ConfigureAwait(false);
        return new Uri($"http://{host}:{localPort}/");
    }

    public async Task<(string Host, int Port)> ForwardTcpAsync(string host, int port, CancellationToken cancellationToken)
    {
        var client = await GetClientAsync(cancellationToken).ConfigureAwait(false);
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var key = host + ":" + port.ToString(System.Globalization.CultureInfo.InvariantCulture);
            if (!_forwards.TryGetValue(key, out var forward) || !forward.IsStarted)
            {
                // Bound to loopback only, on a port the OS picks; the far end is resolved by the server.
                forward = new ForwardedPortLocal("127.0.0.1", 0, host, (uint)port);
                client.AddForwardedPort(forward);
                forward.Start();
                _forwards[key] = forward;
            }

            return ("127.0.0.1", (int)forward.BoundPort);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Connects (or reconnects after a drop) and returns the live client.</summary>
    public async Task<SshClient> GetClientAsync(CancellationToken cancellationToken)
    {
        if (_disposed)
        {
            throw new ObjectDisposedException(nameof(SshShell));
        }

        if (_client is { IsConnected: true } live)
        {
            return live;
        }

        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_client is { IsConnected: true } raced)
            {
                return raced;
            }

            Drop();
            _client = await ConnectAsync(cancellationToken).ConfigureAwait(false);
            return _client;
        }
        finally
        {
            _gate.Release();
        }
    }

    public void Dispose()
    {
        _disposed = true;
        Drop();
        _gate.Dispose();
    }

    private async Task<SshClient> ConnectAsync(CancellationToken cancellationToken)
    {
        var info = new ConnectionInfo(_endpoint.HostName, _endpoint.Port, _endpoint.User, AuthenticationMethods().ToArray())
        {
            Timeout = _endpoint.ConnectTimeout,
        };

        var knownHosts = _endpoint.HostKeyFingerprint is null ? KnownHosts.Load(_endpoint.KnownHostsFile) : null;
        if (knownHosts is not null)
        {
            PreferKnownKeyTypes(info, knownHosts.KeyTypesFor(_endpoint.HostName, _endpoint.Port));
        }

        var client = new SshClient(info);
        _lastVerdict = null;
        var reporter = Reporting.Current;
        client.HostKeyReceived += (_, e) => e.CanTrust = CheckHostKey(e.HostKey, knownHosts, reporter);
        using var timeout = new CancellationTokenSource(_endpoint.ConnectTimeout);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        try
        {
            await client.ConnectAsync(linked.Token).ConfigureAwait(false);
            Reporting.Current.Verbose($"Connected to {Description} ({info.ServerVersion}), host key {_lastFingerprint}.");
            return client;
        }
        catch (Exception ex) when (ex is not VaultException)
        {
            client.Dispose();
            if (cancellationToken.IsCancellationRequested)
            {
                throw new OperationCanceledException("Connecting was cancelled.", ex, cancellationToken);
            }

            throw Translate(ex, timeout.IsCancellationRequested);
        }
    }

    private bool CheckHostKey(byte[] key, KnownHosts? knownHosts, IVaultReporter reporter)
    {
        _lastFingerprint = KnownHosts.Fingerprint(key);
        if (_endpoint.HostKeyFingerprint is { } pinned)
        {
            var match = HostKeyFingerprints.Normalize(pinned) == HostKeyFingerprints.Normalize(_lastFingerprint);
            _lastVerdict = match ? HostKeyVerdict.Trusted : HostKeyVerdict.Mismatch;
            return match;
        }

        _lastVerdict = knownHosts!.Verify(_endpoint.HostName, _endpoint.Port, key);
        if (_lastVerdict == HostKeyVerdict.Unknown && _endpoint.TrustNewHostKey)
        {
            KnownHosts.Append(_endpoint.KnownHostsFile, _endpoint.HostName, _endpoint.Port, key);
            reporter.Warning($"Trusted the new host key of {_endpoint.HostName}:{_endpoint.Port} ({KnownHosts.KeyType(key)} {_lastFingerprint}) and added it to {_endpoint.KnownHostsFile}.");
            _lastVerdict = HostKeyVerdict.Trusted;
        }

        return _lastVerdict == HostKeyVerdict.Trusted;
    }

    private VaultException Translate(Exception ex, bool timedOut)
    {
        var where = $"{_endpoint.HostName}:{_endpoint.Port}";
        switch (_lastVerdict)
        {
            case HostKeyVerdict.Mismatch:
                return new VaultException(ErrorIds.HostKeyMismatch, VaultErrorKind.SecurityError,
                    $"The host key of {where} ({_lastFingerprint}) does not match the one recorded in " +
                    (_endpoint.HostKeyFingerprint is null ? _endpoint.KnownHostsFile : "HostKeyFingerprint") +
                    ". Someone may be intercepting the connection, or the server was reinstalled. Nothing was sent to the server.",
                    $"Confirm the server's key out of band (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub on the server); only then remove the old entry with: ssh-keygen -R '{KnownHosts.HostPattern(_endpoint.HostName, _endpoint.Port)}' -f {_endpoint.KnownHostsFile}", ex);
            case HostKeyVerdict.Revoked:
                return new VaultException(ErrorIds.HostKeyRevoked, VaultErrorKind.SecurityError,
                    $"The host key of {where} ({_lastFingerprint}) is marked @revoked in {_endpoint.KnownHostsFile}. Nothing was sent to the server.",
                    "Find out why the key was revoked before connecting to this host.", ex);
            case HostKeyVerdict.Unknown:
                return new VaultException(ErrorIds.HostKeyUnknown, VaultErrorKind.SecurityError,
                    $"{where} presented host key {_lastFingerprint}, which {_endpoint.KnownHostsFile} does not know. Nothing was sent to the server.",
                    $"Check the fingerprint with the server's owner, then connect once with -TrustNewHostKey (or pass -HostKeyFingerprint {_lastFingerprint}).", ex);
        }

        switch (ex)
        {
            case SshAuthenticationException:
                return new VaultException(ErrorIds.AuthenticationFailed, VaultErrorKind.AuthenticationError,
                    $"{where} refused the login of user '{_endpoint.User}' with " + (_endpoint.KeyFile is null ? "the given password" : $"key {_endpoint.KeyFile}") + ".",
                    "Check the user name, the key or password, and the server's authorized_keys.", ex);
            case SocketException { SocketErrorCode: SocketError.ConnectionRefused }:
                return new VaultException(ErrorIds.TargetUnreachable, VaultErrorKind.ConnectionError,
                    $"Could not connect to {where} over SSH: connection refused.",
                    "Check that sshd runs on the server and that the SSH port is right.", ex);
            case SocketException { SocketErrorCode: SocketError.HostNotFound or SocketError.TryAgain or SocketError.NoData } socket:
                return new VaultException(ErrorIds.TargetUnreachable, VaultErrorKind.ConnectionError,
                    $"Could not resolve the host name '{_endpoint.HostName}': {socket.Message}.",
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

    private IEnumerable<AuthenticationMethod> AuthenticationMethods()
    {
        if (_endpoint.KeyFile is { } keyFile)
        {
            PrivateKeyFile key;
            try
            {
                key = new PrivateKeyFile(keyFile);
            }
            catch (Exception ex) when (ex is SshException or IOException or UnauthorizedAccessException or ArgumentException or SshPassPhraseNullOrEmptyException)
            {
                throw new VaultException(ErrorIds.KeyFileInvalid, VaultErrorKind.InvalidData,
                    $"Could not read the SSH private key '{keyFile}': {ex.Message}",
                    "Use an unencrypted OpenSSH or PEM private key file readable by this user.", ex);
            }

            yield return new PrivateKeyAuthenticationMethod(_endpoint.User, key);
        }

        if (_endpoint.Password is { } password)
        {
            yield return new PasswordAuthenticationMethod(_endpoint.User, SecureStrings.Unprotect(password));
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

    private void Drop()
    {
        foreach (var forward in _forwards.Values)
        {
            try
            {
                forward.Stop();
            }
            catch (Exception ex) when (ex is SshException or ObjectDisposedException or InvalidOperationException)
            {
                // The connection is gone already; nothing to stop.
            }

            forward.Dispose();
        }

        _forwards.Clear();
        if (_client is not null)
        {
            try
            {
                if (_client.IsConnected)
                {
                    _client.Disconnect();
                }
            }
            catch (Exception ex) when (ex is SshException or ObjectDisposedException or SocketException)
            {
                // Already broken.
            }

            _client.Dispose();
            _client = null;
        }
    }
}
