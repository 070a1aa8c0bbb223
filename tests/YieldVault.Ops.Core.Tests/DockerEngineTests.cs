using System;
using System.Diagnostics;
using System.IO;
using System.Net.Sockets;
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
        var missing = new DockerEngineDialException("ssh://deploy@app1", 127, "bash: line 1: docker: command not found\n");
        Assert.True(missing.CliMissing);
        Assert.False(missing.PermissionDenied);
        Assert.Equal("'docker system dial-stdio' on ssh://deploy@app1 exited with status 127 before the Docker engine answered: bash: line 1: docker: command not found", missing.Message);

        var denied = new DockerEngineDialException("ssh://deploy@app1", 1, "permission denied while trying to connect to the Docker daemon socket at unix:///var/run/docker.sock");
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
}
