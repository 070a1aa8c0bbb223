using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text.RegularExpressions;
using System.Threading;
using System.Threading.Tasks;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;
using YieldVault.Ops.Hosts;

namespace YieldVault.Ops.Services;

/// <summary>
/// The backend as a PM2 app (runbook 1.1, 3.1, 6.1 and 7.x "If using PM2"). Every pm2 command runs with
/// <c>PM2_HOME</c> set to <see cref="VaultTarget.Pm2Home"/> when the target has one, so it talks to the
/// daemon that runs the backend; the app is <see cref="VaultTarget.ServiceName"/>.
/// </summary>
/// <remarks>
/// <para>State mapping (pm2 jlist, pm2_env.status): online → Running; stopped → Stopped; stopping → Stopping;
/// launching → Starting; errored → Failed (PM2 gave up after max_restarts unstable restarts, or could not
/// stop the process, and will not start it again by itself); an app PM2 does not list → NotFound. Detail
/// is PM2's own status word.</para>
/// <para>Crash-loop rule: CrashLooping while PM2 is restarting the app by itself after it died, i.e.
/// (1) "waiting restart" (it exited and PM2 starts it again after restart_delay or its back-off; with a delay
/// PM2 seldom reaches "errored", so this loop can last forever); (2) "online" or "launching" while the current
/// process is younger than 10 s and PM2 saw it crash before: unstable_restarts above zero (exits within
/// min_uptime since the last start by hand, which resets the count) or a restart after a non-zero exit code;
/// (3) "stopped" with the dead process' pid still set, the instant between such an exit and the restart (PM2
/// zeroes the pid of a process it stops on purpose). A process that outlives the 10 s is Running whatever
/// its history; a loop PM2 gave up on is Failed ("errored", Restarts shows how many times it tried).</para>
/// <para>Reading the state never starts a PM2 daemon (pm2 jlist would spawn one and print its banner and
/// spawn messages before the JSON): when no daemon runs for the PM2_HOME the app is NotFound with Detail
/// "PM2 daemon not running".</para>
/// </remarks>
public sealed class Pm2ServiceManager : IServiceManager
{
    internal const string NotInstalledMarker = "yv-pm2-not-installed";
    internal const string NoDaemonMarker = "yv-pm2-no-daemon";

    private static readonly TimeSpan QueryTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan ActionTimeout = TimeSpan.FromSeconds(60);

    // Runs jlist only when the daemon of this PM2_HOME is alive (PM2 resolves its home the same way).
    private const string JlistScript =
        "command -v pm2 >/dev/null 2>&1 || { echo " + NotInstalledMarker + "; exit 127; }\n" +
        "home=${PM2_HOME:-$HOME/.pm2}\n" +
        "pid=$(cat \"$home/pm2.pid\" 2>/dev/null) || pid=''\n" +
        "case $pid in ''|*[!0-9]*) echo " + NoDaemonMarker + "; exit 0;; esac\n" +
        "if kill -0 \"$pid\" 2>/dev/null || [ -d \"/proc/$pid\" ]; then exec pm2 jlist; fi\n" +
        "echo " + NoDaemonMarker + "\n";

    // $1 = AppPath. Prints the start files that exist there.
    private const string ProbeAppScript =
        "cd \"$1\" 2>/dev/null || exit 3\n" +
        "for f in ecosystem.config.js ecosystem.config.cjs dist/index.js; do [ -f \"$f\" ] && echo \"$f\"; done\n" +
        "exit 0\n";

    // pm2 save writes $PM2_HOME/dump.pm2; skip it (exit 10) when that is not ours to write.
    private const string SaveScript =
        "home=${PM2_HOME:-$HOME/.pm2}\n" +
        "[ -w \"$home\" ] || exit 10\n" +
        "exec pm2 save\n";

    // $1 = lines, $2 = marker, $3 = app name, $4... = log files (none: PM2's default paths). Prints the host's
    // UTC offset (PM2's --time prefix is local time), then each file's tail after a marker line.
    private const string LogScript =
        "n=$1; mark=$2; name=$3; shift 3\n" +
        "if [ $# -eq 0 ]; then home=${PM2_HOME:-$HOME/.pm2}; set -- \"$home/logs/$name-out.log\" \"$home/logs/$name-error.log\"; fi\n" +
        "date +%z\n" +
        "for f in \"$@\"; do\n" +
        "  echo \"$mark\"\n" +
        "  if [ -r \"$f\" ]; then tail -n \"$n\" -- \"$f\"; echo; fi\n" +
        "done\n";

    private readonly VaultTarget _target;
    private readonly IHostShell _shell;

    public Pm2ServiceManager(VaultTarget target, IHostShell shell)
    {
        _target = target ?? throw new ArgumentNullException(nameof(target));
        _shell = shell ?? throw new ArgumentNullException(nameof(shell));
    }

    public ServiceManagerKind Kind => ServiceManagerKind.Pm2;

    private string Name => _target.ServiceName;

    public async Task<ServiceState> GetStateAsync(CancellationToken cancellationToken)
    {
        var list = await ReadListAsync(cancellationToken).ConfigureAwait(false);
        return Pm2ProcessList.ToState(Name, list, DateTimeOffset.UtcNow);
    }

    /// <summary>
    /// Starts the app: an app PM2 knows is started by name (nothing is done when it is already online, since
    /// "pm2 start &lt;name&gt;" would restart it); an unknown app is started from <see cref="VaultTarget.AppPath"/>
    /// (its ecosystem.config.js, only this app, or else "dist/index.js --time" with AppPath as cwd, where the
    /// backend reads its .env). Then "pm2 save" as the runbook does, so a reboot (pm2 resurrect) brings back this
    /// list; skipped with a warning when PM2_HOME is not writable.
    /// </summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var list = await ReadListAsync(cancellationToken).ConfigureAwait(false);
        var app = list.Find(Name);
        if (app.Count > 0)
        {
            if (app.All(p => p.Status is Pm2Status.Online or Pm2Status.Launching))
            {
                Reporting.Current.Verbose($"PM2 app {Name} on {_shell.Description} is already online; not starting it again.");
                return;
            }

            await RunPm2Async(null, ActionTimeout, cancellationToken, "start", Name).ConfigureAwait(false);
        }
        else
        {
            await StartFromAppPathAsync(cancellationToken).ConfigureAwait(false);
        }

        await SaveAsync(cancellationToken).ConfigureAwait(false);
    }

    public async Task StopAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (timeout <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(timeout), timeout, "The stop timeout must be positive.");
        }

        var app = await RequireAppAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await RunPm2Async(null, timeout, cancellationToken, "stop", Name).ConfigureAwait(false);
        }
        catch (VaultException ex) when (ex.ErrorId == "CommandTimeout")
        {
            var killTimeout = app.Max(p => p.KillTimeoutMs) ?? Pm2Process.DefaultKillTimeoutMs;
            throw new VaultException("ServiceStopTimeout", VaultErrorKind.OperationTimeout,
                $"pm2 stop {Name} on {_shell.Description} did not finish within {timeout.TotalSeconds:0.#} s " +
                $"(PM2 sends SIGINT and waits the app's kill_timeout, {killTimeout} ms, before SIGKILL).",
                "Check the app's state, then stop it by force (SIGKILL) or allow more time.", ex);
        }
    }

    /// <summary>
    /// Last resort (runbook 3.2): the app's processes run no more code and PM2 does not start a fresh one. A plain
    /// SIGKILL first would make PM2 restart the app at once (it only leaves alone a process it is stopping), so:
    /// SIGSTOP every live process (pids from jlist: frozen, no drain, no exit PM2 could react to), "pm2 stop" (PM2
    /// marks it stopping, signals it, waits the app's kill_timeout, then SIGKILLs it), then SIGKILL whatever still
    /// runs. Takes about kill_timeout (PM2's default 1.6 s).
    /// </summary>
    public async Task KillAsync(CancellationToken cancellationToken)
    {
        var app = await RequireAppAsync(cancellationToken).ConfigureAwait(false);
        var pids = app.Where(p => p.IsLive).Select(p => p.Pid!.Value.ToString(CultureInfo.InvariantCulture)).ToArray();
        if (pids.Length > 0)
        {
            await SignalAsync("STOP", pids, cancellationToken).ConfigureAwait(false);
        }

        var killTimeout = TimeSpan.FromMilliseconds(app.Max(p => p.KillTimeoutMs) ?? Pm2Process.DefaultKillTimeoutMs);
        await RunPm2Async(null, QueryTimeout + killTimeout, cancellationToken, "stop", Name).ConfigureAwait(false);
        if (pids.Length > 0)
        {
            await SignalAsync("KILL", pids, cancellationToken).ConfigureAwait(false);
        }
    }

    public async Task RestartAsync(CancellationToken cancellationToken)
    {
        var app = await RequireAppAsync(cancellationToken).ConfigureAwait(false);
        var killTimeout = TimeSpan.FromMilliseconds(app.Max(p => p.KillTimeoutMs) ?? Pm2Process.DefaultKillTimeoutMs);
        await RunPm2Async(null, ActionTimeout + killTimeout, cancellationToken, "restart", Name, "--update-env").ConfigureAwait(false);
    }

    /// <summary>
    /// The app's PM2 out and error logs (paths from jlist; PM2's default paths when the app is unknown), merged by
    /// the time at the start of each line: PM2's --time prefix (the host's local time) or the app's own ISO time.
    /// A line without a time keeps the time of the line before it. With <paramref name="since"/>, lines of
    /// unknown time are left out.
    /// </summary>
    public async Task<IReadOnlyList<string>> ReadLogAsync(int tail, DateTimeOffset? since, CancellationToken cancellationToken)
    {
        if (tail < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(tail), tail, "The number of lines cannot be negative.");
        }

        if (tail == 0)
        {
            return Array.Empty<string>();
        }

        var list = await ReadListAsync(cancellationToken).ConfigureAwait(false);
        var files = list.Find(Name)
            .SelectMany(p => new[] { p.OutLogPath, p.ErrorLogPath })
            .Where(path => !string.IsNullOrEmpty(path) && path != "/dev/null")
            .Select(path => path!)
            .Distinct(StringComparer.Ordinal);
        var marker = "==yv-pm2-log-" + Guid.NewGuid().ToString("N") + "==";
        var arguments = new[] { tail.ToString(CultureInfo.InvariantCulture), marker, Name }.Concat(files).ToArray();
        var result = await RunAsync(Pm2Command(CommandLine.Script(LogScript, arguments)), QueryTimeout, cancellationToken, $"tail -n {tail} of the PM2 logs of {Name}").ConfigureAwait(false);
        if (!result.Succeeded)
        {
            throw Failed(result, $"tail -n {tail} of the PM2 logs of {Name}");
        }

        return Pm2LogLines.Merge(result.StandardOutput, marker, tail, since);
    }

    private async Task StartFromAppPathAsync(CancellationToken cancellationToken)
    {
        var probe = await _shell.RunAsync(CommandLine.Script(ProbeAppScript, _target.AppPath), QueryTimeout, cancellationToken).ConfigureAwait(false);
        if (probe.ExitCode == 3)
        {
            throw new VaultException("AppPathNotFound", VaultErrorKind.ObjectNotFound,
                $"PM2 does not know the app {Name} on {_shell.Description}, and its AppPath {_target.AppPath} does not exist there (or is not readable).",
                "Check the target's AppPath and ServiceName, or deploy the app first.");
        }

        if (!probe.Succeeded)
        {
            throw Failed(probe, $"looking for ecosystem.config.js and dist/index.js in {_target.AppPath}");
        }

        var found = probe.StandardOutput.Replace("\r", "").Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0).ToList();
        var ecosystem = found.FirstOrDefault(f => f.StartsWith("ecosystem.config.", StringComparison.Ordinal));
        if (ecosystem is not null)
        {
            // Only this app: others in the file are not ours to start.
            await RunPm2Async(_target.AppPath, ActionTimeout, cancellationToken, "start", ecosystem, "--only", Name).ConfigureAwait(false);
            var after = await ReadListAsync(cancellationToken).ConfigureAwait(false);
            if (after.Find(Name).Count == 0)
            {
                throw new VaultException("EcosystemAppMissing", VaultErrorKind.ObjectNotFound,
                    $"{_target.AppPath}/{ecosystem} on {_shell.Description} does not define an app named {Name}, so pm2 started nothing.",
                    $"Name the app '{Name}' in {ecosystem}, or set the target's ServiceName to the name used there.");
            }

            return;
        }

        if (found.Contains("dist/index.js"))
        {
            await RunPm2Async(_target.AppPath, ActionTimeout, cancellationToken, "start", "dist/index.js", "--name", Name, "--cwd", _target.AppPath, "--time").ConfigureAwait(false);
            return;
        }

        throw new VaultException("AppEntryPointNotFound", VaultErrorKind.ObjectNotFound,
            $"PM2 does not know the app {Name} on {_shell.Description}, and {_target.AppPath} has neither ecosystem.config.js nor dist/index.js to start it from.",
            "Build the app (npm ci && npm run build) in AppPath, or add an ecosystem.config.js that defines it.");
    }

    private async Task SignalAsync(string signal, string[] pids, CancellationToken cancellationToken)
    {
        var command = CommandLine.Script("sig=$1; shift; kill -s \"$sig\" \"$@\"", new[] { signal }.Concat(pids).ToArray());
        var result = await RunAsync(command, QueryTimeout, cancellationToken, $"kill -{signal} {string.Join(" ", pids)}").ConfigureAwait(false);
        // A process that is gone already is what we want; anything else (not permitted) is not.
        if (!result.Succeeded && !result.StandardError.Contains("No such process"))
        {
            throw new VaultException("ServiceKillFailed", VaultErrorKind.InvalidOperation,
                $"kill -{signal} {string.Join(" ", pids)} (PM2 app {Name}) on {_shell.Description} failed with exit code {result.ExitCode}: {Pm2Output.Tail(result)}",
                "Connect as the user that runs the PM2 daemon, or as root.");
        }
    }

    private async Task SaveAsync(CancellationToken cancellationToken)
    {
        var result = await RunAsync(Pm2Command(CommandLine.Script(SaveScript)), QueryTimeout, cancellationToken, "pm2 save").ConfigureAwait(false);
        if (result.ExitCode == 10)
        {
            Reporting.Current.Warning($"Started {Name} on {_shell.Description} but did not run 'pm2 save': PM2_HOME ({_target.Pm2Home ?? "~/.pm2"}) is not writable for this user, so a reboot restores the previous process list.");
        }
        else if (!result.Succeeded)
        {
            Reporting.Current.Warning($"Started {Name} on {_shell.Description} but 'pm2 save' failed (exit code {result.ExitCode}): {Pm2Output.Tail(result)}");
        }
    }

    private async Task<IReadOnlyList<Pm2Process>> RequireAppAsync(CancellationToken cancellationToken)
    {
        var list = await ReadListAsync(cancellationToken).ConfigureAwait(false);
        var app = list.Find(Name);
        if (app.Count == 0)
        {
            throw NotFound(list.DaemonRunning);
        }

        return app;
    }

    private async Task<Pm2ProcessList> ReadListAsync(CancellationToken cancellationToken)
    {
        var result = await RunAsync(Pm2Command(CommandLine.Script(JlistScript)), QueryTimeout, cancellationToken, "pm2 jlist").ConfigureAwait(false);
        if (result.StandardOutput.Contains(NotInstalledMarker) || result.ExitCode == 127)
        {
            throw NotInstalled(null);
        }

        if (!result.Succeeded)
        {
            throw Failed(result, "pm2 jlist");
        }

        return Pm2ProcessList.Parse(result.StandardOutput, _shell.Description);
    }

    private async Task<CommandResult> RunPm2Async(string? workingDirectory, TimeSpan timeout, CancellationToken cancellationToken, params string[] arguments)
    {
        var command = new CommandLine("pm2", arguments)
        {
            WorkingDirectory = workingDirectory,
            Environment = Pm2Environment(),
        };
        var result = await RunAsync(command, timeout, cancellationToken).ConfigureAwait(false);
        if (result.ExitCode == 127)
        {
            throw NotInstalled(null);
        }

        if (!result.Succeeded)
        {
            if (Pm2Output.SaysNotFound(result, Name))
            {
                throw NotFound(daemonRunning: true);
            }

            throw Failed(result);
        }

        return result;
    }

    private async Task<CommandResult> RunAsync(CommandLine command, TimeSpan timeout, CancellationToken cancellationToken, string? display = null)
    {
        Reporting.Current.Verbose($"{_shell.Description}: {display ?? command.ToString()}");
        try
        {
            return await _shell.RunAsync(command, timeout, cancellationToken).ConfigureAwait(false);
        }
        catch (VaultException ex) when (ex.ErrorId == "CommandNotFound")
        {
            throw NotInstalled(ex);
        }
    }

    private CommandLine Pm2Command(CommandLine script) =>
        new(script.Program, script.Arguments) { Environment = Pm2Environment() };

    private Dictionary<string, string>? Pm2Environment() =>
        _target.Pm2Home is { } home ? new Dictionary<string, string>(StringComparer.Ordinal) { ["PM2_HOME"] = home } : null;

    private VaultException NotInstalled(Exception? inner) =>
        new("ServiceManagerNotFound", VaultErrorKind.NotInstalled,
            $"PM2 is not installed on {_shell.Description} (no 'pm2' on the PATH of a non-interactive shell), so the PM2 app {Name} of target '{_target.Name}' cannot be managed.",
            "Install PM2 with: npm install -g pm2 (a node version manager's PATH is not loaded by non-interactive SSH commands; link pm2 into /usr/local/bin), or pick the target's real ServiceManager.",
            inner);

    private VaultException NotFound(bool daemonRunning) =>
        new("ServiceNotFound", VaultErrorKind.ObjectNotFound,
            daemonRunning
                ? $"PM2 on {_shell.Description} (PM2_HOME {_target.Pm2Home ?? "~/.pm2"}) has no app named {Name}."
                : $"No PM2 daemon runs on {_shell.Description} for PM2_HOME {_target.Pm2Home ?? "~/.pm2"}, so there is no app {Name} to act on.",
            "Check the target's ServiceName and Pm2Home (run 'pm2 list' as the user that runs the backend), or start the app from AppPath first.");

    private VaultException Failed(CommandResult result, string? what = null) =>
        new("ServiceManagerFailed", VaultErrorKind.InvalidOperation,
            $"'{what ?? result.Command}' on {_shell.Description} failed with exit code {result.ExitCode}: {Pm2Output.Tail(result)}",
            $"Run 'pm2 logs {Name} --lines 50' and 'pm2 describe {Name}' on the host as the user that runs PM2.");
}

/// <summary>PM2's names for a process' state (pm2_env.status).</summary>
internal enum Pm2Status
{
    Unknown,
    Online,
    Stopped,
    Stopping,
    Launching,
    WaitingRestart,
    Errored,
    OneLaunch,
}

/// <summary>One entry of "pm2 jlist" (one instance of an app).</summary>
internal sealed class Pm2Process
{
    public const int DefaultKillTimeoutMs = 1600;

    public string Name { get; init; } = "";

    public int PmId { get; init; }

    public int? Pid { get; init; }

    public string RawStatus { get; init; } = "";

    public Pm2Status Status { get; init; }

    public int RestartTime { get; init; }

    public int UnstableRestarts { get; init; }

    public long? PmUptimeMs { get; init; }

    public int? ExitCode { get; init; }

    public long? MemoryBytes { get; init; }

    public double? Cpu { get; init; }

    public string? OutLogPath { get; init; }

    public string? ErrorLogPath { get; init; }

    public int? KillTimeoutMs { get; init; }

    /// <summary>A process exists now (PM2 keeps the dead pid while it waits to restart, and 0 when stopped).</summary>
    public bool IsLive => Pid is > 0 && Status is Pm2Status.Online or Pm2Status.Launching or Pm2Status.Stopping;

    public DateTimeOffset? StartedAt => PmUptimeMs is > 0 ? DateTimeOffset.FromUnixTimeMilliseconds(PmUptimeMs.Value) : null;
}

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
        throw new VaultException("ServiceManagerOutputInvalid", VaultErrorKind.InvalidData,
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
            OutLogPath = AsString(env["pm_out_log_path"]),
            ErrorLogPath = AsString(env["pm_err_log_path"]),
            KillTimeoutMs = (int?)AsLong(env["kill_timeout"]),
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
}

/// <summary>Merges the tails of PM2's out and error logs by the time each line starts with.</summary>
internal static class Pm2LogLines
{
    // PM2's --time prefix ("2026-04-29T10:00:00: ", log_date_format YYYY-MM-DDTHH:mm:ss, local time) or an ISO time.
    private static readonly Regex Stamp = new(
        @"^(?<date>\d{4}-\d{2}-\d{2})[T ](?<time>\d{2}:\d{2}:\d{2}(?:\.\d{1,7})?)(?<zone>Z|[+-]\d{2}:?\d{2})?",
        RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));

    public static IReadOnlyList<string> Merge(string output, string marker, int tail, DateTimeOffset? since)
    {
        var lines = output.Replace("\r", "").Split('\n');
        var offset = lines.Length > 0 ? ParseOffset(lines[0]) : TimeSpan.Zero;
        var entries = new List<(DateTimeOffset? Time, int File, int Index, string Text)>();
        var files = new List<List<string>>();
        foreach (var line in lines.Skip(1))
        {
            if (line == marker)
            {
                files.Add(new List<string>());
            }
            else if (files.Count > 0)
            {
                files[files.Count - 1].Add(line);
            }
        }

        for (var f = 0; f < files.Count; f++)
        {
            var fileLines = files[f];
            // The script adds a newline after each tail; drop the empty lines it leaves at the end.
            var count = fileLines.Count;
            while (count > 0 && fileLines[count - 1].Length == 0)
            {
                count--;
            }

            DateTimeOffset? current = null;
            for (var i = 0; i < count; i++)
            {
                current = ParseTime(fileLines[i], offset) ?? current;
                entries.Add((current, f, i, fileLines[i]));
            }
        }

        var merged = entries
            .Where(e => since is null || (e.Time is { } time && time >= since.Value))
            .OrderBy(e => e.Time ?? DateTimeOffset.MinValue)
            .ThenBy(e => e.File)
            .ThenBy(e => e.Index)
            .Select(e => e.Text)
            .ToList();
        return merged.Skip(Math.Max(0, merged.Count - tail)).ToList();
    }

    /// <summary>
    /// The time a line starts with. After PM2's prefix (whole seconds, local time) the sample backend and many
    /// loggers write their own ISO time with milliseconds and a zone; that one orders lines of the same second.
    /// </summary>
    internal static DateTimeOffset? ParseTime(string line, TimeSpan hostOffset)
    {
        var match = Stamp.Match(line);
        if (!match.Success)
        {
            return null;
        }

        var rest = line.Substring(match.Length).TrimStart(':', ' ');
        var inner = Stamp.Match(rest);
        if (inner.Success && inner.Groups["zone"].Success)
        {
            match = inner;
        }

        var text = match.Groups["date"].Value + "T" + match.Groups["time"].Value;
        if (!DateTime.TryParseExact(text, new[] { "yyyy-MM-ddTHH:mm:ss", "yyyy-MM-ddTHH:mm:ss.FFFFFFF" }, CultureInfo.InvariantCulture, DateTimeStyles.None, out var local))
        {
            return null;
        }

        var zone = match.Groups["zone"];
        var offset = !zone.Success ? hostOffset : zone.Value == "Z" ? TimeSpan.Zero : ParseOffset(zone.Value);
        return new DateTimeOffset(DateTime.SpecifyKind(local, DateTimeKind.Unspecified), offset);
    }

    /// <summary>"+0200", "-05:30" (date +%z) as an offset; anything else is UTC.</summary>
    internal static TimeSpan ParseOffset(string text)
    {
        var value = text.Trim().Replace(":", "");
        if (value.Length != 5 || (value[0] != '+' && value[0] != '-')
            || !int.TryParse(value.Substring(1, 2), NumberStyles.None, CultureInfo.InvariantCulture, out var hours)
            || !int.TryParse(value.Substring(3, 2), NumberStyles.None, CultureInfo.InvariantCulture, out var minutes)
            || hours > 14 || minutes > 59)
        {
            return TimeSpan.Zero;
        }

        var offset = new TimeSpan(hours, minutes, 0);
        return value[0] == '-' ? -offset : offset;
    }
}

/// <summary>Turns pm2's colourful, table-laden output into something that fits an error message.</summary>
internal static class Pm2Output
{
    private static readonly Regex Ansi = new(@"\x1B\[[0-9;?]*[A-Za-z]", RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));

    public static string StripAnsi(string text) => Ansi.Replace(text, "");

    /// <summary>The last lines pm2 said (stderr first), without colours, tables, host metrics or JSON.</summary>
    public static string Tail(CommandResult result, int lines = 5)
    {
        var said = (result.StandardError + "\n" + result.StandardOutput).Replace("\r", "").Split('\n')
            .Select(l => StripAnsi(l).Trim())
            .Where(l => l.Length > 0
                && l.IndexOfAny(new[] { '│', '┌', '└', '├', '─' }) < 0
                && !l.StartsWith("host metrics", StringComparison.Ordinal)
                && !l.StartsWith("[{", StringComparison.Ordinal)
                && !l.StartsWith("{", StringComparison.Ordinal))
            .Select(l => l.Length > 300 ? l.Substring(0, 300) + "..." : l)
            .ToList();
        return said.Count == 0 ? "(no output)" : string.Join(" / ", said.Skip(Math.Max(0, said.Count - lines)));
    }

    /// <summary>"[PM2][ERROR] Process or Namespace &lt;name&gt; not found".</summary>
    public static bool SaysNotFound(CommandResult result, string name) =>
        StripAnsi(result.StandardError + "\n" + result.StandardOutput).Contains("Process or Namespace " + name + " not found");
}
