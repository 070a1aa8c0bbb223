using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Runtime.CompilerServices;
using System.Threading;
using System.Threading.Tasks;
using YieldVault.Ops;
using YieldVault.Ops.Hosts;
using YieldVault.Ops.Services;

namespace YieldVault.Ops.Core.Tests;

// Samples/pm2-jlist-*.json are real "pm2 jlist" output of PM2 7.0.4 running the sample backend (paths and the
// captured environment trimmed): yieldvault-backend online/stopped, yv-crash (started without the required
// env, default restart settings: loops until "errored"), yv-wait (the same with --restart-delay 4000).
public class Pm2JlistParsingTests
{
    private const long BackendStartedMs = 1795666877337;

    // What PM2 prints on the first command with a new PM2_HOME: the banner, then the daemon spawn (coloured).
    private const string FirstRunBanner = """

                        -------------

__/\\\\\\\\\\\\\____/\\\\____________/\\\\____/\\\\\\\\\_____
 _\/\\\/////////\\\_\/\\\\\\________/\\\\\\__/\\\///////\\\___
        _\///______________\///______________\///__\///////////////__


                          Runtime Edition

        PM2 is a Production Process Manager for Node.js applications
                     with a built-in Load Balancer.

                Start and Daemonize any application:
                $ pm2 start app.js

                        -------------

""" + "\u001b[32m[PM2] \u001b[39mSpawning PM2 daemon with pm2_home=/home/deploy/.pm2\n\u001b[32m[PM2] \u001b[39mPM2 Successfully daemonized\n";

    internal static string Sample(string name, [CallerFilePath] string source = "") =>
        File.ReadAllText(Path.Combine(Path.GetDirectoryName(source)!, "Samples", name));

    private static ServiceState State(string sample, string app, DateTimeOffset now) =>
        Pm2ProcessList.ToState(app, Pm2ProcessList.Parse(Sample(sample), "test"), now);

    private static DateTimeOffset At(long epochMs, double plusSeconds = 0) =>
        DateTimeOffset.FromUnixTimeMilliseconds(epochMs).AddSeconds(plusSeconds);

    [Fact]
    public void Pm2_online_app_is_Running_with_pid_uptime_and_usage()
    {
        var state = State("pm2-jlist-online.json", "yieldvault-backend", At(BackendStartedMs, 3600));
        Assert.Equal(ServiceStatus.Running, state.Status);
        Assert.Equal(ServiceManagerKind.Pm2, state.Manager);
        Assert.Equal("yieldvault-backend", state.ServiceName);
        Assert.Equal(12232, state.Pid);
        Assert.Equal(0, state.Restarts);
        Assert.Equal(At(BackendStartedMs), state.StartedAt);
        Assert.True(state.MemoryBytes > 10_000_000, $"memory {state.MemoryBytes}");
        Assert.NotNull(state.CpuPercent);
        Assert.Equal("online", state.Detail);
    }

    [Fact]
    public void Pm2_freshly_started_app_without_crashes_is_Running_not_CrashLooping()
    {
        var state = State("pm2-jlist-online.json", "yieldvault-backend", At(BackendStartedMs, 1));
        Assert.Equal(ServiceStatus.Running, state.Status);
    }

    [Fact]
    public void Pm2_stopped_app_is_Stopped_without_pid_or_start_time()
    {
        var state = State("pm2-jlist-stopped.json", "yieldvault-backend", At(BackendStartedMs, 60));
        Assert.Equal(ServiceStatus.Stopped, state.Status);
        Assert.Null(state.Pid);
        Assert.Null(state.StartedAt);
        Assert.Null(state.Uptime);
        Assert.Null(state.MemoryBytes);
        Assert.Equal("stopped", state.Detail);
    }

    [Fact]
    public void Pm2_errored_app_is_Failed_with_its_restart_count()
    {
        var state = State("pm2-jlist-errored.json", "yv-crash", At(BackendStartedMs, 30));
        Assert.Equal(ServiceStatus.Failed, state.Status);
        Assert.Equal(15, state.Restarts);
        Assert.Null(state.Pid);
        Assert.Equal("errored", state.Detail);
    }

    [Fact]
    public void Pm2_waiting_restart_is_CrashLooping_and_hides_the_dead_pid()
    {
        // PM2 keeps the pid of the process that died while it waits restart_delay.
        var list = Pm2ProcessList.Parse(Sample("pm2-jlist-errored.json"), "test");
        Assert.True(list.Find("yv-wait").Single().Pid > 0);
        var state = Pm2ProcessList.ToState("yv-wait", list, At(BackendStartedMs, 30));
        Assert.Equal(ServiceStatus.CrashLooping, state.Status);
        Assert.Null(state.Pid);
        Assert.Equal("waiting restart", state.Detail);
    }

    [Fact]
    public void Pm2_stopped_entry_that_keeps_its_pid_is_the_crash_loop_between_exit_and_restart()
    {
        var state = State("pm2-jlist-crash-loop.json", "yv-crash", At(BackendStartedMs, 5));
        Assert.Equal(ServiceStatus.CrashLooping, state.Status);
        Assert.Equal(5, state.Restarts);
        Assert.Null(state.Pid);
        Assert.Equal("stopped", state.Detail);
    }

    [Fact]
    public void Pm2_online_after_recent_crashes_is_CrashLooping_until_it_outlives_the_window()
    {
        var list = Pm2ProcessList.Parse(Sample("pm2-jlist-restarted-after-crash.json"), "test");
        var process = list.Find("yv-wait").Single();
        Assert.Equal("online", process.RawStatus);
        Assert.True(process.UnstableRestarts > 0);
        var started = process.StartedAt!.Value;

        var young = Pm2ProcessList.ToState("yv-wait", list, started.AddSeconds(1));
        Assert.Equal(ServiceStatus.CrashLooping, young.Status);
        Assert.Equal(process.Pid, young.Pid);
        Assert.Equal(2, young.Restarts);

        Assert.Equal(ServiceStatus.Running, Pm2ProcessList.ToState("yv-wait", list, started.AddSeconds(30)).Status);
    }

    [Fact]
    public void Pm2_apps_are_matched_by_exact_name()
    {
        var list = Pm2ProcessList.Parse(Sample("pm2-jlist-crash-loop.json"), "test");
        Assert.Equal(new[] { "yieldvault-backend", "yv-crash", "yv-wait" }, list.Processes.Select(p => p.Name).OrderBy(n => n, StringComparer.Ordinal));
        Assert.Equal(ServiceStatus.Running, Pm2ProcessList.ToState("yieldvault-backend", list, At(BackendStartedMs, 60)).Status);
        Assert.Equal(ServiceStatus.NotFound, Pm2ProcessList.ToState("YieldVault-Backend", list, At(BackendStartedMs, 60)).Status);
    }

    [Fact]
    public void Pm2_missing_app_is_NotFound()
    {
        var state = State("pm2-jlist-online.json", "no-such-app", DateTimeOffset.UtcNow);
        Assert.Equal(ServiceStatus.NotFound, state.Status);
        Assert.Equal("no-such-app", state.ServiceName);
        Assert.Null(state.Pid);
        Assert.Equal("not in the PM2 process list", state.Detail);
    }

    [Fact]
    public void Pm2_banner_and_daemon_spawn_lines_before_the_json_are_skipped()
    {
        var list = Pm2ProcessList.Parse(FirstRunBanner + Sample("pm2-jlist-online.json"), "test");
        Assert.True(list.DaemonRunning);
        Assert.Equal("yieldvault-backend", Assert.Single(list.Processes).Name);

        var empty = Pm2ProcessList.Parse(FirstRunBanner + "[]", "test");
        Assert.Empty(empty.Processes);
        Assert.Equal(ServiceStatus.NotFound, Pm2ProcessList.ToState("yieldvault-backend", empty, DateTimeOffset.UtcNow).Status);
    }

    [Fact]
    public void Pm2_json_glued_to_a_message_or_followed_by_one_is_found()
    {
        var json = Sample("pm2-jlist-stopped.json");
        Assert.Equal(3, Pm2ProcessList.Parse("\u001b[32m[PM2] \u001b[39mPM2 Successfully daemonized" + json, "test").Processes.Count);
        Assert.Equal(3, Pm2ProcessList.Parse(json + "\n[PM2][WARN] Current process list is not synchronized with saved list\n", "test").Processes.Count);
    }

    [Fact]
    public void Pm2_no_daemon_marker_is_NotFound_with_that_detail()
    {
        var list = Pm2ProcessList.Parse(Pm2ServiceManager.NoDaemonMarker + "\n", "test");
        Assert.False(list.DaemonRunning);
        var state = Pm2ProcessList.ToState("yieldvault-backend", list, DateTimeOffset.UtcNow);
        Assert.Equal(ServiceStatus.NotFound, state.Status);
        Assert.Equal("PM2 daemon not running", state.Detail);
    }

    [Fact]
    public void Pm2_output_without_a_process_list_is_ServiceManagerOutputInvalid_without_quoting_json()
    {
        var truncated = Sample("pm2-jlist-online.json").Substring(0, 2000);
        var ex = Assert.Throws<VaultException>(() => Pm2ProcessList.Parse("[PM2][ERROR] Daemon not responding\n" + truncated, "deploy@app1"));
        Assert.Equal("ServiceManagerOutputInvalid", ex.ErrorId);
        Assert.Equal(VaultErrorKind.InvalidData, ex.Kind);
        Assert.Contains("[PM2][ERROR] Daemon not responding", ex.Message);
        Assert.Contains("deploy@app1", ex.Message);
        Assert.DoesNotContain("PATH", ex.Message);
        Assert.DoesNotContain("pm2_env", ex.Message);
    }

    [Theory]
    [InlineData("online", ServiceStatus.Running)]
    [InlineData("stopped", ServiceStatus.Stopped)]
    [InlineData("stopping", ServiceStatus.Stopping)]
    [InlineData("launching", ServiceStatus.Starting)]
    [InlineData("errored", ServiceStatus.Failed)]
    [InlineData("waiting restart", ServiceStatus.CrashLooping)]
    [InlineData("something-new", ServiceStatus.Unknown)]
    public void Pm2_status_words_map_for_a_process_that_never_crashed(string raw, ServiceStatus expected)
    {
        var process = new Pm2Process { Name = "a", Pid = raw is "online" or "stopping" or "launching" ? 42 : 0, RawStatus = raw, Status = Pm2ProcessList.ParseStatus(raw), PmUptimeMs = BackendStartedMs };
        Assert.Equal(expected, Pm2ProcessList.Map(process, At(BackendStartedMs, 1)));
    }

    [Fact]
    public void Pm2_launching_after_unstable_restarts_is_CrashLooping()
    {
        var process = new Pm2Process { Name = "a", Pid = 42, RawStatus = "launching", Status = Pm2Status.Launching, PmUptimeMs = BackendStartedMs, RestartTime = 3, UnstableRestarts = 3, ExitCode = 1 };
        Assert.Equal(ServiceStatus.CrashLooping, Pm2ProcessList.Map(process, At(BackendStartedMs, 0.2)));
    }

    [Fact]
    public void Pm2_restart_by_hand_after_a_clean_exit_is_not_a_crash()
    {
        // "pm2 restart" counts in restart_time, resets unstable_restarts, and the stopped process exited with 0.
        var process = new Pm2Process { Name = "a", Pid = 42, RawStatus = "online", Status = Pm2Status.Online, PmUptimeMs = BackendStartedMs, RestartTime = 4, UnstableRestarts = 0, ExitCode = 0 };
        Assert.Equal(ServiceStatus.Running, Pm2ProcessList.Map(process, At(BackendStartedMs, 1)));
    }

    [Fact]
    public void Pm2_cluster_instances_report_the_most_severe_status_and_summed_usage()
    {
        var json = """
            [{"pid":101,"name":"api","pm_id":0,"pm2_env":{"status":"online","restart_time":0,"unstable_restarts":0,"pm_uptime":1795666800000},"monit":{"memory":1000,"cpu":1.5}},
             {"pid":0,"name":"api","pm_id":1,"pm2_env":{"status":"errored","restart_time":15,"unstable_restarts":0,"pm_uptime":1795666800000},"monit":{"memory":0,"cpu":0}}]
            """.Replace("\n", "", StringComparison.Ordinal);
        var state = Pm2ProcessList.ToState("api", Pm2ProcessList.Parse(json, "test"), At(1795666800000, 60));
        Assert.Equal(ServiceStatus.Failed, state.Status);
        Assert.Equal(101, state.Pid);
        Assert.Equal(15, state.Restarts);
        Assert.Equal(1000, state.MemoryBytes);
        Assert.Equal("online, errored", state.Detail);
    }
}

public class Pm2LogMergeTests
{
    private const string Marker = "==m==";

    [Fact]
    public void Pm2_out_and_error_logs_merge_by_the_time_prefix_and_keep_the_last_lines()
    {
        var output = string.Join("\n",
            "+0000",
            Marker,
            "2026-04-29T10:00:00: 2026-04-29T10:00:00.100Z INFO Starting yieldvault-backend 1.2.3",
            "2026-04-29T10:00:02: 2026-04-29T10:00:02.000Z INFO Server started on port 3000",
            "",
            Marker,
            "2026-04-29T10:00:01: 2026-04-29T10:00:01.000Z ERROR Database connection failed",
            "2026-04-29T10:00:03: 2026-04-29T10:00:03.000Z ERROR boom",
            "",
            "");
        var lines = Pm2LogLines.Merge(output, Marker, 10, null);
        Assert.Equal(new[]
        {
            "2026-04-29T10:00:00: 2026-04-29T10:00:00.100Z INFO Starting yieldvault-backend 1.2.3",
            "2026-04-29T10:00:01: 2026-04-29T10:00:01.000Z ERROR Database connection failed",
            "2026-04-29T10:00:02: 2026-04-29T10:00:02.000Z INFO Server started on port 3000",
            "2026-04-29T10:00:03: 2026-04-29T10:00:03.000Z ERROR boom",
        }, lines);

        Assert.Equal(new[] { lines[2], lines[3] }, Pm2LogLines.Merge(output, Marker, 2, null));
    }

    [Fact]
    public void Pm2_since_uses_the_hosts_offset_for_the_local_time_prefix()
    {
        // PM2's --time prefix is the host's local time without a zone: 12:00 at +0200 is 10:00 UTC.
        var output = string.Join("\n", "+0200", Marker, "2026-04-29T11:59:59: before", "2026-04-29T12:00:01: after", "");
        var since = new DateTimeOffset(2026, 4, 29, 10, 0, 0, TimeSpan.Zero);
        Assert.Equal(new[] { "2026-04-29T12:00:01: after" }, Pm2LogLines.Merge(output, Marker, 50, since));
    }

    [Fact]
    public void Pm2_lines_without_time_follow_the_line_before_and_are_left_out_with_since_when_unknown()
    {
        var output = string.Join("\n", "+0000", Marker, "no time at all", "2026-04-29T10:00:00.000Z ERROR crash", "    at stack frame", "");
        Assert.Equal(new[] { "no time at all", "2026-04-29T10:00:00.000Z ERROR crash", "    at stack frame" }, Pm2LogLines.Merge(output, Marker, 50, null));
        Assert.Equal(new[] { "2026-04-29T10:00:00.000Z ERROR crash", "    at stack frame" },
            Pm2LogLines.Merge(output, Marker, 50, new DateTimeOffset(2026, 4, 29, 9, 0, 0, TimeSpan.Zero)));
    }

    [Fact]
    public void Pm2_the_apps_own_zoned_time_after_pm2s_prefix_orders_lines_within_a_second()
    {
        var time = Pm2LogLines.ParseTime("2026-04-29T12:00:01: 2026-04-29T10:00:01.250Z ERROR x", TimeSpan.FromHours(2));
        Assert.Equal(new DateTimeOffset(2026, 4, 29, 10, 0, 1, 250, TimeSpan.Zero), time);
        Assert.Equal(new DateTimeOffset(2026, 4, 29, 10, 0, 1, TimeSpan.Zero), Pm2LogLines.ParseTime("2026-04-29T12:00:01: plain", TimeSpan.FromHours(2)));
    }

    [Theory]
    [InlineData("+0000", 0)]
    [InlineData("+0530", 330)]
    [InlineData("-0800", -480)]
    [InlineData("garbage", 0)]
    public void Pm2_host_offset_parses_date_percent_z(string text, int minutes)
    {
        Assert.Equal(TimeSpan.FromMinutes(minutes), Pm2LogLines.ParseOffset(text));
    }
}

public class Pm2ServiceManagerCommandTests
{
    private static readonly string Online = Pm2JlistParsingTests.Sample("pm2-jlist-online.json");
    private static readonly string Stopped = Pm2JlistParsingTests.Sample("pm2-jlist-stopped.json");

    private static VaultTarget Target(string? pm2Home = "/srv/pm2 home") => new()
    {
        Name = "prod-1",
        ServiceManager = ServiceManagerKind.Pm2,
        ServiceName = "yieldvault-backend",
        AppPath = "/app/yieldvault-backend",
        Pm2Home = pm2Home,
    };

    private static bool IsScript(CommandLine c, string text) => c.Program == "sh" && c.Arguments.Count > 1 && c.Arguments[1].Contains(text, StringComparison.Ordinal);

    private static bool IsPm2(CommandLine c, params string[] words) => c.Program == "pm2" && c.Arguments.Take(words.Length).SequenceEqual(words);

    [Fact]
    public async Task Pm2_state_runs_jlist_with_PM2_HOME_and_a_timeout()
    {
        using var shell = new FakeShell(c => IsScript(c, "pm2 jlist") ? FakeShell.Ok(Online) : null);
        var state = await new Pm2ServiceManager(Target(), shell).GetStateAsync(CancellationToken.None);
        Assert.Equal(ServiceStatus.Running, state.Status);
        var (command, timeout) = Assert.Single(shell.Calls);
        Assert.Equal("/srv/pm2 home", command.Environment!["PM2_HOME"]);
        Assert.NotNull(timeout);
        Assert.Contains("PM2_HOME=***", command.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Pm2_without_Pm2Home_sets_no_environment()
    {
        using var shell = new FakeShell(c => FakeShell.Ok("[]"));
        await new Pm2ServiceManager(Target(null), shell).GetStateAsync(CancellationToken.None);
        Assert.Null(shell.Calls[0].Command.Environment);
    }

    [Fact]
    public async Task Pm2_not_installed_on_the_host_is_ServiceManagerNotFound_naming_the_install_command()
    {
        using var shell = new FakeShell(c => new CommandResult(c.ToString(), 127, Pm2ServiceManager.NotInstalledMarker + "\n", "", TimeSpan.Zero));
        var ex = await Assert.ThrowsAsync<VaultException>(() => new Pm2ServiceManager(Target(), shell).GetStateAsync(CancellationToken.None));
        Assert.Equal("ServiceManagerNotFound", ex.ErrorId);
        Assert.Equal(VaultErrorKind.NotInstalled, ex.Kind);
        Assert.Contains("npm install -g pm2", ex.RecommendedAction, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Pm2_program_missing_locally_is_ServiceManagerNotFound()
    {
        using var shell = new FakeShell(c => throw new VaultException("CommandNotFound", VaultErrorKind.NotInstalled, "Could not start 'sh'."));
        var ex = await Assert.ThrowsAsync<VaultException>(() => new Pm2ServiceManager(Target(), shell).GetStateAsync(CancellationToken.None));
        Assert.Equal("ServiceManagerNotFound", ex.ErrorId);
        Assert.Equal("CommandNotFound", Assert.IsType<VaultException>(ex.InnerException).ErrorId);
    }

    [Fact]
    public async Task Pm2_stop_runs_pm2_stop_bounded_by_the_timeout()
    {
        using var shell = new FakeShell(c => IsScript(c, "pm2 jlist") ? FakeShell.Ok(Online) : IsPm2(c, "stop") ? FakeShell.Ok("[PM2] [yieldvault-backend](0) ✓") : null);
        await new Pm2ServiceManager(Target(), shell).StopAsync(TimeSpan.FromSeconds(7), CancellationToken.None);
        var (command, timeout) = shell.Calls.Single(c => c.Command.Program == "pm2");
        Assert.Equal(new[] { "stop", "yieldvault-backend" }, command.Arguments);
        Assert.Equal(TimeSpan.FromSeconds(7), timeout);
        Assert.Equal("/srv/pm2 home", command.Environment!["PM2_HOME"]);
    }

    [Fact]
    public async Task Pm2_stop_past_the_timeout_is_ServiceStopTimeout()
    {
        using var shell = new FakeShell(c => IsScript(c, "pm2 jlist") ? FakeShell.Ok(Online)
            : throw new VaultException("CommandTimeout", VaultErrorKind.OperationTimeout, "did not finish"));
        var ex = await Assert.ThrowsAsync<VaultException>(() => new Pm2ServiceManager(Target(), shell).StopAsync(TimeSpan.FromSeconds(2), CancellationToken.None));
        Assert.Equal("ServiceStopTimeout", ex.ErrorId);
        Assert.Contains("1600 ms", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Pm2_failure_is_ServiceManagerFailed_with_the_command_and_pm2s_words_but_no_env_values()
    {
        var stderr = "\u001b[31m[PM2][ERROR] \u001b[39mUnexpected error while stopping\n";
        using var shell = new FakeShell(c => IsScript(c, "pm2 jlist") ? FakeShell.Ok(Online) : new CommandResult(c.ToString(), 1, "┌────┐\n│ id │\n", stderr, TimeSpan.Zero));
        var ex = await Assert.ThrowsAsync<VaultException>(() => new Pm2ServiceManager(Target(), shell).StopAsync(TimeSpan.FromSeconds(5), CancellationToken.None));
        Assert.Equal("ServiceManagerFailed", ex.ErrorId);
        Assert.Contains("PM2_HOME=*** pm2 stop yieldvault-backend", ex.Message, StringComparison.Ordinal);
        Assert.Contains("[PM2][ERROR] Unexpected error while stopping", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("/srv/pm2 home", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("│", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("\u001b", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Pm2_stop_of_an_app_pm2_does_not_know_is_ServiceNotFound()
    {
        using var shell = new FakeShell(c => IsScript(c, "pm2 jlist") ? FakeShell.Ok("[]") : null);
        var ex = await Assert.ThrowsAsync<VaultException>(() => new Pm2ServiceManager(Target(), shell).StopAsync(TimeSpan.FromSeconds(5), CancellationToken.None));
        Assert.Equal("ServiceNotFound", ex.ErrorId);
        Assert.DoesNotContain(shell.Calls, c => c.Command.Program == "pm2");
    }

    [Fact]
    public async Task Pm2_start_of_an_unknown_app_starts_dist_index_js_from_AppPath_with_time_then_saves()
    {
        using var shell = new FakeShell(c =>
            IsScript(c, "pm2 jlist") ? FakeShell.Ok("[]")
            : IsScript(c, "ecosystem.config.js") ? FakeShell.Ok("dist/index.js\n")
            : IsPm2(c, "start") || IsScript(c, "pm2 save") ? FakeShell.Ok("")
            : null);
        await new Pm2ServiceManager(Target(), shell).StartAsync(CancellationToken.None);
        var start = shell.Calls.Single(c => c.Command.Program == "pm2").Command;
        Assert.Equal(new[] { "start", "dist/index.js", "--name", "yieldvault-backend", "--cwd", "/app/yieldvault-backend", "--time" }, start.Arguments);
        Assert.Equal("/app/yieldvault-backend", start.WorkingDirectory);
        Assert.Equal("/srv/pm2 home", start.Environment!["PM2_HOME"]);
        Assert.True(IsScript(shell.Calls[^1].Command, "pm2 save"));
        Assert.Equal("/app/yieldvault-backend", shell.Calls.Single(c => IsScript(c.Command, "ecosystem.config.js")).Command.Arguments[^1]);
    }

    [Fact]
    public async Task Pm2_start_of_an_unknown_app_uses_its_ecosystem_file_for_this_app_only()
    {
        var jlists = 0;
        using var shell = new FakeShell(c =>
            IsScript(c, "pm2 jlist") ? FakeShell.Ok(jlists++ == 0 ? "[]" : Online)
            : IsScript(c, "ecosystem.config.js") ? FakeShell.Ok("ecosystem.config.js\ndist/index.js\n")
            : IsPm2(c, "start") || IsScript(c, "pm2 save") ? FakeShell.Ok("")
            : null);
        await new Pm2ServiceManager(Target(), shell).StartAsync(CancellationToken.None);
        var start = shell.Calls.Single(c => c.Command.Program == "pm2").Command;
        Assert.Equal(new[] { "start", "ecosystem.config.js", "--only", "yieldvault-backend" }, start.Arguments);
        Assert.Equal("/app/yieldvault-backend", start.WorkingDirectory);
    }

    [Fact]
    public async Task Pm2_ecosystem_without_the_app_is_EcosystemAppMissing()
    {
        using var shell = new FakeShell(c =>
            IsScript(c, "pm2 jlist") ? FakeShell.Ok("[]")
            : IsScript(c, "ecosystem.config.js") ? FakeShell.Ok("ecosystem.config.js\n")
            : IsPm2(c, "start") ? FakeShell.Ok("")
            : null);
        var ex = await Assert.ThrowsAsync<VaultException>(() => new Pm2ServiceManager(Target(), shell).StartAsync(CancellationToken.None));
        Assert.Equal("EcosystemAppMissing", ex.ErrorId);
    }

    [Fact]
    public async Task Pm2_start_of_an_unknown_app_without_an_entry_point_is_AppEntryPointNotFound()
    {
        using var shell = new FakeShell(c => IsScript(c, "pm2 jlist") ? FakeShell.Ok("[]") : IsScript(c, "ecosystem.config.js") ? FakeShell.Ok("") : null);
        var ex = await Assert.ThrowsAsync<VaultException>(() => new Pm2ServiceManager(Target(), shell).StartAsync(CancellationToken.None));
        Assert.Equal("AppEntryPointNotFound", ex.ErrorId);
    }

    [Fact]
    public async Task Pm2_start_of_a_known_stopped_app_starts_it_by_name()
    {
        using var shell = new FakeShell(c => IsScript(c, "pm2 jlist") ? FakeShell.Ok(Stopped) : IsPm2(c, "start") || IsScript(c, "pm2 save") ? FakeShell.Ok("") : null);
        await new Pm2ServiceManager(Target(), shell).StartAsync(CancellationToken.None);
        Assert.Equal(new[] { "start", "yieldvault-backend" }, shell.Calls.Single(c => c.Command.Program == "pm2").Command.Arguments);
    }

    [Fact]
    public async Task Pm2_start_of_an_online_app_does_not_restart_it()
    {
        using var shell = new FakeShell(c => IsScript(c, "pm2 jlist") ? FakeShell.Ok(Online) : null);
        await new Pm2ServiceManager(Target(), shell).StartAsync(CancellationToken.None);
        Assert.Single(shell.Calls);
    }

    [Fact]
    public async Task Pm2_kill_freezes_the_pid_has_pm2_stop_it_then_sends_SIGKILL()
    {
        using var shell = new FakeShell(c => IsScript(c, "pm2 jlist") ? FakeShell.Ok(Online) : IsScript(c, "kill -s") || IsPm2(c, "stop") ? FakeShell.Ok("") : null);
        await new Pm2ServiceManager(Target(), shell).KillAsync(CancellationToken.None);
        var order = shell.Calls.Select(c => c.Command.Program == "pm2" ? "pm2 " + c.Command.Arguments[0]
            : IsScript(c.Command, "kill -s") ? "kill -" + c.Command.Arguments[3] + " " + c.Command.Arguments[4]
            : "jlist").ToArray();
        Assert.Equal(new[] { "jlist", "kill -STOP 12232", "pm2 stop", "kill -KILL 12232" }, order);
        // pm2 stop waits the app's kill_timeout (PM2's default 1.6 s here) before its own SIGKILL.
        Assert.True(shell.Calls.Single(c => c.Command.Program == "pm2").Timeout > TimeSpan.FromSeconds(1.6));
    }

    [Fact]
    public async Task Pm2_kill_that_is_not_permitted_is_ServiceKillFailed()
    {
        using var shell = new FakeShell(c => IsScript(c, "pm2 jlist") ? FakeShell.Ok(Online)
            : new CommandResult(c.ToString(), 1, "", "sh: 1: kill: Operation not permitted\n", TimeSpan.Zero));
        var ex = await Assert.ThrowsAsync<VaultException>(() => new Pm2ServiceManager(Target(), shell).KillAsync(CancellationToken.None));
        Assert.Equal("ServiceKillFailed", ex.ErrorId);
        Assert.Contains("Operation not permitted", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(shell.Calls, c => c.Command.Program == "pm2");
    }

    [Fact]
    public async Task Pm2_restart_updates_the_environment()
    {
        using var shell = new FakeShell(c => IsScript(c, "pm2 jlist") ? FakeShell.Ok(Online) : IsPm2(c, "restart") ? FakeShell.Ok("") : null);
        await new Pm2ServiceManager(Target(), shell).RestartAsync(CancellationToken.None);
        Assert.Equal(new[] { "restart", "yieldvault-backend", "--update-env" }, shell.Calls.Single(c => c.Command.Program == "pm2").Command.Arguments);
    }

    [Fact]
    public async Task Pm2_pm2_saying_not_found_is_ServiceNotFound()
    {
        using var shell = new FakeShell(c => IsScript(c, "pm2 jlist") ? FakeShell.Ok(Online)
            : new CommandResult(c.ToString(), 1, "", "\u001b[31m[PM2][ERROR] \u001b[39mProcess or Namespace yieldvault-backend not found\n", TimeSpan.Zero));
        var ex = await Assert.ThrowsAsync<VaultException>(() => new Pm2ServiceManager(Target(), shell).RestartAsync(CancellationToken.None));
        Assert.Equal("ServiceNotFound", ex.ErrorId);
    }

    [Fact]
    public async Task Pm2_logs_tail_both_files_from_jlist()
    {
        string? marker = null;
        using var shell = new FakeShell(c =>
        {
            if (IsScript(c, "pm2 jlist"))
            {
                return FakeShell.Ok(Online);
            }

            marker = c.Arguments[4];
            return FakeShell.Ok($"+0000\n{marker}\n2026-04-29T10:00:02: Server started on port 3000\n\n{marker}\n2026-04-29T10:00:01: warn\n\n");
        });
        var lines = await new Pm2ServiceManager(Target(), shell).ReadLogAsync(50, null, CancellationToken.None);
        Assert.Equal(new[] { "2026-04-29T10:00:01: warn", "2026-04-29T10:00:02: Server started on port 3000" }, lines);
        var command = shell.Calls[^1].Command;
        Assert.Equal(new[] { "50", marker!, "yieldvault-backend", "/home/deploy/.pm2/logs/yieldvault-backend-out.log", "/home/deploy/.pm2/logs/yieldvault-backend-error.log" }, command.Arguments.Skip(3));
    }

    private sealed class FakeShell : IHostShell
    {
        private readonly Func<CommandLine, CommandResult?> _answer;

        public FakeShell(Func<CommandLine, CommandResult?> answer) => _answer = answer;

        public List<(CommandLine Command, TimeSpan? Timeout)> Calls { get; } = new();

        public string Description => "fake";

        public static CommandResult Ok(string stdout) => new("fake", 0, stdout, "", TimeSpan.Zero);

        public Task<CommandResult> RunAsync(CommandLine command, TimeSpan? timeout, CancellationToken cancellationToken)
        {
            Calls.Add((command, timeout));
            return Task.FromResult(_answer(command) ?? throw new InvalidOperationException("Unexpected command: " + command));
        }

        public Task<Uri> GetHttpBaseAsync(int port, CancellationToken cancellationToken) => throw new NotSupportedException();

        public Task<(string Host, int Port)> ForwardTcpAsync(string host, int port, CancellationToken cancellationToken) => throw new NotSupportedException();

        public void Dispose()
        {
        }
    }
}
