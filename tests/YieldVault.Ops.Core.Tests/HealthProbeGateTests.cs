using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Xunit;
using YieldVault.Ops;
using YieldVault.Ops.Hosts;
using YieldVault.Ops.Probes;

namespace YieldVault.Ops.Core.Tests;

public class HealthProbeGateTests
{
    [Fact]
    public async Task At_most_four_requests_at_once_reach_one_address_and_all_are_answered()
    {
        var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start(64);
        var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        int open = 0, most = 0;
        using var stop = new CancellationTokenSource();
        var server = Task.Run(async () =>
        {
            var served = new List<Task>();
            while (!stop.IsCancellationRequested)
            {
                System.Net.Sockets.TcpClient client;
                try { client = await listener.AcceptTcpClientAsync(); } catch (Exception) { break; }
                served.Add(Task.Run(async () =>
                {
                    using (client)
                    {
                        var now = Interlocked.Increment(ref open);
                        lock (listener) { most = Math.Max(most, now); }
                        var stream = client.GetStream();
                        var buffer = new byte[4096];
                        var text = "";
                        while (!text.Contains("\r\n\r\n"))
                        {
                            var n = await stream.ReadAsync(buffer, 0, buffer.Length);
                            if (n == 0) { break; }
                            text += System.Text.Encoding.ASCII.GetString(buffer, 0, n);
                        }

                        await Task.Delay(60);
                        Interlocked.Decrement(ref open);
                        var answer = System.Text.Encoding.ASCII.GetBytes("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 15\r\nConnection: close\r\n\r\n{\"status\":\"ok\"}");
                        await stream.WriteAsync(answer, 0, answer.Length);
                    }
                }));
            }

            await Task.WhenAll(served);
        });

        try
        {
            var baseUri = new Uri($"http://127.0.0.1:{port}/");
            var answers = await Task.WhenAll(Enumerable.Range(0, 12).Select(_ => HealthProbe.GetAsync(baseUri, "/health", TimeSpan.FromSeconds(20), CancellationToken.None)));
            Assert.All(answers, a => Assert.Equal(200, a.StatusCode));
            Assert.InRange(most, 1, HealthProbe.MaxRequestsPerEndpoint);
        }
        finally
        {
            stop.Cancel();
            listener.Stop();
        }
    }
}
