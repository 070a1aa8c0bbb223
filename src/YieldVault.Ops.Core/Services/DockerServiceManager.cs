using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using Docker.DotNet;
using Docker.DotNet.Models;
using YieldVault.Ops.Hosts;

namespace YieldVault.Ops.Services;

/// <summary>
/// The backend as a Docker container named <see cref="VaultTarget.ServiceName"/>, driven through the engine's API
/// (Docker.DotNet) over the target's Unix socket, TCP, or its SSH connection (<c>docker system dial-stdio</c>).
/// Every call opens its own engine connection and closes it again; nothing is kept between calls.
/// </summary>
public sealed class DockerServiceManager : IServiceManager
{
    // Bounds for single engine requests. Stop and restart add the container's own grace period.
    internal static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(30);
    internal static readonly TimeSpan StatsTimeout = TimeSpan.FromSeconds(5);
    internal static readonly TimeSpan LogTimeout = TimeSpan.FromSeconds(30);

    /// <summary>Grace period of <see cref="RestartAsync"/> before the engine kills the old process.</summary>
    internal const int RestartGraceSeconds = 30;

    private readonly VaultTarget _target;
    private readonly IHostShell _shell;

    private readonly bool _sampleResources;

    public DockerServiceManager(VaultTarget target, IHostShell shell)
        : this(target, shell, sampleResources: true)
    {
    }

    /// <param name="sampleResources">
    /// Read CPU and memory with each state (the engine waits about a second for a second sample, so the
    /// deployment's many state reads leave it off).
    /// </param>
    public DockerServiceManager(VaultTarget target, IHostShell shell, bool sampleResources)
    {
        _target = target ?? throw new ArgumentNullException(nameof(target));
        _shell = shell ?? throw new ArgumentNullException(nameof(shell));
        _sampleResources = sampleResources;
    }

    public ServiceManagerKind Kind => ServiceManagerKind.Docker;

    private string Container => _target.ServiceName;

    public async Task<ServiceState> GetStateAsync(CancellationToken cancellationToken)
    {
        using var engine = DockerEngine.Open(_target, _shell);
        ContainerInspectResponse inspect;
        try
        {
            inspect = await engine.CallAsync("inspect the container", Container, RequestTimeout,
                (client, token) => client.Containers.InspectContainerAsync(Container, token), cancellationToken).ConfigureAwait(false);
        }
        catch (VaultException ex) when (ex.ErrorId == "ContainerNotFound")
        {
            return new ServiceState
            {
                Manager = ServiceManagerKind.Docker,
                ServiceName = Container,
                Status = ServiceStatus.NotFound,
                Detail = $"no container named '{Container}' on {engine.Description}",
            };
        }

        ContainerStatsResponse? stats = null;
        if (_sampleResources && inspect.State?.Running == true && inspect.State.Restarting != true)
        {
            stats = await ReadStatsAsync(engine, cancellationToken).ConfigureAwait(false);
        }

        return ToServiceState(Container, inspect, stats);
    }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        using var engine = DockerEngine.Open(_target, _shell);

        // false means "already running" (HTTP 304): nothing to do.
        await engine.CallAsync("start the container", Container, RequestTimeout,
            (client, token) => client.Containers.StartContainerAsync(Container, new ContainerStartParameters(), token), cancellationToken).ConfigureAwait(false);
    }

    public async Task StopAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        var grace = GraceSeconds(timeout);
        using var engine = DockerEngine.Open(_target, _shell);

        // The engine sends the stop signal, waits the grace period, then kills; the request returns when the
        // container has stopped. false means it was not running.
        await engine.CallAsync("stop the container", Container, TimeSpan.FromSeconds(grace) + RequestTimeout,
            (client, token) => client.Containers.StopContainerAsync(Container, new ContainerStopParameters { WaitBeforeKillSeconds = grace }, token),
            cancellationToken).ConfigureAwait(false);
    }

    public async Task KillAsync(CancellationToken cancellationToken)
    {
        using var engine = DockerEngine.Open(_target, _shell);
        try
        {
            await engine.CallAsync("kill the container", Container, RequestTimeout,
                (client, token) => client.Containers.KillContainerAsync(Container, new ContainerKillParameters { Signal = "SIGKILL" }, token),
                cancellationToken).ConfigureAwait(false);
        }
        catch (VaultException ex) when (ex.InnerException is DockerApiException { StatusCode: System.Net.HttpStatusCode.Conflict } api
            && DockerEngine.EngineMessage(api.ResponseBody).IndexOf("is not running", StringComparison.OrdinalIgnoreCase) >= 0)
        {
            // Nothing left to kill.
        }
    }

    public async Task RestartAsync(CancellationToken cancellationToken)
    {
        using var engine = DockerEngine.Open(_target, _shell);
        await engine.CallAsync("restart the container", Container, TimeSpan.FromSeconds(RestartGraceSeconds) + RequestTimeout,
            (client, token) => client.Containers.RestartContainerAsync(Container, new ContainerRestartParameters { WaitBeforeKillSeconds = RestartGraceSeconds }, token),
            cancellationToken).ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<string>> ReadLogAsync(int tail, DateTimeOffset? since, CancellationToken cancellationToken)
    {
        if (tail < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(tail), tail, "At least one line.");
        }

        using var engine = DockerEngine.Open(_target, _shell);

        // The log stream is framed (stdout/stderr) unless the container has a TTY.
        var inspect = await engine.CallAsync("inspect the container", Container, RequestTimeout,
            (client, token) => client.Containers.InspectContainerAsync(Container, token), cancellationToken).ConfigureAwait(false);
        var tty = inspect.Config?.Tty == true;
        var parameters = new ContainerLogsParameters
        {
            ShowStdout = true,
            ShowStderr = true,
            Timestamps = true,
            Tail = tail.ToString(CultureInfo.InvariantCulture),
            Since = since is { } from ? UnixTimestamp(from) : null,
        };

        return await engine.CallAsync<IReadOnlyList<string>>("read the container's log", Container, LogTimeout, async (client, token) =>
        {
            using var stream = await client.Containers.GetContainerLogsAsync(Container, tty, parameters, token).ConfigureAwait(false);
            return await ReadLinesAsync(stream, tail, token).ConfigureAwait(false);
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>One reading of the service from an inspect result and, when running, one stats sample.</summary>
    internal static ServiceState ToServiceState(string name, ContainerInspectResponse inspect, ContainerStatsResponse? stats)
    {
        var state = inspect.State;
        var status = StatusOf(state, inspect.HostConfig?.RestartPolicy, inspect.RestartCount);
        var running = status == ServiceStatus.Running;
        return new ServiceState
        {
            Manager = ServiceManagerKind.Docker,
            ServiceName = name,
            Status = status,
            Pid = state is { Pid: > 0 } && state.Running ? (int)state.Pid : null,
            StartedAt = ParseDockerTime(state?.StartedAt),
            Restarts = (int)Math.Min(inspect.RestartCount, int.MaxValue),
            MemoryBytes = running ? MemoryOf(stats) : null,
            CpuPercent = running ? CpuPercentOf(stats) : null,
            Image = string.IsNullOrEmpty(inspect.Config?.Image) ? inspect.Image : inspect.Config!.Image,
            ContainerHealth = string.IsNullOrEmpty(state?.Health?.Status) ? null : state!.Health.Status,
            Ports = FormatPorts(inspect.NetworkSettings?.Ports),
            Detail = DetailOf(state, inspect.HostConfig?.RestartPolicy),
        };
    }

    /// <summary>
    /// Docker's state in the runbook's words. running -> Running; created, paused -> Stopped; restarting ->
    /// CrashLooping; dead -> Failed; removing -> Stopping. An exited container is Stopped when it ended cleanly or
    /// by a stop/kill signal (exit 0, 130, 137, 143 without OOM); otherwise it is CrashLooping when its restart
    /// policy keeps restarting it (always, unless-stopped, on-failure with retries left) and Failed when not.
    /// </summary>
    internal static ServiceStatus StatusOf(ContainerState? state, RestartPolicy? policy, long restartCount)
    {
        if (state is null)
        {
            return ServiceStatus.Unknown;
        }

        if (state.Restarting)
        {
            return ServiceStatus.CrashLooping;
        }

        switch ((state.Status ?? "").ToLowerInvariant())
        {
            case "running":
                return state.Paused ? ServiceStatus.Stopped : ServiceStatus.Running;
            case "restarting":
                return ServiceStatus.CrashLooping;
            case "created":
            case "paused":
                return ServiceStatus.Stopped;
            case "removing":
                return ServiceStatus.Stopping;
            case "dead":
                return ServiceStatus.Failed;
            case "exited":
                if (EndedOnPurpose(state))
                {
                    return ServiceStatus.Stopped;
                }

                return KeepsRestarting(policy, restartCount) ? ServiceStatus.CrashLooping : ServiceStatus.Failed;
            default:
                return ServiceStatus.Unknown;
        }
    }

    /// <summary>Published ports as docker ps shows them: "127.0.0.1:32768->3000/tcp", "3000/tcp" when not published.</summary>
    internal static IReadOnlyList<string> FormatPorts(IDictionary<string, IList<PortBinding>>? ports)
    {
        if (ports is null || ports.Count == 0)
        {
            return Array.Empty<string>();
        }

        var result = new List<string>();
        foreach (var entry in ports.OrderBy(p => PortNumber(p.Key)).ThenBy(p => p.Key, StringComparer.Ordinal))
        {
            var bindings = entry.Value?.Where(b => b is not null).ToList();
            if (bindings is null || bindings.Count == 0)
            {
                result.Add(entry.Key);
                continue;
            }

            foreach (var binding in bindings)
            {
                var text = $"{FormatHostIp(binding.HostIP)}:{binding.HostPort}->{entry.Key}";
                if (!result.Contains(text))
                {
                    result.Add(text);
                }
            }
        }

        return result;
    }

    /// <summary>Docker's RFC 3339 times with nanoseconds; the zero time ("0001-01-01T00:00:00Z") is null.</summary>
    internal static DateTimeOffset? ParseDockerTime(string? text)
    {
        if (string.IsNullOrWhiteSpace(text) || text!.StartsWith("0001-01-01", StringComparison.Ordinal))
        {
            return null;
        }

        // .NET takes at most 7 fractional digits; Go writes up to 9.
        var trimmed = System.Text.RegularExpressions.Regex.Replace(text.Trim(), @"(\.\d{7})\d+", "$1", System.Text.RegularExpressions.RegexOptions.None, TimeSpan.FromSeconds(1));
        return DateTimeOffset.TryParse(trimmed, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var value)
            ? value
            : null;
    }

    /// <summary>CPU use over the sample like docker stats: share of the host's CPU time times the number of CPUs.</summary>
    internal static double? CpuPercentOf(ContainerStatsResponse? stats)
    {
        var now = stats?.CPUStats;
        var before = stats?.PreCPUStats;
        if (now?.CPUUsage is null || before?.CPUUsage is null || now.SystemUsage == 0 || before.SystemUsage == 0)
        {
            return null;
        }

        var cpuDelta = (double)now.CPUUsage.TotalUsage - before.CPUUsage.TotalUsage;
        var systemDelta = (double)now.SystemUsage - before.SystemUsage;
        if (systemDelta <= 0 || cpuDelta < 0)
        {
            return null;
        }

        var cpus = now.OnlineCPUs > 0 ? now.OnlineCPUs : (uint)(now.CPUUsage.PercpuUsage?.Count ?? 1);
        return Math.Round(cpuDelta / systemDelta * cpus * 100.0, 2);
    }

    /// <summary>Memory like docker stats: usage minus the inactive page cache (cgroup v1 and v2 names).</summary>
    internal static long? MemoryOf(ContainerStatsResponse? stats)
    {
        var memory = stats?.MemoryStats;
        if (memory is null || memory.Usage == 0)
        {
            return null;
        }

        ulong cache = 0;
        if (memory.Stats is { } detail)
        {
            foreach (var key in new[] { "total_inactive_file", "inactive_file" })
            {
                if (detail.TryGetValue(key, out var value))
                {
                    cache = value;
                    break;
                }
            }
        }

        var used = cache < memory.Usage ? memory.Usage - cache : memory.Usage;
        return (long)Math.Min(used, long.MaxValue);
    }

    internal static string DetailOf(ContainerState? state, RestartPolicy? policy)
    {
        if (state is null)
        {
            return "unknown";
        }

        var status = string.IsNullOrEmpty(state.Status) ? "unknown" : state.Status;
        var exit = state.ExitCode.ToString(CultureInfo.InvariantCulture);
        var text = status switch
        {
            "exited" => $"exited (code {exit}{(state.OOMKilled ? ", out of memory" : "")})",
            "restarting" => $"restarting (last exit code {exit}, restart policy {PolicyName(policy)})",
            "created" => "created (never started)",
            "dead" => $"dead (exit code {exit})",
            _ => status,
        };
        if (!string.IsNullOrWhiteSpace(state.Error))
        {
            text += ": " + state.Error.Trim();
        }

        return text;
    }

    /// <summary>Demultiplexes a log stream into lines, stdout and stderr each whole, in the order the engine sent them.</summary>
    internal static async Task<IReadOnlyList<string>> ReadLinesAsync(MultiplexedStream stream, int tail, CancellationToken cancellationToken)
    {
        var lines = new Queue<string>();
        var partial = new Dictionary<MultiplexedStream.TargetStream, (Decoder Decoder, StringBuilder Text)>();
        var buffer = new byte[16 * 1024];
        var chars = new char[Encoding.UTF8.GetMaxCharCount(buffer.Length)];

        void Add(string line)
        {
            lines.Enqueue(line.EndsWith("\r", StringComparison.Ordinal) ? line.Substring(0, line.Length - 1) : line);
            if (lines.Count > tail)
            {
                lines.Dequeue();
            }
        }

        while (true)
        {
            var result = await stream.ReadOutputAsync(buffer, 0, buffer.Length, cancellationToken).ConfigureAwait(false);
            if (result.EOF)
            {
                break;
            }

            if (result.Count == 0)
            {
                continue;
            }

            if (!partial.TryGetValue(result.Target, out var part))
            {
                part = (Encoding.UTF8.GetDecoder(), new StringBuilder());
                partial[result.Target] = part;
            }

            var count = part.Decoder.GetChars(buffer, 0, result.Count, chars, 0);
            for (var i = 0; i < count; i++)
            {
                if (chars[i] == '\n')
                {
                    Add(part.Text.ToString());
                    part.Text.Clear();
                }
                else
                {
                    part.Text.Append(chars[i]);
                }
            }
        }

        foreach (var part in partial.Values.Where(p => p.Text.Length > 0))
        {
            Add(part.Text.ToString());
        }

        return lines.ToArray();
    }

    internal static string UnixTimestamp(DateTimeOffset time)
    {
        var ticks = time.UtcTicks - DateTimeOffset.FromUnixTimeSeconds(0).UtcTicks;
        var seconds = Math.DivRem(ticks, TimeSpan.TicksPerSecond, out var rest);
        return seconds.ToString(CultureInfo.InvariantCulture) + "." + (rest * 100).ToString("000000000", CultureInfo.InvariantCulture);
    }

    private async Task<ContainerStatsResponse?> ReadStatsAsync(DockerEngine engine, CancellationToken cancellationToken)
    {
        // One sample pair (stream=false): the engine waits for a second reading so CPU use can be computed.
        // Resource figures are a bonus: a slow or failing stats call leaves them empty instead of failing the reading.
        var capture = new StatsCapture();
        try
        {
            await engine.CallAsync("report the container's resource use", null, StatsTimeout,
                (client, token) => client.Containers.GetContainerStatsAsync(Container, new ContainerStatsParameters { Stream = false }, capture, token),
                cancellationToken).ConfigureAwait(false);
        }
        catch (VaultException ex) when (ex.ErrorId is "DockerTimeout" or "DockerRequestFailed")
        {
            Reporting.Current.Verbose($"No resource figures for the container: {ex.Message}");
        }

        return capture.Value;
    }

    private static bool EndedOnPurpose(ContainerState state) =>
        !state.OOMKilled && state.ExitCode is 0 or 130 or 137 or 143;

    private static bool KeepsRestarting(RestartPolicy? policy, long restartCount) => policy?.Name switch
    {
        RestartPolicyKind.Always or RestartPolicyKind.UnlessStopped => true,
        RestartPolicyKind.OnFailure => policy.MaximumRetryCount <= 0 || restartCount < policy.MaximumRetryCount,
        _ => false,
    };

    private static string PolicyName(RestartPolicy? policy) => policy?.Name switch
    {
        RestartPolicyKind.Always => "always",
        RestartPolicyKind.UnlessStopped => "unless-stopped",
        RestartPolicyKind.OnFailure => policy.MaximumRetryCount > 0
            ? "on-failure:" + policy.MaximumRetryCount.ToString(CultureInfo.InvariantCulture)
            : "on-failure",
        _ => "no",
    };

    private static string FormatHostIp(string? ip) => ip switch
    {
        null or "" => "0.0.0.0",
        _ when ip.IndexOf(':') >= 0 => "[" + ip + "]",
        _ => ip,
    };

    private static int PortNumber(string key)
    {
        var slash = key.IndexOf('/');
        return int.TryParse(slash < 0 ? key : key.Substring(0, slash), NumberStyles.None, CultureInfo.InvariantCulture, out var port) ? port : int.MaxValue;
    }

    private static uint GraceSeconds(TimeSpan timeout)
    {
        if (timeout < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(timeout), timeout, "The stop timeout cannot be negative.");
        }

        return (uint)Math.Min(Math.Ceiling(timeout.TotalSeconds), 3600);
    }

    private sealed class StatsCapture : IProgress<ContainerStatsResponse>
    {
        public ContainerStatsResponse? Value { get; private set; }

        public void Report(ContainerStatsResponse value) => Value = value;
    }
}
