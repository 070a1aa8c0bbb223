using System.Net;
using System.Net.Sockets;

namespace YieldVault.Ops.Core.Tests;

/// <summary>Ports on 127.0.0.1 for the tests' own listeners (and for ports where nothing must listen).</summary>
internal static class TestPorts
{
    /// <summary>A port the system just handed out and took back: free now, as far as anyone can know.</summary>
    public static int Free()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        try
        {
            return ((IPEndPoint)listener.LocalEndpoint).Port;
        }
        finally
        {
            listener.Stop();
        }
    }
}
