using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Threading;
using System.Threading.Tasks;
using YieldVault.Ops;
using YieldVault.Ops.Hosts;
using YieldVault.Ops.Probes;
using Xunit;

namespace YieldVault.Ops.Core.Tests;

/// <summary>
/// The health wait when nothing answers at all: it asks the service manager (a scripted PM2 jlist here; /health is a real
/// port on 127.0.0.1 where nothing listens) and stops at once for a process PM2 gave up on, but not for one that runs.
/// </summary>
public class HealthWaiterProcessTests
{
    private static readonly string Jlist = Pm2JlistParsingTests.Sample("pm2-jlist-errored.json");

    [Fact]
    public async Task A_process_its_manager_gave_up_on_ends_the_wait_with_BackendExited_long_before_the_timeout()
    {
        var port = TestPorts.Free();
        using var shell = new ScriptedShell(port, Jlist);
        var target = Target(port, "yv-crash");
        var watch = Stopwatch.StartNew();
        var ex = await Assert.ThrowsAsync<VaultException>(() =>
            HealthWaiter.WaitAsync(target, shell, ready: true, TimeSpan.FromSeconds(60), TimeSpan.FromSeconds(1), 1, CancellationToken.None));
        Assert.Equal(ErrorIds.BackendExited, ex.ErrorId);
        Assert.Contains("does not run: Pm2 says yv-crash is Failed (errored), 15 restarts", ex.Message, StringComparison.Ordinal);
        Assert.Contains("of 60 s", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Get-VaultBackendLog", ex.RecommendedAction, StringComparison.Ordinal);
        // Two readings 2 s apart, the first after 3 s: well under the 60 s timeout (bounded loosely for a loaded machine).
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(30), $"the wait took {watch.Elapsed}");
        Assert.InRange(shell.StateReads, 2, 3);
    }

    [Fact]
    public async Task A_process_that_runs_but_does_not_answer_waits_out_the_timeout_and_says_what_its_manager_says()
    {
        var port = TestPorts.Free();
        using var shell = new ScriptedShell(port, Jlist);
        var target = Target(port, "yieldvault-backend");
        var ex = await Assert.ThrowsAsync<VaultException>(() =>
            HealthWaiter.WaitAsync(target, shell, ready: true, TimeSpan.FromSeconds(3), TimeSpan.FromMilliseconds(500), 1, CancellationToken.None));
        Assert.Equal(ErrorIds.HealthCheckTimeout, ex.ErrorId);
        Assert.EndsWith(" Pm2 says yieldvault-backend is Running (online).", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_manager_that_cannot_be_read_changes_nothing()
    {
        var port = TestPorts.Free();
        using var shell = new ScriptedShell(port, null);
        var ex = await Assert.ThrowsAsync<VaultException>(() =>
            HealthWaiter.WaitAsync(Target(port, "yv-crash"), shell, ready: true, TimeSpan.FromSeconds(6), TimeSpan.FromMilliseconds(500), 1, CancellationToken.None));
        Assert.Equal(ErrorIds.HealthCheckTimeout, ex.ErrorId);
        Assert.EndsWith("Connection refused.", ex.Message, StringComparison.Ordinal);
        Assert.True(shell.StateReads >= 2, $"{shell.StateReads} state reads");
    }

    private static VaultTarget Target(int port, string service) =>
        new() { Name = "t", Port = port, ServiceManager = ServiceManagerKind.Pm2, ServiceName = service };

    /// <summary>/health on 127.0.0.1:port (nothing listens); every command is "pm2 jlist", answered with the sample (or failing).</summary>
    private sealed class ScriptedShell : IHostShell
    {
        private readonly int _port;
        private readonly string? _jlist;
        private int _reads;

        public ScriptedShell(int port, string? jlist) => (_port, _jlist) = (port, jlist);

        public int StateReads => _reads;

        public string Description => "scripted";

        public Task<CommandResult> RunAsync(CommandLine command, TimeSpan? timeout, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _reads);
            return Task.FromResult(_jlist is null
                ? new CommandResult(command.ToString(), 1, "", "connection lost", TimeSpan.Zero)
                : new CommandResult(command.ToString(), 0, _jlist, "", TimeSpan.Zero));
        }

        public Task<Uri> GetHttpBaseAsync(int port, CancellationToken cancellationToken) => Task.FromResult(new Uri($"http://127.0.0.1:{_port}/"));

        public Task<(string Host, int Port)> ForwardTcpAsync(string host, int port, CancellationToken cancellationToken) => throw new NotSupportedException();

        public void Dispose()
        {
        }
    }
}
