using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using Newtonsoft.Json.Linq;
using YieldVault.Ops;
using YieldVault.Ops.Hosts;
using YieldVault.Ops.Releases;
using YieldVault.Ops.Runbook;

namespace YieldVault.Ops.Core.Tests;

/// <summary>
/// The Core side of the fault suite (tests/pester/Faults.Tests.ps1): what a lost connection, a full disk and
/// a dead run leave behind must not replace the run's own outcome or block the next run.
/// </summary>
public class BadInputFaultTests
{
    private static readonly VaultTarget Target = new() { Name = "fault-1", StatePath = "/var/lib/yieldvault-ops" };

    [Fact]
    public void Npm_output_with_unpack_errors_is_a_write_error()
    {
        // What npm 10 prints (and exits 0) when node_modules lands on a full disk.
        const string output = "npm warn tar TAR_ENTRY_ERROR ENOSPC: no space left on device, write\n\nadded 41 packages in 10s\n";
        Assert.Equal("npm warn tar TAR_ENTRY_ERROR ENOSPC: no space left on device, write", NpmInstall.FindWriteError(output));
        Assert.NotNull(NpmInstall.FindWriteError("npm error code EDQUOT"));
        Assert.Null(NpmInstall.FindWriteError("added 41 packages, and audited 42 packages in 3s\n"));
    }

    [Fact]
    public async Task Npm_ci_that_exits_0_after_ENOSPC_fails_the_release()
    {
        using var shell = new FakeShell(_ => new CommandResult("npm ci", 0, "added 41 packages in 10s\n", "npm warn tar TAR_ENTRY_ERROR ENOSPC: no space left on device, write\n", TimeSpan.Zero));
        var ex = await Assert.ThrowsAsync<VaultException>(() =>
            NpmInstall.RunAsync(shell, new CommandLine("npm", "ci"), "npm ci", TimeSpan.FromMinutes(1), CancellationToken.None));
        Assert.Equal("DependencyInstallFailed", ex.ErrorId);
        Assert.Contains("ENOSPC", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_lock_that_cannot_be_removed_does_not_throw_and_is_stale_for_the_next_run_of_this_process()
    {
        var connected = true;
        using var shell = new FakeShell(_ => connected
            ? new CommandResult("sh", 0, "", "", TimeSpan.Zero)
            : throw new VaultException("ConnectionLost", VaultErrorKind.ConnectionError, "The SSH connection was lost."));
        var runId = DeploymentJournal.NewRunId(DateTimeOffset.UtcNow);
        var held = await DeploymentLock.AcquireAsync(Target, shell, runId, force: false, CancellationToken.None);
        var holder = $"run={runId} {DeploymentLock.Me} user=test started=2026-01-01T00:00:00Z";
        Assert.False(DeploymentLock.IsStale(holder, TimeSpan.FromSeconds(1), out _), "the run is still going");

        connected = false;
        await held.DisposeAsync();

        Assert.True(DeploymentLock.IsStale(holder, TimeSpan.FromSeconds(1), out var why), "its run has ended");
        Assert.Contains("has ended", why, StringComparison.Ordinal);
    }

    [Fact]
    public void A_lock_of_another_live_process_on_this_machine_is_not_stale()
    {
        using var other = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("sleep", "30") { UseShellExecute = false })!;
        try
        {
            var holder = $"run=20990101T000000Z-abcdef host={Environment.MachineName} pid={other.Id} user=x started=2099-01-01T00:00:00Z";
            Assert.False(DeploymentLock.IsStale(holder, TimeSpan.FromSeconds(5), out _));
        }
        finally
        {
            other.Kill();
        }
    }

    [Fact]
    public void Clearing_a_stale_lock_closes_the_dead_runs_journal()
    {
        var line = DeploymentLock.AbandonedLine("run=20261126T051922Z-eab474 host=vm pid=1 user=root started=x", "its process 1 on this machine is gone",
            "20261126T052000Z-000001", DateTimeOffset.UtcNow);
        var entry = JObject.Parse(line!);
        Assert.Equal("20261126T051922Z-eab474", (string?)entry["run"]);
        Assert.Equal("run", (string?)entry["step"]);
        Assert.Equal("end", (string?)entry["phase"]);
        Assert.Equal("Abandoned", (string?)entry["outcome"]);
    }

    [Theory]
    [InlineData("run=../../etc/passwd host=vm pid=1")]
    [InlineData("run=20261126T051922Z-eab474;touch host=vm pid=1")]
    [InlineData("host=vm pid=1")]
    public void A_lock_naming_no_valid_run_never_leads_to_a_journal_path(string holder)
    {
        Assert.Null(DeploymentLock.AbandonedLine(holder, "stale", "20261126T052000Z-000001", DateTimeOffset.UtcNow));
    }

    [Fact]
    public async Task Discarding_a_release_over_a_lost_connection_does_not_throw()
    {
        using var shell = new FakeShell(_ => throw new VaultException("ConnectionLost", VaultErrorKind.ConnectionError, "The SSH connection was lost."));
        var store = new ReleaseStore(Target, shell);
        await store.DiscardAsync("20261126T051925Z-d661ed9", CancellationToken.None);
        Assert.NotEmpty(shell.Calls);
    }

    private sealed class FakeShell : IHostShell
    {
        private readonly Func<CommandLine, CommandResult> _answer;

        public FakeShell(Func<CommandLine, CommandResult> answer) => _answer = answer;

        public List<CommandLine> Calls { get; } = new();

        public string Description => "fake";

        public Task<CommandResult> RunAsync(CommandLine command, TimeSpan? timeout, CancellationToken cancellationToken)
        {
            Calls.Add(command);
            return Task.FromResult(_answer(command));
        }

        public Task<Uri> GetHttpBaseAsync(int port, CancellationToken cancellationToken) => throw new NotSupportedException();

        public Task<(string Host, int Port)> ForwardTcpAsync(string host, int port, CancellationToken cancellationToken) => throw new NotSupportedException();

        public void Dispose()
        {
        }
    }
}

public class BadInputPm2KillTests
{
    private static readonly string Stopping = Pm2JlistParsingTests.Sample("pm2-jlist-online.json").Replace("\"status\":\"online\"", "\"status\":\"stopping\"", StringComparison.Ordinal);

    [Fact]
    public async Task A_forced_kill_of_an_app_PM2_is_stopping_already_does_not_wait_its_kill_timeout()
    {
        // A graceful stop timed out (an app that ignores PM2's signal): PM2 waits kill_timeout, which may be minutes.
        var calls = new List<string>();
        using var shell = new RecordingShell(c =>
        {
            var script = c.Arguments.Count > 1 ? c.Arguments[1] : "";
            calls.Add(c.Program == "pm2" ? "pm2 " + c.Arguments[0] : script.Contains("kill -s", StringComparison.Ordinal) ? "kill -" + c.Arguments[3] : "jlist");
            return new CommandResult("fake", 0, script.Contains("pm2 jlist", StringComparison.Ordinal) ? Stopping : "", "", TimeSpan.Zero);
        });
        var target = new VaultTarget { Name = "fault-1", ServiceManager = ServiceManagerKind.Pm2, Pm2Home = "/srv/pm2" };
        await new YieldVault.Ops.Services.Pm2ServiceManager(target, shell).KillAsync(CancellationToken.None);
        Assert.Equal(new[] { "jlist", "kill -STOP", "kill -KILL" }, calls);
    }

    private sealed class RecordingShell : IHostShell
    {
        private readonly Func<CommandLine, CommandResult> _answer;

        public RecordingShell(Func<CommandLine, CommandResult> answer) => _answer = answer;

        public string Description => "fake";

        public Task<CommandResult> RunAsync(CommandLine command, TimeSpan? timeout, CancellationToken cancellationToken) => Task.FromResult(_answer(command));

        public Task<Uri> GetHttpBaseAsync(int port, CancellationToken cancellationToken) => throw new NotSupportedException();

        public Task<(string Host, int Port)> ForwardTcpAsync(string host, int port, CancellationToken cancellationToken) => throw new NotSupportedException();

        public void Dispose()
        {
        }
    }
}

public class BadInputDowntimeMonitorTests
{
    [Fact]
    public async Task Probes_while_the_host_cannot_be_reached_are_unobserved_not_downtime()
    {
        // The SSH connection was cut: the forward's port refuses, and asking the shell again fails to connect.
        using var shell = new ForwardingShell(_ => throw new VaultException("TargetUnreachable", VaultErrorKind.ConnectionError, "connection refused"), ClosedPort());
        var report = await RunMonitorAsync(shell);
        Assert.Equal(0, report.FailedProbes);
        Assert.Equal(0, report.DowntimeMs);
        Assert.True(report.UnobservedProbes > 0);
    }

    [Fact]
    public async Task A_new_forward_after_a_reconnect_is_probed_instead_of_the_dead_one()
    {
        using var backend = new OkServer();
        using var shell = new ForwardingShell(_ => backend.Url, ClosedPort());
        var report = await RunMonitorAsync(shell);
        Assert.Equal(0, report.FailedProbes);
        Assert.True(report.Probes > 0);
    }

    [Fact]
    public async Task A_backend_that_refuses_on_a_reachable_host_is_downtime()
    {
        var closed = ClosedPort();
        using var shell = new ForwardingShell(_ => closed, closed);
        var report = await RunMonitorAsync(shell);
        Assert.True(report.FailedProbes > 0);
        Assert.True(report.DowntimeMs > 0);
    }

    private static async Task<YieldVault.Ops.Probes.DowntimeReport> RunMonitorAsync(IHostShell shell)
    {
        var monitor = await YieldVault.Ops.Probes.DowntimeMonitor.StartAsync(shell, 3000, "/health", TimeSpan.FromMilliseconds(25), CancellationToken.None);
        await Task.Delay(700);
        var report = await monitor.StopAsync();
        await monitor.DisposeAsync();
        return report;
    }

    private static Uri ClosedPort()
    {
        var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return new Uri($"http://127.0.0.1:{port}/");
    }

    private sealed class OkServer : IDisposable
    {
        private readonly System.Net.Sockets.TcpListener _listener = new(System.Net.IPAddress.Loopback, 0);
        private readonly CancellationTokenSource _stop = new();

        public OkServer()
        {
            _listener.Start();
            Url = new Uri($"http://127.0.0.1:{((System.Net.IPEndPoint)_listener.LocalEndpoint).Port}/");
            _ = Task.Run(async () =>
            {
                while (!_stop.IsCancellationRequested)
                {
                    using var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                    var stream = client.GetStream();
                    var buffer = new byte[4096];
                    _ = await stream.ReadAsync(buffer, _stop.Token);
                    var answer = System.Text.Encoding.ASCII.GetBytes("HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                    await stream.WriteAsync(answer, _stop.Token);
                }
            });
        }

        public Uri Url { get; }

        public void Dispose()
        {
            _stop.Cancel();
            _listener.Stop();
            _stop.Dispose();
        }
    }

    private sealed class ForwardingShell : IHostShell
    {
        private readonly Func<int, Uri> _resolve;
        private readonly Uri _first;
        private int _calls;

        public ForwardingShell(Func<int, Uri> resolve, Uri first)
        {
            _resolve = resolve;
            _first = first;
        }

        public string Description => "fake";

        public Task<CommandResult> RunAsync(CommandLine command, TimeSpan? timeout, CancellationToken cancellationToken) => throw new NotSupportedException();

        public Task<Uri> GetHttpBaseAsync(int port, CancellationToken cancellationToken) =>
            Task.FromResult(Interlocked.Increment(ref _calls) == 1 ? _first : _resolve(_calls - 1));

        public Task<(string Host, int Port)> ForwardTcpAsync(string host, int port, CancellationToken cancellationToken) => throw new NotSupportedException();

        public void Dispose()
        {
        }
    }
}
