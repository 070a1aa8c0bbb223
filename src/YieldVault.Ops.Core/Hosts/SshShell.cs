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
/// One SSH connection to a host (SSH.NET), verified against known_hosts or a pinned fingerprint, directly or through
/// a jump host, shared by every command and port forward for that host within a PowerShell session.
/// </summary>
public sealed class SshShell : IHostShell
{
    private readonly SshEndpoint _endpoint;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly Dictionary<string, ForwardedPortLocal> _forwards = new(StringComparer.Ordinal);
    private SshClient? _client;
    private SshClient? _jumpClient;
    private JumpTunnel? _tunnel;
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
        var group = new RemoteProcessGroup();
        var watch = System.Diagnostics.Stopwatch.StartNew();
        using var ssh = client.CreateCommand(group.Wrap(command.ToShellString()));
        ssh.CommandTimeout = timeout ?? _endpoint.CommandTimeout;
        try
        {
            await ssh.ExecuteAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (SshOperationTimeoutException ex)
        {
            // Closing the channel does not end a command that handles SIGTERM: end its process group on the server
            // before anything else (a rollback starting the old version) runs.
            var ended = await EndGroupAsync(client, group).ConfigureAwait(false);
            throw new VaultException(ErrorIds.CommandTimeout, VaultErrorKind.OperationTimeout,
                $"'{command}' did not finish within {ssh.CommandTimeout.TotalSeconds:0.#} s on {Description}; {ended}.",
                "Raise -CommandTimeoutSec on the target, or find out why the command hangs.", ex);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            await EndGroupAsync(client, group).ConfigureAwait(false);
            throw;
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

    /// <summary>
    /// Ends what is left of a command's process group, over the same connection; bounded, and never throws (the
    /// caller reports the timeout or the cancel, which this must not replace).
    /// </summary>
    private async Task<string> EndGroupAsync(SshClient client, RemoteProcessGroup group)
    {
        try
        {
            using var kill = client.CreateCommand(group.KillScript());
            kill.CommandTimeout = RemoteProcessGroup.Grace + TimeSpan.FromSeconds(15);
            await kill.ExecuteAsync(CancellationToken.None).ConfigureAwait(false);
            return RemoteProcessGroup.Describe(kill.Result);
        }
        catch (Exception ex) when (ex is SshException or ObjectDisposedException or InvalidOperationException or SocketException)
        {
            Reporting.Current.Warning($"Could not end the timed-out command's processes on {Description} ({ex.Message}); they may still run there.");
            return "its processes on the server could not be ended (" + ex.Message + ")";
        }
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
        if (_endpoint.JumpHost is not { } jump)
        {
            return await new SshLogin(_endpoint, "").ConnectAsync(_endpoint.HostName, _endpoint.Port, null, cancellationToken).ConfigureAwait(false);
        }

        // Through a jump host: log in to it (its host key checked under its own name), open a tunnel to the target's
        // SSH port from there, and log in to the target through the tunnel (its host key checked under the target's name).
        var bastion = await new SshLogin(jump, "the jump host ").ConnectAsync(jump.HostName, jump.Port, null, cancellationToken).ConfigureAwait(false);
        JumpTunnel? tunnel = null;
        try
        {
            tunnel = JumpTunnel.Open(bastion, _endpoint.HostName, _endpoint.Port);
            var client = await new SshLogin(_endpoint, "").ConnectAsync("127.0.0.1", tunnel.LocalPort, () => tunnel.Problem, cancellationToken).ConfigureAwait(false);
            _jumpClient = bastion;
            _tunnel = tunnel;
            return client;
        }
        catch
        {
            tunnel?.Dispose();
            Disconnect(bastion);
            throw;
        }
    }

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
            Disconnect(_client);
            _client = null;
        }

        _tunnel?.Dispose();
        _tunnel = null;
        if (_jumpClient is not null)
        {
            Disconnect(_jumpClient);
            _jumpClient = null;
        }
    }

    private static void Disconnect(SshClient client)
    {
        try
        {
            if (client.IsConnected)
            {
                client.Disconnect();
            }
        }
        catch (Exception ex) when (ex is SshException or ObjectDisposedException or SocketException)
        {
            // Already broken.
        }

        client.Dispose();
    }
}
