using System;
using System.Diagnostics;
using System.IO;
using System.Threading;
using System.Threading.Tasks;
using YieldVault.Ops.Hosts;

namespace YieldVault.Ops.Core.Tests;

/// <summary>
/// The wrapper every SSH command runs under, and the script that ends a command's process group, run here with the
/// system's sh. Each wrapped command is started under setsid, as sshd starts a session: its own session and group (never
/// this test host's).
/// </summary>
public class RemoteProcessGroupTests
{
    private static string PgidFile(RemoteProcessGroup group) => Path.Combine(Environment.GetEnvironmentVariable("TMPDIR") ?? "/tmp", group.FileName);

    private static CommandLine InSession(string line) => new("setsid", "-w", "sh", "-c", line);

    [Fact]
    public async Task The_wrapper_keeps_output_exit_code_directory_and_environment_and_leaves_no_file()
    {
        using var shell = new LocalShell();
        var group = new RemoteProcessGroup();
        var dir = Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), "yv rpg " + Guid.NewGuid().ToString("N")));
        try
        {
            var command = new CommandLine("sh", "-c", "pwd; printf '%s|' \"$YV_X\" \"$1\"; echo err >&2; exit 7", "sh", "it's $HOME")
            {
                WorkingDirectory = dir.FullName,
                Environment = new System.Collections.Generic.Dictionary<string, string> { ["YV_X"] = "a 'b' \"c\"" },
            };
            var result = await shell.RunAsync(InSession(group.Wrap(command.ToShellString())), TimeSpan.FromSeconds(30), CancellationToken.None);
            Assert.Equal(7, result.ExitCode);
            Assert.Equal(dir.FullName + "\na 'b' \"c\"|it's $HOME|", result.StandardOutput);
            Assert.Equal("err\n", result.StandardError);
            Assert.False(File.Exists(PgidFile(group)));
        }
        finally
        {
            dir.Delete(true);
        }
    }

    [Fact]
    public async Task The_kill_script_ends_a_group_that_ignores_SIGTERM_with_SIGKILL()
    {
        using var shell = new LocalShell();
        var group = new RemoteProcessGroup();
        var mark = Random.Shared.Next(100000, 999999).ToString(System.Globalization.CultureInfo.InvariantCulture);
        var line = group.Wrap(new CommandLine("sh", "-c", $"trap '' TERM; sleep 30.{mark} & sleep 31.{mark}; wait").ToShellString());
        var running = shell.RunAsync(InSession(line), TimeSpan.FromSeconds(60), CancellationToken.None);
        try
        {
            var deadline = DateTime.UtcNow.AddSeconds(10);
            while (!File.Exists(PgidFile(group)) && DateTime.UtcNow < deadline)
            {
                await Task.Delay(50);
            }

            Assert.True(File.Exists(PgidFile(group)), "the wrapper recorded its group");
            var recorded = int.Parse(File.ReadAllText(PgidFile(group)).Trim(), System.Globalization.CultureInfo.InvariantCulture);
            Assert.NotEqual(GetOwnProcessGroup(), recorded);

            var watch = Stopwatch.StartNew();
            var kill = await shell.RunAsync(new CommandLine("sh", "-c", group.KillScript()), TimeSpan.FromSeconds(30), CancellationToken.None);
            Assert.Equal("killed", kill.StandardOutput.Trim());
            Assert.True(watch.Elapsed >= RemoteProcessGroup.Grace - TimeSpan.FromSeconds(1), $"SIGKILL only after the grace ({watch.Elapsed})");
            var result = await running.WaitAsync(TimeSpan.FromSeconds(10));
            Assert.NotEqual(0, result.ExitCode);
            var left = await shell.RunAsync(new CommandLine("pgrep", "-f", $"sleep 3[01].{mark}"), TimeSpan.FromSeconds(10), CancellationToken.None);
            Assert.Equal("", left.StandardOutput.Trim());
            Assert.False(File.Exists(PgidFile(group)));
        }
        finally
        {
            await shell.RunAsync(new CommandLine("pkill", "-9", "-f", $"sleep 3[01].{mark}"), TimeSpan.FromSeconds(10), CancellationToken.None);
        }
    }

    [Fact]
    public async Task The_kill_script_ends_a_group_on_SIGTERM_and_says_so()
    {
        using var shell = new LocalShell();
        var group = new RemoteProcessGroup();
        var running = shell.RunAsync(InSession(group.Wrap("sleep 30")), TimeSpan.FromSeconds(60), CancellationToken.None);
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!File.Exists(PgidFile(group)) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        var kill = await shell.RunAsync(new CommandLine("sh", "-c", group.KillScript()), TimeSpan.FromSeconds(30), CancellationToken.None);
        Assert.Equal("terminated", kill.StandardOutput.Trim());
        await running.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task The_kill_script_after_the_command_ended_does_nothing()
    {
        using var shell = new LocalShell();
        var group = new RemoteProcessGroup();
        var done = await shell.RunAsync(InSession(group.Wrap("true")), TimeSpan.FromSeconds(30), CancellationToken.None);
        Assert.Equal(0, done.ExitCode);
        var kill = await shell.RunAsync(new CommandLine("sh", "-c", group.KillScript()), TimeSpan.FromSeconds(30), CancellationToken.None);
        Assert.Equal("none", kill.StandardOutput.Trim());
    }

    private static int GetOwnProcessGroup()
    {
        var stat = File.ReadAllText("/proc/self/stat");
        var fields = stat.Substring(stat.LastIndexOf(") ", StringComparison.Ordinal) + 2).Split(' ');
        return int.Parse(fields[2], System.Globalization.CultureInfo.InvariantCulture);
    }
}
