using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
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
public sealed partial class Pm2ServiceManager : IServiceManager
{
    internal const string NotInstalledMarker = "yv-pm2-not-installed";
    internal const string NoDaemonMarker = "yv-pm2-no-daemon";

    private static readonly TimeSpan QueryTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan ActionTimeout = TimeSpan.FromSeconds(60);

    // The longest kill_timeout a forced kill waits for PM2 to end the app itself; with a longer one it waits only
    // until PM2 has taken the stop (it marks the app stopping on arrival), then kills.
    private static readonly TimeSpan KillWaitLimit = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan StopRequestWait = TimeSpan.FromSeconds(10);

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
        catch (VaultException ex) when (ex.ErrorId == ErrorIds.CommandTimeout)
        {
            var killTimeout = app.Max(p => p.KillTimeoutMs) ?? Pm2Process.DefaultKillTimeoutMs;
            throw new VaultException(ErrorIds.ServiceStopTimeout, VaultErrorKind.OperationTimeout,
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
    /// runs. Takes about kill_timeout (PM2's default 1.6 s). An app PM2 is stopping already (a graceful stop that
    /// timed out) is killed at once, and a long kill_timeout is not waited out: PM2 marks the app stopping as soon
    /// as the stop arrives, so the SIGKILL after a bounded wait is not a crash it restarts.
    /// </summary>
    public async Task KillAsync(CancellationToken cancellationToken)
    {
        var app = await RequireAppAsync(cancellationToken).ConfigureAwait(false);
        var pids = app.Where(p => p.IsLive).Select(p => p.Pid!.Value.ToString(CultureInfo.InvariantCulture)).ToArray();
        if (pids.Length > 0)
        {
            await SignalAsync("STOP", pids, cancellationToken).ConfigureAwait(false);
        }

        if (!app.Any(p => p.Status == Pm2Status.Stopping))
        {
            var killTimeout = TimeSpan.FromMilliseconds(app.Max(p => p.KillTimeoutMs) ?? Pm2Process.DefaultKillTimeoutMs);
            try
            {
                await RunPm2Async(null, killTimeout <= KillWaitLimit ? QueryTimeout + killTimeout : StopRequestWait, cancellationToken, "stop", Name).ConfigureAwait(false);
            }
            catch (VaultException ex) when (ex.ErrorId == ErrorIds.CommandTimeout && pids.Length > 0)
            {
                Reporting.Current.Verbose($"{_shell.Description}: pm2 stop {Name} waits the app's kill_timeout ({killTimeout.TotalSeconds:0.#} s); sending SIGKILL now.");
            }
        }

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
        var result = await RunAsync(Pm2Command(CommandLine.Script(Pm2Scripts.LogScript, arguments)), QueryTimeout, cancellationToken, $"tail -n {tail} of the PM2 logs of {Name}").ConfigureAwait(false);
        if (!result.Succeeded)
        {
            throw Failed(result, $"tail -n {tail} of the PM2 logs of {Name}");
        }

        return Pm2LogLines.Merge(result.StandardOutput, marker, tail, since);
    }

    private async Task SignalAsync(string signal, string[] pids, CancellationToken cancellationToken)
    {
        var command = CommandLine.Script("sig=$1; shift; kill -s \"$sig\" \"$@\"", new[] { signal }.Concat(pids).ToArray());
        var result = await RunAsync(command, QueryTimeout, cancellationToken, $"kill -{signal} {string.Join(" ", pids)}").ConfigureAwait(false);
        // A process that is gone already is what we want; anything else (not permitted) is not.
        if (!result.Succeeded && !result.StandardError.Contains("No such process"))
        {
            throw new VaultException(ErrorIds.ServiceKillFailed, VaultErrorKind.InvalidOperation,
                $"kill -{signal} {string.Join(" ", pids)} (PM2 app {Name}) on {_shell.Description} failed with exit code {result.ExitCode}: {Pm2Output.Tail(result)}",
                "Connect as the user that runs the PM2 daemon, or as root.");
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
        var result = await RunAsync(Pm2Command(CommandLine.Script(Pm2Scripts.JlistScript)), QueryTimeout, cancellationToken, "pm2 jlist").ConfigureAwait(false);
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
        catch (VaultException ex) when (ex.ErrorId == ErrorIds.CommandNotFound)
        {
            throw NotInstalled(ex);
        }
    }

    private CommandLine Pm2Command(CommandLine script) =>
        new(script.Program, script.Arguments) { Environment = Pm2Environment() };

    private Dictionary<string, string>? Pm2Environment()
    {
        var environment = new Dictionary<string, string>(StringComparer.Ordinal);
        if (_target.Pm2Home is { } home)
        {
            environment["PM2_HOME"] = home;
        }

        if (_target.PassesPort)
        {
            // A blue-green slot's app: PM2 hands the CLI's environment to an app it starts, and dotenv keeps it.
            environment["PORT"] = _target.Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        return environment.Count == 0 ? null : environment;
    }

    private VaultException NotInstalled(Exception? inner) =>
        new(ErrorIds.ServiceManagerNotFound, VaultErrorKind.NotInstalled,
            $"PM2 is not installed on {_shell.Description} (no 'pm2' on the PATH of a non-interactive shell), so the PM2 app {Name} of target '{_target.Name}' cannot be managed.",
            "Install PM2 with: npm install -g pm2 (a node version manager's PATH is not loaded by non-interactive SSH commands; link pm2 into /usr/local/bin), or pick the target's real ServiceManager.",
            inner);

    private VaultException NotFound(bool daemonRunning) =>
        new(ErrorIds.ServiceNotFound, VaultErrorKind.ObjectNotFound,
            daemonRunning
                ? $"PM2 on {_shell.Description} (PM2_HOME {_target.Pm2Home ?? "~/.pm2"}) has no app named {Name}."
                : $"No PM2 daemon runs on {_shell.Description} for PM2_HOME {_target.Pm2Home ?? "~/.pm2"}, so there is no app {Name} to act on.",
            "Check the target's ServiceName and Pm2Home (run 'pm2 list' as the user that runs the backend), or start the app from AppPath first.");

    private VaultException Failed(CommandResult result, string? what = null) =>
        new(ErrorIds.ServiceManagerFailed, VaultErrorKind.InvalidOperation,
            $"'{what ?? result.Command}' on {_shell.Description} failed with exit code {result.ExitCode}: {Pm2Output.Tail(result)}",
            $"Run 'pm2 logs {Name} --lines 50' and 'pm2 describe {Name}' on the host as the user that runs PM2.");
}
