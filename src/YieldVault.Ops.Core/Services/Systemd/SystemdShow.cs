using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text.RegularExpressions;
using YieldVault.Ops.Hosts;

namespace YieldVault.Ops.Services;

/// <summary>Reads what systemctl and journalctl print.</summary>
internal static class SystemdShow
{
    private static readonly Regex Timestamp = new(
        @"^(?:[A-Za-z]{3} )?(?<time>\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(?:\.\d{1,6})?)(?: (?<zone>\S+))?$",
        RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));

    private static readonly Regex NumericZone = new(@"^(?:UTC|GMT)?(?<sign>[+-])(?<h>\d{2}):?(?<m>\d{2})$", RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));

    private static readonly string[] TimeFormats = { "yyyy-MM-dd HH:mm:ss", "yyyy-MM-dd HH:mm:ss.FFFFFF" };

    /// <summary>"Key=Value" lines of <c>systemctl show</c>; systemd prints them in its own order.</summary>
    public static IReadOnlyDictionary<string, string> ParseProperties(string output)
    {
        var properties = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in output.Replace("\r", "").Split('\n'))
        {
            var equals = line.IndexOf('=');
            if (equals > 0)
            {
                properties[line.Substring(0, equals)] = line.Substring(equals + 1);
            }
        }

        return properties;
    }

    /// <summary>One reading of the unit. <paramref name="now"/> is only used for the average CPU of the process.</summary>
    public static ServiceState ToState(string unit, IReadOnlyDictionary<string, string> properties, DateTimeOffset now)
    {
        var load = Get(properties, "LoadState");
        var active = Get(properties, "ActiveState");
        var sub = Get(properties, "SubState");
        var result = Get(properties, "Result");
        var restarts = Integer(Get(properties, "NRestarts"));
        var pid = Integer(Get(properties, "MainPID")) is { } p and > 0 ? p : (int?)null;
        var status = MapStatus(load, active, sub, restarts);

        // ExecMainStartTimestamp stays set after the process has gone; it is only the start time of a live process.
        var startedAt = pid is null ? null : ParseTimestamp(Get(properties, "ExecMainStartTimestamp"));
        var memory = UnsignedOrNull(Get(properties, "MemoryCurrent"));
        double? cpu = null;
        if (status == ServiceStatus.Running && startedAt is { } started && UnsignedOrNull(Get(properties, "CPUUsageNSec")) is { } nanoseconds)
        {
            // systemd keeps the CPU time, not a rate: the average since the start, like ps' %CPU.
            var elapsed = (now - started).TotalSeconds;
            if (elapsed >= 1)
            {
                cpu = Math.Round(nanoseconds / 1e9 / elapsed * 100, 1);
            }
        }

        return new ServiceState
        {
            Manager = ServiceManagerKind.Systemd,
            ServiceName = unit,
            Status = status,
            Pid = pid,
            StartedAt = startedAt,
            Restarts = restarts,
            MemoryBytes = memory,
            CpuPercent = cpu,
            Detail = Describe(load, active, sub, result, Integer(Get(properties, "ExecMainStatus"))),
        };
    }

    public static ServiceStatus MapStatus(string? load, string? active, string? sub, int? restarts)
    {
        // A unit whose file was removed while it runs is "not-found" but still active: what runs counts.
        if (load == "not-found" && active is null or "" or "inactive")
        {
            return ServiceStatus.NotFound;
        }

        return active switch
        {
            "active" or "reloading" or "refreshing" => ServiceStatus.Running,
            "inactive" => ServiceStatus.Stopped,
            "failed" => ServiceStatus.Failed,
            "deactivating" => ServiceStatus.Stopping,

            // auto-restart: waiting RestartSec before the next try. NRestarts is reset by every start someone
            // asked for, so a start phase with restarts counted is systemd's own restart after a crash.
            "activating" when sub is not null && sub.StartsWith("auto-restart", StringComparison.Ordinal) => ServiceStatus.CrashLooping,
            "activating" when restarts > 0 => ServiceStatus.CrashLooping,
            "activating" => ServiceStatus.Starting,
            _ => ServiceStatus.Unknown,
        };
    }

    /// <summary>The words of systemctl status' "Active:" line: "failed (Result: exit-code)", "activating (auto-restart)".</summary>
    public static string? Describe(string? load, string? active, string? sub, string? result, int? exitStatus)
    {
        if (load == "not-found" && active is null or "" or "inactive")
        {
            return "not-found (no unit file)";
        }

        if (string.IsNullOrEmpty(active))
        {
            return string.IsNullOrEmpty(load) ? null : load;
        }

        var text = string.IsNullOrEmpty(sub) || sub == active ? active! : $"{active} ({sub})";
        if (!string.IsNullOrEmpty(result) && result != "success")
        {
            text += $" (Result: {result})";
            if (exitStatus is { } code and not 0)
            {
                text += $", status={code.ToString(CultureInfo.InvariantCulture)}";
            }
        }

        if (load is "masked")
        {
            text += ", masked";
        }

        return text;
    }

    /// <summary>systemd's "Thu 2026-11-26 04:00:00 UTC"; null when empty, "n/a" or in a zone given only by name.</summary>
    public static DateTimeOffset? ParseTimestamp(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }

        var match = Timestamp.Match(text!.Trim());
        if (!match.Success
            || !DateTime.TryParseExact(match.Groups["time"].Value, TimeFormats, CultureInfo.InvariantCulture, DateTimeStyles.None, out var local))
        {
            return null;
        }

        var zone = match.Groups["zone"].Success ? match.Groups["zone"].Value : "UTC";
        TimeSpan offset;
        if (zone is "UTC" or "GMT" or "Z" or "UCT")
        {
            offset = TimeSpan.Zero;
        }
        else if (NumericZone.Match(zone) is { Success: true } numeric)
        {
            offset = new TimeSpan(int.Parse(numeric.Groups["h"].Value, CultureInfo.InvariantCulture), int.Parse(numeric.Groups["m"].Value, CultureInfo.InvariantCulture), 0);
            if (numeric.Groups["sign"].Value == "-")
            {
                offset = offset.Negate();
            }
        }
        else
        {
            // "CET" or "EST": an abbreviation names no single offset. GetStateAsync asks for UTC so this does not happen.
            return null;
        }

        return new DateTimeOffset(DateTime.SpecifyKind(local, DateTimeKind.Unspecified), offset);
    }

    /// <summary>journalctl's lines without its own markers ("-- No entries --", "-- Boot ... --").</summary>
    public static IReadOnlyList<string> JournalLines(string output) =>
        output.Replace("\r", "").Split('\n')
            .Where(l => l.Length > 0 && !(l.StartsWith("-- ", StringComparison.Ordinal) && l.EndsWith(" --", StringComparison.Ordinal)))
            .ToList();

    /// <summary>"Job for x.service failed because ...": systemd ran the job and it failed (start limit, exit code).</summary>
    public static bool IsFailedJob(CommandResult result) =>
        result.ExitCode == 1 && result.StandardError.IndexOf("Job for ", StringComparison.Ordinal) >= 0;

    public static bool IsBusUnavailable(string text) =>
        text.IndexOf("has not been booted with systemd", StringComparison.Ordinal) >= 0
        || text.IndexOf("Failed to connect to bus", StringComparison.Ordinal) >= 0
        || text.IndexOf("Failed to get D-Bus connection", StringComparison.Ordinal) >= 0;

    private static string? Get(IReadOnlyDictionary<string, string> properties, string key) =>
        properties.TryGetValue(key, out var value) ? value.Trim() : null;

    private static int? Integer(string? text) =>
        int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) ? value : null;

    // "[not set]" (systemd 252) or UINT64_MAX (older) when accounting is off.
    private static long? UnsignedOrNull(string? text) =>
        ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value < long.MaxValue ? (long)value : null;
}
