using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using YieldVault.Ops;
using YieldVault.Ops.Hosts;
using YieldVault.Ops.Services;

namespace YieldVault.Ops.Core.Tests;

/// <summary>How PM2 starts a backend that is not the sample: its entry point, npm start, an ecosystem file tied to a release.</summary>
public class Pm2StartRecipeTests
{
    private static readonly string Stopped = Pm2JlistParsingTests.Sample("pm2-jlist-stopped.json");

    private static VaultTarget Target(string? entryPoint = null, string? sub = null) => new()
    {
        Name = "api-1", ServiceManager = ServiceManagerKind.Pm2, ServiceName = "yieldvault-backend", AppPath = "/srv/api", EntryPoint = entryPoint, AppSubdirectory = sub,
    };

    private static bool IsScript(CommandLine c, string text) => c.Program == "sh" && c.Arguments.Count > 1 && c.Arguments[1].Contains(text, StringComparison.Ordinal);

    private static async Task<List<CommandLine>> StartAsync(VaultTarget target, string jlist, string probe)
    {
        var jlists = 0;
        var calls = new List<CommandLine>();
        using var shell = new Shell(c =>
        {
            calls.Add(c);
            return IsScript(c, "pm2 jlist") ? (jlists++ == 0 ? jlist : Stopped.Replace("\"status\":\"stopped\"", "\"status\":\"online\"", StringComparison.Ordinal))
                : IsScript(c, "ecosystem.config.js") ? probe
                : "";
        });
        await new Pm2ServiceManager(target, shell).StartAsync(CancellationToken.None);
        return calls;
    }

    private static string[] Pm2(List<CommandLine> calls) => calls.Where(c => c.Program == "pm2").Select(c => string.Join(" ", c.Arguments)).ToArray();

    [Fact]
    public async Task An_unknown_app_starts_from_its_entry_point_in_the_app_directory()
    {
        var calls = await StartAsync(Target(sub: "apps/api"), "[]", "src/server.js\nnpm-start\n");
        Assert.Equal(new[] { "start src/server.js --name yieldvault-backend --cwd /srv/api/apps/api --time" }, Pm2(calls));
        var probe = calls.Single(c => IsScript(c, "ecosystem.config.js"));
        Assert.Equal(new[] { "", "/srv/api/apps/api" }, probe.Arguments.Skip(3));
    }

    [Fact]
    public async Task The_targets_entry_point_goes_to_the_probe()
    {
        var calls = await StartAsync(Target(entryPoint: "bin/www"), "[]", "bin/www\n");
        Assert.Equal("bin/www", calls.Single(c => IsScript(c, "ecosystem.config.js")).Arguments[3]);
        Assert.Equal(new[] { "start bin/www --name yieldvault-backend --cwd /srv/api --time" }, Pm2(calls));
    }

    [Fact]
    public async Task Without_an_entry_point_file_a_start_script_runs_with_npm_start()
    {
        var calls = await StartAsync(Target(), "[]", "npm-start\n");
        Assert.Equal(new[] { "start npm --name yieldvault-backend --cwd /srv/api --time -- start" }, Pm2(calls));
    }

    [Fact]
    public async Task An_entry_point_that_leaves_the_app_directory_is_not_started()
    {
        var ex = await Assert.ThrowsAsync<VaultException>(() => StartAsync(Target(), "[]", "../../etc/x.js\n"));
        Assert.Equal("AppEntryPointNotFound", ex.ErrorId);
    }

    [Fact]
    public async Task A_known_app_tied_to_a_release_directory_is_started_anew_through_the_app_path()
    {
        // An ecosystem file without cwd: PM2 took the real directory of the release it was started from.
        var pinned = Stopped.Replace("/app/yieldvault-backend", "/srv/api-releases/releases/20260101T000000Z-abc1234", StringComparison.Ordinal);
        var calls = await StartAsync(Target(), pinned, "ecosystem.config.js\nserver.js\n");
        Assert.Equal(new[] { "delete yieldvault-backend", "start ecosystem.config.js --only yieldvault-backend" }, Pm2(calls));
        Assert.Equal("/srv/api", calls.Last(c => c.Program == "pm2").WorkingDirectory);
    }

    [Fact]
    public async Task A_known_app_started_through_the_app_path_is_started_by_name()
    {
        var calls = await StartAsync(Target(), Stopped, "ecosystem.config.js\n");
        Assert.Equal(new[] { "start yieldvault-backend" }, Pm2(calls));
        Assert.DoesNotContain(calls, c => IsScript(c, "ecosystem.config.js"));
    }

    private sealed class Shell : IHostShell
    {
        private readonly Func<CommandLine, string> _answer;

        public Shell(Func<CommandLine, string> answer) => _answer = answer;

        public string Description => "test";

        public Task<CommandResult> RunAsync(CommandLine command, TimeSpan? timeout, CancellationToken cancellationToken) =>
            Task.FromResult(new CommandResult(command.ToString(), 0, _answer(command), "", TimeSpan.Zero));

        public Task<Uri> GetHttpBaseAsync(int port, CancellationToken cancellationToken) => throw new NotSupportedException();

        public Task<(string Host, int Port)> ForwardTcpAsync(string host, int port, CancellationToken cancellationToken) => throw new NotSupportedException();

        public void Dispose()
        {
        }
    }
}
