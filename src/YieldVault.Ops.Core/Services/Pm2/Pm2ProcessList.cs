using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;

namespace YieldVault.Ops.Services;

/// <summary>The process list of one PM2 daemon, parsed from "pm2 jlist".</summary>
internal sealed class Pm2ProcessList
{
    /// <summary>How long a process PM2 restarted by itself counts as part of a crash loop.</summary>
    public static readonly TimeSpan CrashLoopWindow = TimeSpan.FromSeconds(10);

    private Pm2ProcessList(bool daemonRunning, IReadOnlyList<Pm2Process> processes)
    {
        DaemonRunning = daemonRunning;
        Processes = processes;
    }

    public bool DaemonRunning { get; }

    public IReadOnlyList<Pm2Process> Processes { get; }

    public IReadOnlyList<Pm2Process> Find(string name) =>
        Processes.Where(p => string.Equals(p.Name, name, StringComparison.Ordinal)).OrderBy(p => p.PmId).ToList();

    /// <summary>
    /// Finds the JSON array in pm2's output. PM2 prints its banner, "[PM2] Spawning PM2 daemon ..." and similar
    /// lines (some starting with '[') before it; the array itself is one line (JSON.stringify).
    /// </summary>
    public static Pm2ProcessList Parse(string output, string where)
    {
        if (output.Contains(Pm2ServiceManager.NoDaemonMarker))
        {
            return new Pm2ProcessList(false, Array.Empty<Pm2Process>());
        }

        var lines = output.Replace("\r", "").Split('\n');
        for (var i = lines.Length - 1; i >= 0; i--)
        {
            var line = Pm2Output.StripAnsi(lines[i]).Trim();
            foreach (var start in Candidates(line))
            {
                if (TryParseArray(line.Substring(start)) is not { } array || array.Any(t => t.Type != JTokenType.Object))
                {
                    continue;
                }

                return new Pm2ProcessList(true, array.Cast<JObject>().Select(ReadProcess).ToList());
            }
        }

        // Never quote JSON-looking lines: pm2_env carries the app's whole environment.
        var said = lines.Select(l => Pm2Output.StripAnsi(l).Trim())
            .Where(l => l.Length > 0 && !l.StartsWith("[{", StringComparison.Ordinal) && !l.StartsWith("{", StringComparison.Ordinal))
            .Select(l => l.Length > 200 ? l.Substring(0, 200) + "..." : l)
            .Take(3)
            .ToList();
        throw new VaultException(ErrorIds.ServiceManagerOutputInvalid, VaultErrorKind.InvalidData,
            $"pm2 jlist on {where} printed no JSON process list" + (said.Count > 0 ? ": " + string.Join(" / ", said) : "."),
            "Run 'pm2 jlist' on the host as the same user to see what PM2 prints.");
    }

    private static JArray? TryParseArray(string text)
    {
        // Strings stay strings (no date guessing); text after the array means this was not the array.
        using var reader = new JsonTextReader(new System.IO.StringReader(text)) { DateParseHandling = DateParseHandling.None };
        try
        {
            var array = JArray.Load(reader);
            return reader.Read() ? null : array;
        }
        catch (JsonReaderException)
        {
            return null;
        }
    }

    /// <summary>Where a JSON array may start in a line: the line itself, or a "[{" / "[]" after other text.</summary>
    private static IEnumerable<int> Candidates(string line)
    {
        if (line.StartsWith("[", StringComparison.Ordinal))
        {
            yield return 0;
        }

        foreach (var token in new[] { "[{", "[]" })
        {
            var at = line.Length > 1 ? line.IndexOf(token, 1, StringComparison.Ordinal) : -1;
            if (at > 0)
            {
                yield return at;
            }
        }
    }

    private static Pm2Process ReadProcess(JObject item)
    {
        var env = item["pm2_env"] as JObject ?? new JObject();
        var monit = item["monit"] as JObject;
        var raw = AsString(env["status"]) ?? "";
        return new Pm2Process
        {
            Name = AsString(item["name"]) ?? AsString(env["name"]) ?? "",
            PmId = (int)(AsLong(item["pm_id"]) ?? AsLong(env["pm_id"]) ?? 0),
            Pid = (int?)AsLong(item["pid"]),
            RawStatus = raw,
            Status = ParseStatus(raw),
            RestartTime = (int)(AsLong(env["restart_time"]) ?? 0),
            UnstableRestarts = (int)(AsLong(env["unstable_restarts"]) ?? 0),
            PmUptimeMs = AsLong(env["pm_uptime"]),
            ExitCode = (int?)AsLong(env["exit_code"]),
            MemoryBytes = AsLong(monit?["memory"]),
            Cpu = AsDouble(monit?["cpu"]),
            HeapUsedBytes = HeapUsed(env["axm_monitor"]?["Used Heap Size"]?["value"]),
            OutLogPath = AsString(env["pm_out_log_path"]),
            ErrorLogPath = AsString(env["pm_err_log_path"]),
            KillTimeoutMs = (int?)AsLong(env["kill_timeout"]),
            Cwd = AsString(env["pm_cwd"]),
            ExecPath = AsString(env["pm_exec_path"]),
        };
    }

    internal static Pm2Status ParseStatus(string raw) => raw switch
    {
        "online" => Pm2Status.Online,
        "stopped" => Pm2Status.Stopped,
        "stopping" => Pm2Status.Stopping,
        "launching" => Pm2Status.Launching,
        "waiting restart" => Pm2Status.WaitingRestart,
        "errored" => Pm2Status.Errored,
        "one-launch-status" => Pm2Status.OneLaunch,
        _ => Pm2Status.Unknown,
    };

    /// <summary>The reading for one app; several instances (cluster mode) report the most severe status.</summary>
    public static ServiceState ToState(string name, Pm2ProcessList list, DateTimeOffset now)
    {
        var app = list.Find(name);
        if (app.Count == 0)
        {
            return new ServiceState
            {
                Manager = ServiceManagerKind.Pm2,
                ServiceName = name,
                Status = ServiceStatus.NotFound,
                Detail = list.DaemonRunning ? "not in the PM2 process list" : "PM2 daemon not running",
            };
        }

        var statuses = app.Select(p => Map(p, now)).ToList();
        var status = statuses.OrderByDescending(Severity).First();
        var live = app.Where(p => p.IsLive).ToList();
        var rawStatuses = app.Select(p => p.RawStatus).Distinct(StringComparer.Ordinal).ToList();
        return new ServiceState
        {
            Manager = ServiceManagerKind.Pm2,
            ServiceName = name,
            Status = status,
            Pid = live.Count > 0 ? live[0].Pid : null,
            StartedAt = live.Count > 0 ? live.Min(p => p.StartedAt) : null,
            Restarts = app.Sum(p => p.RestartTime),
            MemoryBytes = live.Count > 0 ? live.Sum(p => p.MemoryBytes ?? 0) : null,
            CpuPercent = live.Count > 0 ? live.Sum(p => p.Cpu ?? 0) : null,
            HeapUsedBytes = live.Any(p => p.HeapUsedBytes is not null) ? live.Sum(p => p.HeapUsedBytes ?? 0) : null,
            Detail = rawStatuses.Count == 1 ? rawStatuses[0] : string.Join(", ", app.Select(p => p.RawStatus)),
        };
    }

    internal static ServiceStatus Map(Pm2Process process, DateTimeOffset now) => process.Status switch
    {
        Pm2Status.Online => RestartedByPm2Recently(process, now) ? ServiceStatus.CrashLooping : ServiceStatus.Running,
        Pm2Status.Launching => RestartedByPm2Recently(process, now) ? ServiceStatus.CrashLooping : ServiceStatus.Starting,
        Pm2Status.WaitingRestart => ServiceStatus.CrashLooping,
        Pm2Status.Errored => ServiceStatus.Failed,
        // PM2 zeroes the pid of a process it stops on purpose; a stopped entry that keeps its (dead) pid is
        // the moment between an exit and PM2's own restart of it.
        Pm2Status.Stopped when process.Pid is > 0 => CrashedBefore(process) ? ServiceStatus.CrashLooping : ServiceStatus.Starting,
        Pm2Status.Stopped => ServiceStatus.Stopped,
        Pm2Status.Stopping => ServiceStatus.Stopping,
        _ => ServiceStatus.Unknown,
    };

    private static bool RestartedByPm2Recently(Pm2Process process, DateTimeOffset now) =>
        process.StartedAt is { } started && now - started < CrashLoopWindow && CrashedBefore(process);

    /// <summary>
    /// PM2 counted an unstable restart (an exit within min_uptime since the last start by hand, which resets the
    /// count), or restarted it after a non-zero exit.
    /// </summary>
    private static bool CrashedBefore(Pm2Process process) =>
        process.UnstableRestarts > 0 || (process.RestartTime > 0 && process.ExitCode is { } code && code != 0);

    private static int Severity(ServiceStatus status) => status switch
    {
        ServiceStatus.CrashLooping => 7,
        ServiceStatus.Failed => 6,
        ServiceStatus.Unknown => 5,
        ServiceStatus.Stopping => 4,
        ServiceStatus.Starting => 3,
        ServiceStatus.Stopped => 2,
        ServiceStatus.Running => 1,
        _ => 0,
    };

    private static string? AsString(JToken? token) => token?.Type == JTokenType.String ? (string?)token : null;

    private static long? AsLong(JToken? token) => token?.Type switch
    {
        JTokenType.Integer => (long)token,
        JTokenType.Float => (long)(double)token,
        JTokenType.String when long.TryParse((string?)token, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) => value,
        _ => null,
    };

    private static double? AsDouble(JToken? token) => token?.Type is JTokenType.Integer or JTokenType.Float ? (double)token : null;

    // PM2 reports the heap in MiB, as a number or as text ("9.43").
    private static long? HeapUsed(JToken? mib) =>
        (AsDouble(mib) ?? (mib?.Type == JTokenType.String && double.TryParse((string?)mib, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v : null)) is { } value
            ? (long)(value * 1048576)
            : null;
}
