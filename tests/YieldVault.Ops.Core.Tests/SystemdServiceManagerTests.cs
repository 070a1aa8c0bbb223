using System;
using System.Collections.Generic;
using System.Linq;
using System.Reflection;
using System.Threading;
using System.Threading.Tasks;
using YieldVault.Ops;
using YieldVault.Ops.Hosts;
using YieldVault.Ops.Services;

namespace YieldVault.Ops.Core.Tests;

// Outputs captured from systemd 252 (Debian 12) running the sample backend's unit; the order of the
// properties is systemd's own, not the order asked for.
public class SystemdServiceManagerTests
{
    private const string Running = """
        MainPID=97
        Result=success
        NRestarts=0
        ExecMainStartTimestamp=Thu 2026-11-26 04:20:11 UTC
        ExecMainStatus=0
        MemoryCurrent=16424960
        CPUUsageNSec=1500000000
        LoadState=loaded
        ActiveState=active
        SubState=running
        """;

    private const string Stopped = """
        MainPID=0
        Result=success
        NRestarts=0
        ExecMainStartTimestamp=Thu 2026-11-26 04:20:01 UTC
        ExecMainStatus=0
        MemoryCurrent=[not set]
        CPUUsageNSec=[not set]
        LoadState=loaded
        ActiveState=inactive
        SubState=dead
        """;

    private const string Failed = """
        MainPID=0
        Result=exit-code
        NRestarts=5
        ExecMainStartTimestamp=Thu 2026-11-26 04:20:17 UTC
        ExecMainStatus=1
        MemoryCurrent=[not set]
        CPUUsageNSec=[not set]
        LoadState=loaded
        ActiveState=failed
        SubState=failed
        """;

    private const string AutoRestart = """
        MainPID=0
        Result=exit-code
        NRestarts=4
        ExecMainStartTimestamp=Thu 2026-11-26 04:19:39 UTC
        ExecMainStatus=1
        MemoryCurrent=[not set]
        CPUUsageNSec=[not set]
        LoadState=loaded
        ActiveState=activating
        SubState=auto-restart
        """;

    private const string NotFound = """
        MainPID=0
        Result=success
        NRestarts=0
        ExecMainStartTimestamp=
        ExecMainStatus=0
        MemoryCurrent=[not set]
        CPUUsageNSec=[not set]
        LoadState=not-found
        ActiveState=inactive
        SubState=dead
        """;

    private static readonly DateTimeOffset Now = new(2026, 11, 26, 4, 20, 41, TimeSpan.Zero);

    private static ServiceState Parse(string output) =>
        SystemdShow.ToState("yieldvault-backend.service", SystemdShow.ParseProperties(output), Now);

    [Fact]
    public void Running_unit_has_pid_start_time_memory_and_average_cpu()
    {
        var state = Parse(Running);
        Assert.Equal(ServiceStatus.Running, state.Status);
        Assert.Equal(ServiceManagerKind.Systemd, state.Manager);
        Assert.Equal("yieldvault-backend.service", state.ServiceName);
        Assert.Equal(97, state.Pid);
        Assert.Equal(new DateTimeOffset(2026, 11, 26, 4, 20, 11, TimeSpan.Zero), state.StartedAt);
        Assert.Equal(0, state.Restarts);
        Assert.Equal(16424960L, state.MemoryBytes);
        Assert.Equal(5.0, state.CpuPercent);   // 1.5 s of CPU in 30 s
        Assert.Equal("active (running)", state.Detail);
        Assert.True(state.IsRunning);
    }

    [Fact]
    public void Stopped_unit_has_no_pid_and_no_start_time()
    {
        var state = Parse(Stopped);
        Assert.Equal(ServiceStatus.Stopped, state.Status);
        Assert.Null(state.Pid);
        Assert.Null(state.StartedAt);
        Assert.Null(state.MemoryBytes);
        Assert.Null(state.CpuPercent);
        Assert.Null(state.Uptime);
        Assert.Equal("inactive (dead)", state.Detail);
    }

    [Fact]
    public void Failed_unit_reports_the_result_and_exit_status()
    {
        var state = Parse(Failed);
        Assert.Equal(ServiceStatus.Failed, state.Status);
        Assert.Equal(5, state.Restarts);
        Assert.Equal("failed (Result: exit-code), status=1", state.Detail);
    }

    [Fact]
    public void Auto_restart_is_a_crash_loop()
    {
        var state = Parse(AutoRestart);
        Assert.Equal(ServiceStatus.CrashLooping, state.Status);
        Assert.Equal(4, state.Restarts);
        Assert.Null(state.Pid);
        Assert.Equal("activating (auto-restart) (Result: exit-code), status=1", state.Detail);
    }

    [Fact]
    public void Unknown_unit_is_NotFound()
    {
        var state = Parse(NotFound);
        Assert.Equal(ServiceStatus.NotFound, state.Status);
        Assert.Null(state.StartedAt);
        Assert.Equal("not-found (no unit file)", state.Detail);
    }

    [Theory]
    [InlineData("loaded", "activating", "start", 0, ServiceStatus.Starting)]
    [InlineData("loaded", "activating", "start-pre", 0, ServiceStatus.Starting)]
    [InlineData("loaded", "activating", "start", 3, ServiceStatus.CrashLooping)]
    [InlineData("loaded", "activating", "auto-restart-queued", 2, ServiceStatus.CrashLooping)]
    [InlineData("loaded", "deactivating", "stop-sigterm", 0, ServiceStatus.Stopping)]
    [InlineData("loaded", "reloading", "reload", 0, ServiceStatus.Running)]
    [InlineData("loaded", "active", "exited", 0, ServiceStatus.Running)]
    [InlineData("masked", "inactive", "dead", 0, ServiceStatus.Stopped)]
    [InlineData("not-found", "active", "running", 0, ServiceStatus.Running)]
    [InlineData("loaded", "maintenance", "cleaning", 0, ServiceStatus.Unknown)]
    [InlineData("", "", "", 0, ServiceStatus.Unknown)]
    public void Maps_systemd_states(string load, string active, string sub, int restarts, ServiceStatus expected) =>
        Assert.Equal(expected, SystemdShow.MapStatus(load, active, sub, restarts));

    [Fact]
    public void A_restarted_process_that_runs_again_is_Running_with_its_restart_count()
    {
        var state = Parse(Running.Replace("NRestarts=0", "NRestarts=2"));
        Assert.Equal(ServiceStatus.Running, state.Status);
        Assert.Equal(2, state.Restarts);
    }

    [Fact]
    public void Missing_accounting_values_are_null()
    {
        var state = Parse(Running.Replace("MemoryCurrent=16424960", "MemoryCurrent=18446744073709551615").Replace("CPUUsageNSec=1500000000", "CPUUsageNSec=[not set]"));
        Assert.Null(state.MemoryBytes);
        Assert.Null(state.CpuPercent);
    }

    [Fact]
    public void Properties_an_old_systemd_does_not_know_are_null()
    {
        var state = Parse("ActiveState=active\nSubState=running\nMainPID=12\nLoadState=loaded\n");
        Assert.Equal(ServiceStatus.Running, state.Status);
        Assert.Equal(12, state.Pid);
        Assert.Null(state.Restarts);
        Assert.Null(state.StartedAt);
    }

    [Theory]
    [InlineData("Thu 2026-11-26 04:00:00 UTC", "2026-11-26T04:00:00+00:00")]
    [InlineData("Mon 2026-04-29 10:00:00 UTC", "2026-04-29T10:00:00+00:00")]
    [InlineData("Thu 2026-11-26 04:00:00.123456 UTC", "2026-11-26T04:00:00.1234560+00:00")]
    [InlineData("Thu 2026-11-26 05:00:00 +01:00", "2026-11-26T05:00:00+01:00")]
    [InlineData("Thu 2026-11-26 05:00:00 -0500", "2026-11-26T05:00:00-05:00")]
    [InlineData("2026-11-26 04:00:00", "2026-11-26T04:00:00+00:00")]
    public void Parses_systemd_timestamps(string text, string expected) =>
        Assert.Equal(DateTimeOffset.Parse(expected, System.Globalization.CultureInfo.InvariantCulture), SystemdShow.ParseTimestamp(text));

    [Theory]
    [InlineData("")]
    [InlineData("n/a")]
    [InlineData("0")]
    [InlineData("Thu 2026-11-26 05:00:00 CET")]
    [InlineData("Thu 2026-13-45 04:00:00 UTC")]
    public void Unusable_timestamps_are_null(string text) => Assert.Null(SystemdShow.ParseTimestamp(text));

    [Fact]
    public async Task GetState_runs_systemctl_show_without_sudo_in_UTC()
    {
        var shell = new ScriptedShell((_, _) => Ok(Running));
        var state = await Manager(shell).GetStateAsync(CancellationToken.None);
        Assert.Equal(ServiceStatus.Running, state.Status);
        var command = Assert.Single(shell.Commands);
        Assert.Equal("systemctl", command.Program);
        Assert.Equal(new[] { "show", "yieldvault-backend.service", "--property=" + SystemdServiceManager.ShowProperties, "--no-pager" }, command.Arguments);
        Assert.Equal("UTC", command.Environment!["TZ"]);
    }

    [Fact]
    public async Task A_unit_suffix_in_the_service_name_is_kept()
    {
        var shell = new ScriptedShell((_, _) => Ok(Running));
        await Manager(shell, serviceName: "api@blue.service").GetStateAsync(CancellationToken.None);
        Assert.Equal("api@blue.service", shell.Commands[0].Arguments[1]);
    }

    [Fact]
    public async Task GetState_without_systemd_is_ServiceManagerUnavailable()
    {
        var shell = new ScriptedShell((_, _) => Fail(1, "System has not been booted with systemd as init system (PID 1). Can't operate.\nFailed to connect to bus: Host is down\n"));
        var ex = await Assert.ThrowsAsync<VaultException>(() => Manager(shell).GetStateAsync(CancellationToken.None));
        Assert.Equal("ServiceManagerUnavailable", ex.ErrorId);
        Assert.Equal(VaultErrorKind.ResourceUnavailable, ex.Kind);
    }

    [Fact]
    public async Task Start_uses_sudo_for_a_user_that_is_not_root()
    {
        var shell = new ScriptedShell((_, _) => Ok(""));
        await Manager(shell).StartAsync(CancellationToken.None);
        Assert.Equal("sudo -n -- systemctl start yieldvault-backend.service", Words(Assert.Single(shell.Commands)));
    }

    [Fact]
    public async Task Root_runs_systemctl_directly()
    {
        var shell = new ScriptedShell((_, _) => Ok(""));
        await Manager(shell, user: "root").RestartAsync(CancellationToken.None);
        Assert.Equal("systemctl restart yieldvault-backend.service", Words(Assert.Single(shell.Commands)));
    }

    [Theory]
    [InlineData("sudo: a password is required")]
    [InlineData("Sorry, user deploy is not allowed to execute '/usr/bin/systemctl start yieldvault-backend.service' as root on app1.")]
    [InlineData("sh: 1: sudo: not found")]
    public async Task A_sudo_refusal_is_SudoRequired_naming_the_missing_rule(string stderr)
    {
        var shell = new ScriptedShell((_, _) => Fail(1, stderr + "\n"));
        var ex = await Assert.ThrowsAsync<VaultException>(() => Manager(shell).StartAsync(CancellationToken.None));
        Assert.Equal("SudoRequired", ex.ErrorId);
        Assert.Equal(VaultErrorKind.SecurityError, ex.Kind);
        Assert.Contains("'deploy'", ex.Message, StringComparison.Ordinal);
        Assert.Contains("systemctl", ex.Message, StringComparison.Ordinal);
        Assert.Contains("NOPASSWD", ex.RecommendedAction, StringComparison.Ordinal);
        Assert.Contains("journalctl", ex.RecommendedAction, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_sudo_refusal_for_the_journal_names_journalctl()
    {
        var shell = new ScriptedShell((_, _) => Fail(1, "sudo: a password is required\n"));
        var ex = await Assert.ThrowsAsync<VaultException>(() => Manager(shell).ReadLogAsync(10, null, CancellationToken.None));
        Assert.Equal("SudoRequired", ex.ErrorId);
        Assert.Contains("for journalctl", ex.Message, StringComparison.Ordinal);
        Assert.Contains("deploy ALL=(root) NOPASSWD: /usr/bin/systemctl, /usr/bin/journalctl", ex.RecommendedAction, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Polkit_refusing_a_user_without_sudo_is_SudoRequired()
    {
        var shell = new ScriptedShell((_, _) => Fail(1, "Failed to start yieldvault-backend.service: Interactive authentication required.\n"));
        var ex = await Assert.ThrowsAsync<VaultException>(() => Manager(shell, useSudo: false).StopAsync(TimeSpan.FromSeconds(30), CancellationToken.None));
        Assert.Equal("SudoRequired", ex.ErrorId);
        Assert.Contains("needs root", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Starting_an_unknown_unit_is_ServiceNotFound()
    {
        var shell = new ScriptedShell((_, _) => Fail(5, "Failed to start nope.service: Unit nope.service not found.\n"));
        var ex = await Assert.ThrowsAsync<VaultException>(() => Manager(shell, serviceName: "nope").StartAsync(CancellationToken.None));
        Assert.Equal("ServiceNotFound", ex.ErrorId);
        Assert.Equal(VaultErrorKind.ObjectNotFound, ex.Kind);
    }

    [Fact]
    public async Task A_failed_start_job_resets_the_failed_state_and_tries_once_more()
    {
        var attempts = 0;
        var shell = new ScriptedShell((command, _) =>
        {
            if (command.Arguments.Contains("start") && attempts++ == 0)
            {
                return Fail(1, "Job for yieldvault-backend.service failed because the control process exited with error code.\nSee \"systemctl status yieldvault-backend.service\" and \"journalctl -xeu yieldvault-backend.service\" for details.\n");
            }

            return Ok("");
        });
        await Manager(shell).StartAsync(CancellationToken.None);
        Assert.Equal(
            new[] { "sudo -n -- systemctl start yieldvault-backend.service", "sudo -n -- systemctl reset-failed yieldvault-backend.service", "sudo -n -- systemctl start yieldvault-backend.service" },
            shell.Commands.Select(Words));
    }

    [Fact]
    public async Task A_start_that_fails_twice_is_ServiceStartFailed()
    {
        var shell = new ScriptedShell((command, _) => command.Arguments.Contains("reset-failed")
            ? Ok("")
            : Fail(1, "Job for yieldvault-backend.service failed because the control process exited with error code.\n"));
        var ex = await Assert.ThrowsAsync<VaultException>(() => Manager(shell).StartAsync(CancellationToken.None));
        Assert.Equal("ServiceStartFailed", ex.ErrorId);
        Assert.Contains("journalctl -u yieldvault-backend.service", ex.RecommendedAction, StringComparison.Ordinal);
        Assert.Equal(3, shell.Commands.Count);
    }

    [Fact]
    public async Task Stop_is_bounded_on_the_host_and_here()
    {
        var shell = new ScriptedShell((_, _) => Ok(""));
        await Manager(shell).StopAsync(TimeSpan.FromSeconds(7.5), CancellationToken.None);
        Assert.Equal("timeout -k 5 8 sudo -n -- systemctl stop yieldvault-backend.service", Words(Assert.Single(shell.Commands)));
        Assert.Equal(TimeSpan.FromSeconds(22.5), shell.Timeouts[0]);
    }

    [Theory]
    [InlineData(124)]
    [InlineData(137)]
    public async Task A_stop_past_its_timeout_is_ServiceStopTimeout(int exitCode)
    {
        var shell = new ScriptedShell((_, _) => Fail(exitCode, ""));
        var ex = await Assert.ThrowsAsync<VaultException>(() => Manager(shell).StopAsync(TimeSpan.FromSeconds(3), CancellationToken.None));
        Assert.Equal("ServiceStopTimeout", ex.ErrorId);
        Assert.Equal(VaultErrorKind.OperationTimeout, ex.Kind);
    }

    [Fact]
    public async Task Kill_queues_a_stop_and_sends_SIGKILL()
    {
        var shell = new ScriptedShell((_, _) => Ok(""));
        await Manager(shell).KillAsync(CancellationToken.None);
        Assert.Equal(
            new[] { "sudo -n -- systemctl stop --no-block yieldvault-backend.service", "sudo -n -- systemctl kill --signal=SIGKILL yieldvault-backend.service" },
            shell.Commands.Select(Words));
    }

    [Fact]
    public async Task ReadLog_asks_journalctl_for_short_iso_lines_since_a_time()
    {
        var since = new DateTimeOffset(2026, 11, 26, 5, 0, 0, TimeSpan.FromHours(1));
        var shell = new ScriptedShell((_, _) => Ok("""
            -- Boot 0f3c --
            2026-11-26T04:20:01+0000 vm systemd[1]: Started yieldvault-backend.service - YieldVault Backend API.
            2026-11-26T04:20:01+0000 vm node[37]: 2026-11-26T04:20:01.298Z INFO Server started on port 22780

            """));
        var lines = await Manager(shell).ReadLogAsync(50, since, CancellationToken.None);
        Assert.Equal(2, lines.Count);
        Assert.EndsWith("Server started on port 22780", lines[1], StringComparison.Ordinal);
        Assert.Equal("sudo -n -- journalctl -u yieldvault-backend.service -n 50 --no-pager -o short-iso --utc --since @1795665600", Words(Assert.Single(shell.Commands)));
    }

    [Fact]
    public async Task An_empty_journal_is_no_lines()
    {
        var shell = new ScriptedShell((_, _) => Ok("-- No entries --\n"));
        Assert.Empty(await Manager(shell).ReadLogAsync(10, null, CancellationToken.None));
    }

    private static SystemdServiceManager Manager(ScriptedShell shell, string user = "deploy", string serviceName = "yieldvault-backend", bool? useSudo = null) =>
        new(new VaultTarget
        {
            Name = "app-1",
            ServiceName = serviceName,
            UseSudo = useSudo,
            Ssh = new SshEndpoint { HostName = "app1.internal", User = user, KeyFile = "/dev/null" },
        }, shell.Shell);

    private static string Words(CommandLine command) => string.Join(" ", new[] { command.Program }.Concat(command.Arguments));

    private static CommandResult Ok(string stdout) => new("test", 0, stdout, "", TimeSpan.Zero);

    private static CommandResult Fail(int exitCode, string stderr) => new("test", exitCode, "", stderr, TimeSpan.Zero);

    // The manager only runs commands; a proxy answers RunAsync and Description and refuses the rest, so
    // this fake does not have to follow every member added to IHostShell.
    private sealed class ScriptedShell
    {
        private readonly Func<CommandLine, int, CommandResult> _answer;

        public ScriptedShell(Func<CommandLine, int, CommandResult> answer)
        {
            _answer = answer;
            Shell = DispatchProxy.Create<IHostShell, ShellProxy>();
            ((ShellProxy)(object)Shell).Owner = this;
        }

        public IHostShell Shell { get; }

        public List<CommandLine> Commands { get; } = new();

        public List<TimeSpan?> Timeouts { get; } = new();

        private CommandResult Run(CommandLine command, TimeSpan? timeout)
        {
            Commands.Add(command);
            Timeouts.Add(timeout);
            return _answer(command, Commands.Count);
        }

        public class ShellProxy : DispatchProxy
        {
            internal ScriptedShell? Owner { get; set; }

            protected override object? Invoke(MethodInfo? targetMethod, object?[]? args) => targetMethod?.Name switch
            {
                nameof(IHostShell.RunAsync) => Task.FromResult(Owner!.Run((CommandLine)args![0]!, (TimeSpan?)args[1])),
                "get_" + nameof(IHostShell.Description) => "deploy@app1.internal",
                nameof(IDisposable.Dispose) => null,
                _ => throw new NotSupportedException(targetMethod?.Name),
            };
        }
    }
}
