using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using Docker.DotNet.Models;

namespace YieldVault.Ops.Services;

/// <summary>
/// A container's state in the runbook's words (<see cref="ServiceState"/>), from the engine's inspect result and
/// one stats sample, with the figures docker ps and docker stats show.
/// </summary>
internal static class DockerContainerState
{
    /// <summary>One reading of the service from an inspect result and, when running, one stats sample.</summary>
    public static ServiceState ToServiceState(string name, ContainerInspectResponse inspect, ContainerStatsResponse? stats)
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
    public static ServiceStatus StatusOf(ContainerState? state, RestartPolicy? policy, long restartCount)
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
    public static IReadOnlyList<string> FormatPorts(IDictionary<string, IList<PortBinding>>? ports)
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
    public static DateTimeOffset? ParseDockerTime(string? text)
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
    public static double? CpuPercentOf(ContainerStatsResponse? stats)
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
    public static long? MemoryOf(ContainerStatsResponse? stats)
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

    public static string DetailOf(ContainerState? state, RestartPolicy? policy)
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
}
