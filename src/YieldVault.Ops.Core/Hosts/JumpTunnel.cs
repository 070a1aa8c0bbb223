using System;
using System.Threading;
using Renci.SshNet;
using Renci.SshNet.Common;

namespace YieldVault.Ops.Hosts;

/// <summary>
/// The tunnel from this machine through a jump host to the target's SSH port (what ssh -J does with a direct-tcpip
/// channel). SSH.NET opens such channels only for a local listener, so the tunnel is a forward bound to 127.0.0.1 on a
/// port the OS picks, and it carries exactly one connection: the first, which is ours (made right after the forward
/// starts). Any later connection to that port is closed before a channel is opened. What travels through it is the
/// target's SSH session, encrypted end to end, with the target's host key checked under the target's own name.
/// </summary>
internal sealed class JumpTunnel : IDisposable
{
    private readonly ForwardedPortLocal _forward;
    private int _connections;
    private Exception? _failure;

    private JumpTunnel(ForwardedPortLocal forward)
    {
        _forward = forward;
        _forward.RequestReceived += (_, _) =>
        {
            // Thrown inside SSH.NET's accept handler, which then closes that connection without opening a channel.
            if (Interlocked.Increment(ref _connections) > 1)
            {
                throw new TunnelTakenException();
            }
        };
        _forward.Exception += (_, e) =>
        {
            if (e.Exception is not TunnelTakenException)
            {
                Interlocked.CompareExchange(ref _failure, e.Exception, null);
            }
        };
    }

    /// <summary>The port on 127.0.0.1 that leads to the target.</summary>
    public int LocalPort => (int)_forward.BoundPort;

    /// <summary>
    /// Why the tunnel did not carry the target's SSH session, for a login that failed before the target said anything;
    /// null when nothing went through it. The jump host's reason for refusing the channel (connect failed,
    /// administratively prohibited) is not passed on by SSH.NET: it only closes the connection.
    /// </summary>
    public string? Problem => Volatile.Read(ref _failure) is { } failure
        ? failure.Message
        : Volatile.Read(ref _connections) > 0
            ? "it closed the tunnel before the target's SSH server said anything (the port is closed or unreachable from the jump host, or the jump host forbids TCP forwarding)."
            : null;

    public static JumpTunnel Open(SshClient jumpHost, string targetHost, int targetPort)
    {
        var forward = new ForwardedPortLocal("127.0.0.1", 0, targetHost, (uint)targetPort);
        var tunnel = new JumpTunnel(forward);
        try
        {
            jumpHost.AddForwardedPort(forward);
            forward.Start();
            return tunnel;
        }
        catch (Exception ex) when (ex is SshException or System.Net.Sockets.SocketException or InvalidOperationException)
        {
            forward.Dispose();
            throw new VaultException(ErrorIds.JumpHostRefused, VaultErrorKind.ConnectionError,
                $"Could not open the tunnel to {targetHost}:{targetPort} through the jump host: {ex.Message}",
                "Check the jump host's connection, then try again.", ex);
        }
    }

    public void Dispose()
    {
        try
        {
            if (_forward.IsStarted)
            {
                _forward.Stop();
            }
        }
        catch (Exception ex) when (ex is SshException or ObjectDisposedException or InvalidOperationException)
        {
            // The jump host's connection is gone already.
        }

        _forward.Dispose();
    }

    private sealed class TunnelTakenException : Exception
    {
        public TunnelTakenException()
            : base("The tunnel through the jump host carries one connection only.")
        {
        }
    }
}
