using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using Docker.DotNet;
using Docker.DotNet.Models;
using YieldVault.Ops;
using YieldVault.Ops.Services;

namespace YieldVault.Ops.Core.Tests;

public class DockerServiceManagerTests
{
    private static ContainerInspectResponse Inspect(string status, long exitCode = 0, RestartPolicyKind policy = RestartPolicyKind.No, long maxRetries = 0,
        long restarts = 0, bool restarting = false, bool oom = false, long pid = 0, string? error = null, string? health = null)
    {
        return new ContainerInspectResponse
        {
            ID = "0123456789ab",
            Image = "sha256:feedface",
            RestartCount = restarts,
            State = new ContainerState
            {
                Status = status,
                Running = status == "running",
                Restarting = restarting || status == "restarting",
                Paused = status == "paused",
                Dead = status == "dead",
                OOMKilled = oom,
                ExitCode = exitCode,
                Pid = pid,
                Error = error ?? "",
                StartedAt = "2026-11-26T04:17:24.123456789Z",
                FinishedAt = "0001-01-01T00:00:00Z",
                Health = health is null ? null : new Health { Status = health },
            },
            Config = new Config { Image = "yieldvault-backend:v1.2.3" },
            HostConfig = new HostConfig { RestartPolicy = new RestartPolicy { Name = policy, MaximumRetryCount = maxRetries } },
            NetworkSettings = new NetworkSettings
            {
                Ports = new Dictionary<string, IList<PortBinding>>
                {
                    ["3000/tcp"] = new List<PortBinding> { new() { HostIP = "127.0.0.1", HostPort = "32768" } },
                },
            },
        };
    }

    [Theory]
    [InlineData("running", ServiceStatus.Running)]
    [InlineData("created", ServiceStatus.Stopped)]
    [InlineData("paused", ServiceStatus.Stopped)]
    [InlineData("restarting", ServiceStatus.CrashLooping)]
    [InlineData("dead", ServiceStatus.Failed)]
    [InlineData("removing", ServiceStatus.Stopping)]
    [InlineData("exited", ServiceStatus.Stopped)]
    [InlineData("something-new", ServiceStatus.Unknown)]
    public void Docker_states_map_to_service_states(string status, ServiceStatus expected)
    {
        var state = DockerContainerState.ToServiceState("yieldvault-backend", Inspect(status), null);
        Assert.Equal(expected, state.Status);
        Assert.Equal(ServiceManagerKind.Docker, state.Manager);
        Assert.Equal("yieldvault-backend", state.ServiceName);
    }

    [Theory]
    [InlineData(0, RestartPolicyKind.Always, 0, 3, ServiceStatus.Stopped)]          // docker stop of a clean app
    [InlineData(143, RestartPolicyKind.Always, 0, 0, ServiceStatus.Stopped)]        // SIGTERM without a handler
    [InlineData(137, RestartPolicyKind.UnlessStopped, 0, 0, ServiceStatus.Stopped)] // docker kill / stop timeout
    [InlineData(1, RestartPolicyKind.Always, 0, 5, ServiceStatus.CrashLooping)]
    [InlineData(1, RestartPolicyKind.UnlessStopped, 0, 0, ServiceStatus.CrashLooping)]
    [InlineData(1, RestartPolicyKind.OnFailure, 0, 7, ServiceStatus.CrashLooping)]  // on-failure without a limit
    [InlineData(1, RestartPolicyKind.OnFailure, 5, 2, ServiceStatus.CrashLooping)]  // retries left
    [InlineData(1, RestartPolicyKind.OnFailure, 5, 5, ServiceStatus.Failed)]        // gave up
    [InlineData(1, RestartPolicyKind.No, 0, 0, ServiceStatus.Failed)]
    [InlineData(1, RestartPolicyKind.Undefined, 0, 0, ServiceStatus.Failed)]
    public void An_exited_container_is_stopped_failed_or_crash_looping(long exitCode, RestartPolicyKind policy, long maxRetries, long restarts, ServiceStatus expected)
    {
        var state = DockerContainerState.ToServiceState("b", Inspect("exited", exitCode, policy, maxRetries, restarts), null);
        Assert.Equal(expected, state.Status);
        Assert.Equal($"exited (code {exitCode})", state.Detail);
    }

    [Fact]
    public void An_out_of_memory_kill_is_not_a_stop_on_purpose()
    {
        var state = DockerContainerState.ToServiceState("b", Inspect("exited", 137, oom: true), null);
        Assert.Equal(ServiceStatus.Failed, state.Status);
        Assert.Equal("exited (code 137, out of memory)", state.Detail);
    }

    [Fact]
    public void A_restarting_container_is_crash_looping_with_its_restarts_and_last_exit_code()
    {
        var state = DockerContainerState.ToServiceState("b", Inspect("restarting", 1, RestartPolicyKind.Always, restarts: 4), null);
        Assert.Equal(ServiceStatus.CrashLooping, state.Status);
        Assert.Equal(4, state.Restarts);
        Assert.Equal("restarting (last exit code 1, restart policy always)", state.Detail);
        Assert.Null(state.Pid);
        Assert.Null(state.Uptime);
    }

    [Fact]
    public void The_restarting_flag_wins_over_the_status_text()
    {
        Assert.Equal(ServiceStatus.CrashLooping, DockerContainerState.StatusOf(new ContainerState { Status = "running", Running = true, Restarting = true }, null, 1));
        Assert.Equal(ServiceStatus.Unknown, DockerContainerState.StatusOf(null, null, 0));
    }

    [Fact]
    public void A_running_container_reports_pid_image_start_health_ports_and_resources()
    {
        var stats = new ContainerStatsResponse
        {
            CPUStats = new CPUStats { CPUUsage = new CPUUsage { TotalUsage = 300_000_000 }, SystemUsage = 20_000_000_000, OnlineCPUs = 2 },
            PreCPUStats = new CPUStats { CPUUsage = new CPUUsage { TotalUsage = 200_000_000 }, SystemUsage = 18_000_000_000, OnlineCPUs = 2 },
            MemoryStats = new MemoryStats { Usage = 80_000_000, Stats = new Dictionary<string, ulong> { ["total_inactive_file"] = 5_000_000, ["cache"] = 9_000_000 } },
        };
        var state = DockerContainerState.ToServiceState("yieldvault-backend", Inspect("running", pid: 4242, health: "healthy"), stats);

        Assert.Equal(ServiceStatus.Running, state.Status);
        Assert.True(state.IsRunning);
        Assert.Equal(4242, state.Pid);
        Assert.Equal("yieldvault-backend:v1.2.3", state.Image);
        Assert.Equal("healthy", state.ContainerHealth);
        Assert.Equal(new DateTimeOffset(2026, 11, 26, 4, 17, 24, TimeSpan.Zero).AddTicks(1234567), state.StartedAt);
        Assert.Equal(0, state.Restarts);
        Assert.Equal(new[] { "127.0.0.1:32768->3000/tcp" }, state.Ports);
        Assert.Equal("running", state.Detail);
        Assert.Equal(75_000_000, state.MemoryBytes);
        Assert.Equal(10.0, state.CpuPercent);   // 100M of 2000M host ns, times 2 CPUs
    }

    [Fact]
    public void Resources_are_left_out_when_not_running_or_not_sampled()
    {
        var stopped = DockerContainerState.ToServiceState("b", Inspect("exited"), new ContainerStatsResponse { MemoryStats = new MemoryStats { Usage = 10 } });
        Assert.Null(stopped.MemoryBytes);
        Assert.Null(stopped.CpuPercent);

        var unsampled = DockerContainerState.ToServiceState("b", Inspect("running", pid: 1), null);
        Assert.Null(unsampled.MemoryBytes);
        Assert.Null(unsampled.CpuPercent);

        // stream=false with one-shot: no previous sample, so no CPU figure (rather than a made-up one).
        Assert.Null(DockerContainerState.CpuPercentOf(new ContainerStatsResponse
        {
            CPUStats = new CPUStats { CPUUsage = new CPUUsage { TotalUsage = 5 }, SystemUsage = 10 },
            PreCPUStats = new CPUStats { CPUUsage = new CPUUsage(), SystemUsage = 0 },
        }));
    }

    [Fact]
    public void Memory_uses_the_cgroup_v2_name_too()
    {
        var stats = new ContainerStatsResponse { MemoryStats = new MemoryStats { Usage = 1000, Stats = new Dictionary<string, ulong> { ["inactive_file"] = 400 } } };
        Assert.Equal(600, DockerContainerState.MemoryOf(stats));
    }

    [Fact]
    public void The_engine_error_text_is_in_the_detail()
    {
        var state = DockerContainerState.ToServiceState("b", Inspect("created", 127, error: "OCI runtime create failed: exec: \"node\": executable file not found"), null);
        Assert.Equal("created (never started): OCI runtime create failed: exec: \"node\": executable file not found", state.Detail);
    }

    [Fact]
    public void Ports_are_formatted_like_docker_ps_and_sorted()
    {
        var ports = new Dictionary<string, IList<PortBinding>>
        {
            ["9229/tcp"] = null!,
            ["3000/tcp"] = new List<PortBinding>
            {
                new() { HostIP = "0.0.0.0", HostPort = "3000" },
                new() { HostIP = "::", HostPort = "3000" },
                new() { HostIP = "0.0.0.0", HostPort = "3000" },
            },
            ["53/udp"] = new List<PortBinding> { new() { HostIP = "", HostPort = "5353" } },
            ["8080/tcp"] = new List<PortBinding>(),
        };

        Assert.Equal(
            new[] { "0.0.0.0:5353->53/udp", "0.0.0.0:3000->3000/tcp", "[::]:3000->3000/tcp", "8080/tcp", "9229/tcp" },
            DockerContainerState.FormatPorts(ports));
        Assert.Empty(DockerContainerState.FormatPorts(null));
        Assert.Empty(DockerContainerState.FormatPorts(new Dictionary<string, IList<PortBinding>>()));
    }

    [Theory]
    [InlineData("2026-11-26T04:17:24.123456789Z", "2026-11-26T04:17:24.1234567+00:00")]
    [InlineData("2026-11-26T04:17:24Z", "2026-11-26T04:17:24.0000000+00:00")]
    [InlineData("2026-11-26T06:17:24.5+02:00", "2026-11-26T04:17:24.5000000+00:00")]
    public void Docker_times_parse_with_nanoseconds(string text, string expected)
    {
        Assert.Equal(DateTimeOffset.Parse(expected, System.Globalization.CultureInfo.InvariantCulture), DockerContainerState.ParseDockerTime(text));
    }

    [Theory]
    [InlineData("0001-01-01T00:00:00Z")]
    [InlineData("")]
    [InlineData(null)]
    [InlineData("yesterday")]
    public void The_zero_time_and_nonsense_are_no_time(string? text)
    {
        Assert.Null(DockerContainerState.ParseDockerTime(text));
    }

    [Fact]
    public void Since_is_sent_as_seconds_and_nanoseconds()
    {
        var time = DateTimeOffset.FromUnixTimeSeconds(1_700_000_000).AddTicks(1_234_567);
        Assert.Equal("1700000000.123456700", DockerContainerLog.UnixTimestamp(time));
        Assert.Equal("0.000000000", DockerContainerLog.UnixTimestamp(DateTimeOffset.FromUnixTimeSeconds(0)));
    }

    [Fact]
    public async Task Log_frames_are_demultiplexed_into_whole_lines_per_stream()
    {
        // Frames split lines (and a UTF-8 character) across frames and interleave stdout and stderr.
        var euro = Encoding.UTF8.GetBytes("€");
        var raw = new MemoryStream();
        Frame(raw, 1, Encoding.UTF8.GetBytes("T1 INFO Starting yieldvault-backend\nT2 INFO Server sta"));
        Frame(raw, 2, Encoding.UTF8.GetBytes("T3 ERROR Database connection failed\r\n"));
        Frame(raw, 1, Encoding.UTF8.GetBytes("rted on port 3000 "));
        Frame(raw, 1, euro.Take(1).ToArray());
        Frame(raw, 1, euro.Skip(1).Concat(Encoding.UTF8.GetBytes("\nT4 WARN last line without newline")).ToArray());
        raw.Position = 0;

        using var stream = new MultiplexedStream(raw, true);
        var lines = await DockerContainerLog.ReadLinesAsync(stream, 100, CancellationToken.None);

        Assert.Equal(new[]
        {
            "T1 INFO Starting yieldvault-backend",
            "T3 ERROR Database connection failed",
            "T2 INFO Server started on port 3000 €",
            "T4 WARN last line without newline",
        }, lines);
    }

    [Fact]
    public async Task Only_the_last_lines_are_kept()
    {
        var raw = new MemoryStream();
        Frame(raw, 1, Encoding.UTF8.GetBytes(string.Concat(Enumerable.Range(1, 50).Select(i => $"line {i}\n"))));
        raw.Position = 0;
        using var stream = new MultiplexedStream(raw, true);
        var lines = await DockerContainerLog.ReadLinesAsync(stream, 3, CancellationToken.None);
        Assert.Equal(new[] { "line 48", "line 49", "line 50" }, lines);
    }

    [Fact]
    public async Task A_tty_log_is_one_raw_stream()
    {
        var raw = new MemoryStream(Encoding.UTF8.GetBytes("a\r\nb\n"));
        using var stream = new MultiplexedStream(raw, false);
        Assert.Equal(new[] { "a", "b" }, await DockerContainerLog.ReadLinesAsync(stream, 10, CancellationToken.None));
    }

    [Fact]
    public async Task A_missing_socket_is_DockerUnreachable()
    {
        var target = new VaultTarget { Name = "d1", ServiceManager = ServiceManagerKind.Docker, DockerHost = "unix:///tmp/yv-no-such-dir/docker.sock" };
        using var shell = new YieldVault.Ops.Hosts.LocalShell();
        var manager = new DockerServiceManager(target, shell);

        var ex = await Assert.ThrowsAsync<VaultException>(() => manager.GetStateAsync(CancellationToken.None));

        Assert.Equal("DockerUnreachable", ex.ErrorId);
        Assert.Equal(VaultErrorKind.ConnectionError, ex.Kind);
        Assert.Contains("unix:///tmp/yv-no-such-dir/docker.sock", ex.Message, StringComparison.Ordinal);
        Assert.NotNull(ex.RecommendedAction);
    }

    [Fact]
    public async Task A_negative_tail_or_timeout_is_refused_before_connecting()
    {
        var target = new VaultTarget { Name = "d1", ServiceManager = ServiceManagerKind.Docker, DockerHost = "unix:///tmp/yv-no-such-dir/docker.sock" };
        using var shell = new YieldVault.Ops.Hosts.LocalShell();
        var manager = new DockerServiceManager(target, shell);
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => manager.ReadLogAsync(0, null, CancellationToken.None));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => manager.StopAsync(TimeSpan.FromSeconds(-1), CancellationToken.None));
    }

    private static void Frame(Stream stream, byte kind, byte[] payload)
    {
        stream.Write(new byte[] { kind, 0, 0, 0, (byte)(payload.Length >> 24), (byte)(payload.Length >> 16), (byte)(payload.Length >> 8), (byte)payload.Length });
        stream.Write(payload);
    }
}
