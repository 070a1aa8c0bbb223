using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
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

/// <summary>
/// What a command run on this machine sees of the operator's environment: a minimal one, not the webhook URL and cloud
/// credentials of the shell that runs PowerShell. The planted variables are set on this test process, as they would be
/// on the pwsh process of an operator.
/// </summary>
/// <remarks>The process environment is shared: these run alone, after the parallel tests.</remarks>
[Collection(nameof(LocalShellEnvironmentTests))]
public sealed class LocalShellEnvironmentTests : IDisposable
{
    private static readonly string[] Planted =
    {
        "YIELDVAULT_SLACK_WEBHOOK_URL", "AWS_SECRET_ACCESS_KEY", "GITHUB_TOKEN", "NODE_AUTH_TOKEN", "npm_config__authToken", "HTTPS_PROXY",
    };

    public LocalShellEnvironmentTests()
    {
        foreach (var name in Planted)
        {
            Environment.SetEnvironmentVariable(name, "Planted-" + name + "-0a1b2c");
        }

        Environment.SetEnvironmentVariable("PM2_HOME", "/tmp/yv-pm2-home-of-the-operator");
        Environment.SetEnvironmentVariable("NODE_OPTIONS", "--max-old-space-size=512");
        Environment.SetEnvironmentVariable("LC_TIME", "C.UTF-8");
    }

    public void Dispose()
    {
        foreach (var name in Planted.Concat(new[] { "PM2_HOME", "NODE_OPTIONS", "LC_TIME" }))
        {
            Environment.SetEnvironmentVariable(name, null);
        }
    }

    [Fact]
    public async Task A_command_sees_a_minimal_environment_without_the_operators_secrets()
    {
        using var shell = new LocalShell();
        var result = await shell.RunAsync(new CommandLine("env") { Environment = new Dictionary<string, string> { ["YV_GIVEN"] = "given" } }, null, CancellationToken.None);
        Assert.Equal(0, result.ExitCode);
        Assert.DoesNotContain("Planted-", result.StandardOutput, StringComparison.Ordinal);
        var names = result.StandardOutput.Split('\n').Where(l => l.Contains('=')).Select(l => l.Substring(0, l.IndexOf('='))).ToHashSet();
        Assert.Contains("PATH", names);
        Assert.Contains("HOME", names);
        Assert.Contains("LC_TIME", names);
        Assert.Contains("YV_GIVEN", names);
        Assert.DoesNotContain("PM2_HOME", names);
        Assert.DoesNotContain("NODE_OPTIONS", names);
    }

    [Fact]
    public async Task Pm2_and_node_commands_get_their_own_settings_and_nothing_else()
    {
        using var shell = new LocalShell();
        var pm2 = await shell.RunAsync(CommandLine.Script("home=${PM2_HOME:-$HOME/.pm2}; printf '%s|%s' \"$home\" \"$NODE_OPTIONS\"; command -v pm2 >/dev/null || true"), null, CancellationToken.None);
        Assert.Equal("/tmp/yv-pm2-home-of-the-operator|--max-old-space-size=512", pm2.StandardOutput);

        var node = await shell.RunAsync(new CommandLine("node", "-e", "process.stdout.write(JSON.stringify(process.env))"), null, CancellationToken.None);
        Assert.Equal(0, node.ExitCode);
        Assert.DoesNotContain("Planted-", node.StandardOutput, StringComparison.Ordinal);
        Assert.Contains("\"NODE_OPTIONS\":\"--max-old-space-size=512\"", node.StandardOutput, StringComparison.Ordinal);
        Assert.DoesNotContain("PM2_HOME", node.StandardOutput, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_npm_script_does_not_see_the_operators_secrets()
    {
        var dir = Directory.CreateTempSubdirectory("yv-npm-env-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(dir, "package.json"), "{ \"name\": \"yv-env\", \"version\": \"1.0.0\", \"scripts\": { \"show\": \"env\" } }");
            using var shell = new LocalShell();
            var result = await shell.RunAsync(new CommandLine("npm", "run", "--silent", "show") { WorkingDirectory = dir }, TimeSpan.FromMinutes(2), CancellationToken.None);
            Assert.True(result.ExitCode == 0, result.StandardError);
            Assert.Contains("npm_lifecycle_event=show", result.StandardOutput, StringComparison.Ordinal);
            Assert.DoesNotContain("Planted-", result.StandardOutput, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}

[CollectionDefinition(nameof(LocalShellEnvironmentTests), DisableParallelization = true)]
public sealed class LocalShellEnvironmentCollection
{
}
