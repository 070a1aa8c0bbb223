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

public class CoalescingShellTests
{
    [Fact]
    public async Task Identical_commands_at_once_run_once_and_share_the_result()
    {
        var release = new TaskCompletionSource<bool>();
        var inner = new CountingShell(async c => { await release.Task; return new CommandResult("x", 0, "out " + c.Arguments.Last(), "", TimeSpan.Zero); });
        var shell = new CoalescingShell(inner);
        var jlist = new CommandLine("sh", "-c", "exec pm2 jlist") { Environment = new Dictionary<string, string> { ["PM2_HOME"] = "/srv/pm2" } };
        var calls = Enumerable.Range(0, 20).Select(_ => shell.RunAsync(jlist, TimeSpan.FromSeconds(5), CancellationToken.None)).ToArray();
        release.SetResult(true);
        var results = await Task.WhenAll(calls);
        Assert.Equal(1, inner.Runs);
        Assert.All(results, r => Assert.Equal("out exec pm2 jlist", r.StandardOutput));
    }

    [Fact]
    public async Task Commands_that_differ_in_environment_directory_or_arguments_each_run()
    {
        var inner = new CountingShell(c => Task.FromResult(new CommandResult("x", 0, c.ToShellString(), "", TimeSpan.Zero)));
        var shell = new CoalescingShell(inner);
        var commands = new[]
        {
            new CommandLine("sh", "-c", "exec pm2 jlist") { Environment = new Dictionary<string, string> { ["PM2_HOME"] = "/srv/a" } },
            new CommandLine("sh", "-c", "exec pm2 jlist") { Environment = new Dictionary<string, string> { ["PM2_HOME"] = "/srv/b" } },
            new CommandLine("sh", "-c", "exec pm2 jlist"),
            new CommandLine("sh", "-c", "exec pm2 jlist") { WorkingDirectory = "/srv/app" },
            CommandLine.Script("ss -Htn state established \"( sport = :$1 )\" | wc -l", "3000"),
            CommandLine.Script("ss -Htn state established \"( sport = :$1 )\" | wc -l", "3001"),
        };
        var results = await Task.WhenAll(commands.Select(c => shell.RunAsync(c, null, CancellationToken.None)));
        Assert.Equal(commands.Length, inner.Runs);
        Assert.Equal(commands.Select(c => c.ToShellString()), results.Select(r => r.StandardOutput));
        // The same again: answered from the first runs.
        await Task.WhenAll(commands.Select(c => shell.RunAsync(c, null, CancellationToken.None)));
        Assert.Equal(commands.Length, inner.Runs);
    }

    [Fact]
    public async Task A_command_that_throws_is_not_kept()
    {
        var fail = true;
        var inner = new CountingShell(_ => fail
            ? Task.FromException<CommandResult>(new VaultException(ErrorIds.ConnectionLost, VaultErrorKind.ConnectionError, "lost"))
            : Task.FromResult(new CommandResult("x", 0, "ok", "", TimeSpan.Zero)));
        var shell = new CoalescingShell(inner);
        var ss = new CommandLine("ss", "-Htn");
        await Assert.ThrowsAsync<VaultException>(() => shell.RunAsync(ss, null, CancellationToken.None));
        fail = false;
        var again = await shell.RunAsync(ss, null, CancellationToken.None);
        Assert.Equal("ok", again.StandardOutput);
        Assert.Equal(2, inner.Runs);
    }

    [Fact]
    public void Unwrap_gives_the_connection_shell_and_leaves_others_alone()
    {
        var inner = new CountingShell(_ => Task.FromResult(new CommandResult("x", 0, "", "", TimeSpan.Zero)));
        Assert.Same(inner, CoalescingShell.Unwrap(new CoalescingShell(inner)));
        Assert.Same(inner, CoalescingShell.Unwrap(inner));
    }

    private sealed class CountingShell : IHostShell
    {
        private readonly Func<CommandLine, Task<CommandResult>> _answer;
        private int _runs;

        public CountingShell(Func<CommandLine, Task<CommandResult>> answer) => _answer = answer;

        public int Runs => _runs;

        public string Description => "fake";

        public Task<CommandResult> RunAsync(CommandLine command, TimeSpan? timeout, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _runs);
            return _answer(command);
        }

        public Task<Uri> GetHttpBaseAsync(int port, CancellationToken cancellationToken) => throw new NotSupportedException();

        public Task<(string Host, int Port)> ForwardTcpAsync(string host, int port, CancellationToken cancellationToken) => throw new NotSupportedException();

        public void Dispose()
        {
        }
    }
}
