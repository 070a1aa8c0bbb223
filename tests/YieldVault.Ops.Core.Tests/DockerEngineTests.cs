using System;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.IO;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using YieldVault.Ops;
using YieldVault.Ops.Hosts;
using YieldVault.Ops.Services;

namespace YieldVault.Ops.Core.Tests;

public class DockerEngineTests
{
    private static readonly SshEndpoint Ssh = new() { HostName = "app1.internal", Port = 2222, User = "deploy", KeyFile = "/keys/id_ed25519" };

    [Fact]
    public void A_local_target_uses_the_default_socket()
    {
        var address = DockerEngineAddress.For(new VaultTarget { Name = "l" });
        Assert.Equal(DockerEngineTransport.UnixSocket, address.Transport);
        Assert.Equal("/var/run/docker.sock", address.SocketPath);
        Assert.Equal("unix:///var/run/docker.sock", address.Display);
    }

    [Fact]
    public void An_ssh_target_without_DockerHost_dials_over_its_own_connection()
    {
        var address = DockerEngineAddress.For(new VaultTarget { Name = "s", Ssh = Ssh });
        Assert.Equal(DockerEngineTransport.Ssh, address.Transport);
        Assert.True(address.UsesTargetConnection);
        Assert.Equal("ssh://deploy@app1.internal:2222", address.Display);
    }

    [Fact]
    public void An_ssh_DockerHost_with_the_targets_own_login_reuses_its_connection()
    {
        var same = DockerEngineAddress.For(new VaultTarget { Name = "s", Ssh = Ssh, DockerHost = "ssh://deploy@APP1.internal:2222" });
        Assert.True(same.UsesTargetConnection);

        var other = DockerEngineAddress.For(new VaultTarget { Name = "s", Ssh = Ssh, DockerHost = "ssh://docker@app1.internal:2222" });
        Assert.False(other.UsesTargetConnection);
        Assert.Equal("docker", other.User);
    }

    [Fact]
    public void A_socket_path_of_an_ssh_target_is_on_that_server()
    {
        var address = DockerEngineAddress.For(new VaultTarget { Name = "s", Ssh = Ssh, DockerHost = "unix:///run/user/1000/docker.sock" });
        Assert.Equal(DockerEngineTransport.Ssh, address.Transport);
        Assert.True(address.UsesTargetConnection);
        Assert.Equal("/run/user/1000/docker.sock", address.SocketPath);
        Assert.Equal("ssh://deploy@app1.internal:2222 (unix:///run/user/1000/docker.sock)", address.Display);
        Assert.Equal("docker -H unix:///run/user/1000/docker.sock system dial-stdio", address.DialCommand);
        Assert.Equal("docker -H 'unix:///srv/my docker/engine.sock' system dial-stdio",
            DockerEngineAddress.For(new VaultTarget { Name = "s", Ssh = Ssh, DockerHost = "unix:///srv/my docker/engine.sock" }).DialCommand);

        Assert.Equal("docker system dial-stdio", DockerEngineAddress.For(new VaultTarget { Name = "s", Ssh = Ssh }).DialCommand);
        Assert.Equal(DockerEngineTransport.Tcp, DockerEngineAddress.For(new VaultTarget { Name = "s", Ssh = Ssh, DockerHost = "tcp://10.0.0.5:2375" }).Transport);
    }

    [Theory]
    [InlineData("unix:///run/user/1000/docker.sock", "UnixSocket", "/run/user/1000/docker.sock", null, 0, null, "unix:///run/user/1000/docker.sock")]
    [InlineData("tcp://10.0.0.5:2375", "Tcp", null, "10.0.0.5", 2375, null, "tcp://10.0.0.5:2375")]
    [InlineData("tcp://docker.internal:2375", "Tcp", null, "docker.internal", 2375, null, "tcp://docker.internal:2375")]
    [InlineData("ssh://deploy@app1.internal", "Ssh", null, "app1.internal", 22, "deploy", "ssh://deploy@app1.internal")]
    [InlineData("ssh://deploy@10.0.0.7:2222", "Ssh", null, "10.0.0.7", 2222, "deploy", "ssh://deploy@10.0.0.7:2222")]
    public void DockerHost_values_parse(string value, string transport, string? socket, string? host, int port, string? user, string display)
    {
        var address = DockerEngineAddress.Parse(value);
        Assert.Equal(transport, address.Transport.ToString());
        Assert.Equal(socket, address.SocketPath);
        Assert.Equal(host, address.Host);
        Assert.Equal(port, address.Port);
        Assert.Equal(user, address.User);
        Assert.Equal(display, address.Display);
        Assert.False(address.UsesTargetConnection);
    }

    [Theory]
    [InlineData("tcp://10.0.0.5")]            // TCP needs a port
    [InlineData("tcp://10.0.0.5:0")]
    [InlineData("tcp://10.0.0.5:70000")]
    [InlineData("https://10.0.0.5:2376")]     // TLS is not supported
    [InlineData("ssh://app1.internal")]       // SSH needs a user
    [InlineData("ssh://deploy@app1:99999")]
    [InlineData("unix://relative/docker.sock")]
    [InlineData("unix:///var/run/../docker.sock")]
    [InlineData("npipe:////./pipe/docker_engine")]
    [InlineData("")]
    public void Other_DockerHost_values_are_DockerHostInvalid(string value)
    {
        var ex = Assert.Throws<VaultException>(() => DockerEngineAddress.Parse(value));
        Assert.Equal("DockerHostInvalid", ex.ErrorId);
        Assert.Equal(VaultErrorKind.InvalidArgument, ex.Kind);
        Assert.Contains("TLS is not supported", ex.RecommendedAction, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("{\"message\":\"No such container: web\"}\n", "No such container: web")]
    [InlineData("{\"message\":\"line one\\nline two\"}", "line one line two")]
    [InlineData("plain text body\n", "plain text body")]
    [InlineData("{not json", "{not json")]
    [InlineData(null, "")]
    public void Engine_error_bodies_become_one_line(string? body, string expected)
    {
        Assert.Equal(expected, DockerEngine.EngineMessage(body));
    }

    [Fact]
    public void Dial_failures_name_the_command_its_exit_status_and_stderr()
    {
        var missing = new DockerEngineDialException("docker system dial-stdio", "ssh://deploy@app1", 127, "bash: line 1: docker: command not found\n");
        Assert.True(missing.CliMissing);
        Assert.False(missing.PermissionDenied);
        Assert.Equal("'docker system dial-stdio' on ssh://deploy@app1 exited with status 127 before the Docker engine answered: bash: line 1: docker: command not found", missing.Message);

        var denied = new DockerEngineDialException("docker system dial-stdio", "ssh://deploy@app1", 1, "permission denied while trying to connect to the Docker daemon socket at unix:///var/run/docker.sock");
        Assert.True(denied.PermissionDenied);
        Assert.False(denied.CliMissing);
    }

    [Fact]
    public async Task An_engine_that_never_answers_is_DockerTimeout_within_the_bound()
    {
        var dir = Directory.CreateTempSubdirectory("yv-docker-silent-");
        var path = Path.Combine(dir.FullName, "docker.sock");
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        listener.Listen(4);
        var accepted = listener.AcceptAsync();   // accepts and then says nothing
        try
        {
            var target = new VaultTarget { Name = "d1", ServiceManager = ServiceManagerKind.Docker, DockerHost = "unix://" + path };
            using var shell = new LocalShell();
            using var engine = DockerEngine.Open(target, shell);
            var watch = Stopwatch.StartNew();

            var ex = await Assert.ThrowsAsync<VaultException>(() => engine.CallAsync("inspect the container", "web", TimeSpan.FromSeconds(1),
                (client, token) => client.Containers.InspectContainerAsync("web", token), CancellationToken.None));

            Assert.Equal("DockerTimeout", ex.ErrorId);
            Assert.Equal(VaultErrorKind.OperationTimeout, ex.Kind);
            Assert.Equal($"The Docker engine at unix://{path} did not inspect the container within 1 s.", ex.Message);
            Assert.InRange(watch.Elapsed.TotalSeconds, 0.9, 5);
        }
        finally
        {
            (await accepted).Dispose();
            dir.Delete(true);
        }
    }

    [Fact]
    public async Task Cancellation_by_the_caller_stays_a_cancellation()
    {
        var dir = Directory.CreateTempSubdirectory("yv-docker-silent-");
        var path = Path.Combine(dir.FullName, "docker.sock");
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        listener.Listen(4);
        var accepted = listener.AcceptAsync();
        try
        {
            var target = new VaultTarget { Name = "d1", ServiceManager = ServiceManagerKind.Docker, DockerHost = "unix://" + path };
            using var shell = new LocalShell();
            using var engine = DockerEngine.Open(target, shell);
            using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));

            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => engine.CallAsync("inspect the container", "web", TimeSpan.FromSeconds(10),
                (client, token) => client.Containers.InspectContainerAsync("web", token), cancel.Token));
        }
        finally
        {
            (await accepted).Dispose();
            dir.Delete(true);
        }
    }

    [Fact]
    public async Task A_tcp_engine_is_spoken_to_in_plain_HTTP_and_its_answers_are_read()
    {
        using var engine = new FakeEngine();
        var target = new VaultTarget { Name = "t1", ServiceManager = ServiceManagerKind.Docker, ServiceName = "web", DockerHost = $"tcp://127.0.0.1:{engine.Port}" };
        using var shell = new LocalShell();
        var manager = new DockerServiceManager(target, shell);

        var state = await manager.GetStateAsync(CancellationToken.None);

        Assert.Equal(ServiceStatus.Running, state.Status);
        Assert.Equal(4242, state.Pid);
        Assert.Equal("yieldvault-backend:v1.2.3", state.Image);
        Assert.Equal(new[] { "127.0.0.1:3000->3000/tcp" }, state.Ports);
        Assert.Null(state.MemoryBytes);   // the fake's stats are empty
        Assert.Contains("GET /containers/web/json", engine.Requests);
        Assert.Contains("GET /containers/web/stats?stream=0", engine.Requests);

        var missing = new DockerServiceManager(new VaultTarget { Name = "t1", ServiceManager = ServiceManagerKind.Docker, ServiceName = "gone", DockerHost = target.DockerHost }, shell);
        Assert.Equal(ServiceStatus.NotFound, (await missing.GetStateAsync(CancellationToken.None)).Status);
        var notFound = await Assert.ThrowsAsync<VaultException>(() => missing.StartAsync(CancellationToken.None));
        Assert.Equal("ContainerNotFound", notFound.ErrorId);
        Assert.Equal($"There is no container named 'gone' on the Docker engine at tcp://127.0.0.1:{engine.Port}.", notFound.Message);

        var refused = await Assert.ThrowsAsync<VaultException>(() => manager.RestartAsync(CancellationToken.None));
        Assert.Equal("DockerRequestFailed", refused.ErrorId);
        Assert.Equal($"The Docker engine at tcp://127.0.0.1:{engine.Port} refused to restart the container (HTTP 500): cannot restart: disk full", refused.Message);
    }

    [Fact]
    public async Task A_closed_tcp_port_is_DockerUnreachable()
    {
        int port;
        using (var probe = new TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            port = ((IPEndPoint)probe.LocalEndpoint).Port;
        }

        var target = new VaultTarget { Name = "t1", ServiceManager = ServiceManagerKind.Docker, DockerHost = $"tcp://127.0.0.1:{port}" };
        using var shell = new LocalShell();
        var ex = await Assert.ThrowsAsync<VaultException>(() => new DockerServiceManager(target, shell).GetStateAsync(CancellationToken.None));
        Assert.Equal("DockerUnreachable", ex.ErrorId);
        Assert.Equal($"Could not connect to the Docker engine at tcp://127.0.0.1:{port}: connection refused.", ex.Message);
    }

    /// <summary>Just enough of the engine's HTTP API on 127.0.0.1 for one container named "web".</summary>
    private sealed class FakeEngine : IDisposable
    {
        private const string Inspect = """
            {"Id":"abc","Image":"sha256:feed","RestartCount":0,
             "State":{"Status":"running","Running":true,"Pid":4242,"ExitCode":0,"StartedAt":"2026-11-26T04:17:24.123456789Z","FinishedAt":"0001-01-01T00:00:00Z"},
             "Config":{"Image":"yieldvault-backend:v1.2.3","Tty":false},
             "HostConfig":{"RestartPolicy":{"Name":"unless-stopped","MaximumRetryCount":0}},
             "NetworkSettings":{"Ports":{"3000/tcp":[{"HostIp":"127.0.0.1","HostPort":"3000"}]}}}
            """;

        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _loop;

        public FakeEngine()
        {
            _listener.Start();
            Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
            _loop = Task.Run(ServeAsync);
        }

        public int Port { get; }

        public ConcurrentQueue<string> Requests { get; } = new();

        public void Dispose()
        {
            _stop.Cancel();
            _listener.Stop();
            try
            {
                _loop.Wait(TimeSpan.FromSeconds(5));
            }
            catch (AggregateException)
            {
                // Stopping the listener ends the accept loop with an exception.
            }

            _stop.Dispose();
        }

        private async Task ServeAsync()
        {
            while (!_stop.IsCancellationRequested)
            {
                using var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                using var stream = client.GetStream();
                var head = new StringBuilder();
                var buffer = new byte[4096];
                // Docker.DotNet ends its header lines with a bare "\n" (Go's server accepts that), the head with "\r\n".
                while (!head.ToString().Contains("\n\r\n", StringComparison.Ordinal) && !head.ToString().Contains("\n\n", StringComparison.Ordinal))
                {
                    var n = await stream.ReadAsync(buffer, _stop.Token);
                    if (n == 0)
                    {
                        break;
                    }

                    head.Append(Encoding.ASCII.GetString(buffer, 0, n));
                }

                var requestLine = head.ToString().Split('\n')[0].TrimEnd('\r');
                var path = requestLine.Replace(" HTTP/1.1", "", StringComparison.Ordinal);
                Requests.Enqueue(path);
                var (status, body) = path switch
                {
                    "GET /containers/web/json" => ("200 OK", Inspect),
                    _ when path.StartsWith("GET /containers/web/stats", StringComparison.Ordinal) => ("200 OK", "{}"),
                    _ when path.StartsWith("POST /containers/web/restart", StringComparison.Ordinal) => ("500 Internal Server Error", "{\"message\":\"cannot restart: disk full\"}"),
                    _ => ("404 Not Found", "{\"message\":\"No such container: gone\"}"),
                };
                var bytes = Encoding.UTF8.GetBytes(body);
                var response = $"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {bytes.Length}\r\nConnection: close\r\n\r\n";
                await stream.WriteAsync(Encoding.ASCII.GetBytes(response), _stop.Token);
                await stream.WriteAsync(bytes, _stop.Token);
            }
        }
    }
}
