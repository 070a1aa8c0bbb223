using System;
using System.Diagnostics;
using System.Threading;
using System.Threading.Tasks;
using YieldVault.Ops;
using YieldVault.Ops.Hosts;

namespace YieldVault.Ops.Core.Tests;

public class LocalShellTests
{
    [Fact]
    public async Task Returns_exit_code_and_both_streams()
    {
        using var shell = new LocalShell();
        var result = await shell.RunAsync(CommandLine.Script("echo out; echo err >&2; exit 3"), null, CancellationToken.None);
        Assert.Equal(3, result.ExitCode);
        Assert.Equal("out\n", result.StandardOutput);
        Assert.Equal("err\n", result.StandardError);
        Assert.False(result.Succeeded);
        Assert.Equal("err", result.Tail());
    }

    [Fact]
    public async Task Arguments_with_spaces_and_quotes_stay_single_words()
    {
        using var shell = new LocalShell();
        var result = await shell.RunAsync(new CommandLine("printf", "%s|", "a b", "it's", "\"q\""), null, CancellationToken.None);
        Assert.Equal("a b|it's|\"q\"|", result.StandardOutput);
    }

    [Fact]
    public async Task Runs_in_the_working_directory_with_extra_environment()
    {
        using var shell = new LocalShell();
        var dir = System.IO.Directory.CreateDirectory(System.IO.Path.Combine(System.IO.Path.GetTempPath(), "yv dir " + Guid.NewGuid().ToString("N")));
        try
        {
            var command = new CommandLine("sh", "-c", "pwd; printf %s \"$YV_X\"")
            {
                WorkingDirectory = dir.FullName,
                Environment = new System.Collections.Generic.Dictionary<string, string> { ["YV_X"] = "value 1" },
            };
            var result = await shell.RunAsync(command, null, CancellationToken.None);
            Assert.Equal(dir.FullName + "\nvalue 1", result.StandardOutput);
        }
        finally
        {
            dir.Delete(true);
        }
    }

    [Fact]
    public async Task A_command_past_its_timeout_is_killed_with_CommandTimeout()
    {
        using var shell = new LocalShell();
        var watch = Stopwatch.StartNew();
        var ex = await Assert.ThrowsAsync<VaultException>(() => shell.RunAsync(new CommandLine("sleep", "30"), TimeSpan.FromMilliseconds(300), CancellationToken.None));
        Assert.Equal("CommandTimeout", ex.ErrorId);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10), $"took {watch.Elapsed}");
    }

    [Fact]
    public async Task Cancellation_stops_the_command()
    {
        using var shell = new LocalShell();
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => shell.RunAsync(new CommandLine("sleep", "30"), null, cts.Token));
    }

    [Fact]
    public async Task A_missing_program_is_CommandNotFound()
    {
        using var shell = new LocalShell();
        var ex = await Assert.ThrowsAsync<VaultException>(() => shell.RunAsync(new CommandLine("yv-no-such-program"), null, CancellationToken.None));
        Assert.Equal("CommandNotFound", ex.ErrorId);
    }

    [Fact]
    public async Task Http_base_for_a_local_target_is_loopback()
    {
        using var shell = new LocalShell();
        Assert.Equal(new Uri("http://127.0.0.1:3000/"), await shell.GetHttpBaseAsync(3000, CancellationToken.None));
    }
}
