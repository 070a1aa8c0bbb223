using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using YieldVault.Ops.Hosts;

namespace YieldVault.Ops.Services;

/// <summary>
/// The backend as a systemd unit (runbook 1.1, 3.1, 6.1, 7.4): state from <c>systemctl show</c> (no root
/// needed), start/stop/restart/kill through <c>systemctl</c> and the log from <c>journalctl</c>, both as root
/// ("sudo -n" when the target's user is not root).
/// </summary>
public sealed class SystemdServiceManager : IServiceManager
{
    internal const string ShowProperties = "LoadState,ActiveState,SubState,MainPID,ExecMainStartTimestamp,NRestarts,Result,MemoryCurrent,CPUUsageNSec,ExecMainStatus";

    private static readonly TimeSpan QueryTimeout = TimeSpan.FromSeconds(30);

    // systemd's default TimeoutStartSec is 90 s; a start job cannot take longer than that without systemd failing it.
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(120);

    // A restart is a stop (default TimeoutStopSec 90 s) and then a start.
    private static readonly TimeSpan RestartTimeout = TimeSpan.FromSeconds(210);

    // Room for the connection and sudo around the remote "timeout" that bounds a stop.
    private static readonly TimeSpan StopMargin = TimeSpan.FromSeconds(15);

    // systemctl formats timestamps in the local time zone of the host, with an abbreviation ("CET") that
    // cannot be parsed reliably; asking for UTC keeps them exact on every systemd version.
    private static readonly IReadOnlyDictionary<string, string> UtcEnvironment = new Dictionary<string, string>(StringComparer.Ordinal) { ["TZ"] = "UTC" };

    private readonly VaultTarget _target;
    private readonly IHostShell _shell;

    public SystemdServiceManager(VaultTarget target, IHostShell shell)
    {
        _target = target ?? throw new ArgumentNullException(nameof(target));
        _shell = shell ?? throw new ArgumentNullException(nameof(shell));
    }

    public ServiceManagerKind Kind => ServiceManagerKind.Systemd;

    /// <summary>The unit: the target's ServiceName with ".service" added unless it names a unit type already.</summary>
    public string UnitName => SystemdUnits.UnitName(_target.ServiceName);

    public async Task<ServiceState> GetStateAsync(CancellationToken cancellationToken)
    {
        var command = new CommandLine("systemctl", "show", UnitName, "--property=" + ShowProperties, "--no-pager") { Environment = UtcEnvironment };
        var result = await _shell.RunAsync(command, QueryTimeout, cancellationToken).ConfigureAwait(false);
        if (!result.Succeeded)
        {
            throw Unavailable(result, "read the state of");
        }

        return SystemdShow.ToState(UnitName, SystemdShow.ParseProperties(result.StandardOutput), DateTimeOffset.UtcNow);
    }

    public Task StartAsync(CancellationToken cancellationToken) => RunJobAsync("start", StartTimeout, cancellationToken);

    public Task RestartAsync(CancellationToken cancellationToken) => RunJobAsync("restart", RestartTimeout, cancellationToken);

    public async Task StopAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (timeout <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(timeout), timeout, "The stop timeout must be positive.");
        }

        // "timeout" bounds systemctl on the host too, so nothing is left waiting there when we give up; the
        // stop job itself goes on in systemd (which SIGKILLs after the unit's TimeoutStopSec).
        var seconds = ((int)Math.Ceiling(timeout.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
        var systemctl = Privileged.Command(_target, "systemctl", "stop", UnitName);
        var command = new CommandLine("timeout", new[] { "-k", "5", seconds, systemctl.Program }.Concat(systemctl.Arguments));
        CommandResult result;
        try
        {
            result = await _shell.RunAsync(command, timeout + StopMargin, cancellationToken).ConfigureAwait(false);
        }
        catch (VaultException ex) when (ex.ErrorId == ErrorIds.CommandTimeout)
        {
            throw StopTimeout(timeout, ex);
        }

        if (result.ExitCode is 124 or 137)
        {
            throw StopTimeout(timeout, null);
        }

        if (!result.Succeeded)
        {
            throw Failure(result, "stop", "systemctl");
        }
    }

    public async Task KillAsync(CancellationToken cancellationToken)
    {
        // Kill ends a stop that did not finish (runbook 3.2). A stop job is queued first (a no-op when one is
        // pending) so that Restart=on-failure does not bring the killed process straight back.
        var stop = await RunPrivilegedAsync(QueryTimeout, cancellationToken, "systemctl", "stop", "--no-block", UnitName).ConfigureAwait(false);
        if (!stop.Succeeded)
        {
            throw Failure(stop, "stop", "systemctl");
        }

        var kill = await RunPrivilegedAsync(QueryTimeout, cancellationToken, "systemctl", "kill", "--signal=SIGKILL", UnitName).ConfigureAwait(false);
        if (!kill.Succeeded)
        {
            throw Failure(kill, "kill", "systemctl");
        }
    }

    public async Task<IReadOnlyList<string>> ReadLogAsync(int tail, DateTimeOffset? since, CancellationToken cancellationToken)
    {
        if (tail < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(tail), tail, "At least one line must be asked for.");
        }

        var arguments = new List<string> { "-u", UnitName, "-n", tail.ToString(CultureInfo.InvariantCulture), "--no-pager", "-o", "short-iso", "--utc" };
        if (since is { } start)
        {
            // "@<seconds>" is the one --since form with no time zone in it.
            arguments.Add("--since");
            arguments.Add("@" + start.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture));
        }

        var result = await RunPrivilegedAsync(TimeSpan.FromSeconds(60), cancellationToken, "journalctl", arguments.ToArray()).ConfigureAwait(false);
        if (!result.Succeeded)
        {
            throw Failure(result, "read the journal of", "journalctl");
        }

        return SystemdShow.JournalLines(result.StandardOutput);
    }

    private async Task RunJobAsync(string verb, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var result = await RunPrivilegedAsync(timeout, cancellationToken, "systemctl", verb, UnitName).ConfigureAwait(false);
        if (!result.Succeeded && SystemdShow.IsFailedJob(result))
        {
            // A unit that crash-looped into its start limit refuses starts until the failure is reset; this is
            // what an operator runs by hand before starting it again. A start that fails for another reason
            // fails the second time too.
            Reporting.Current.Verbose($"{_target.DisplayName}: '{verb}' of {UnitName} failed ({result.Tail(1)}); resetting the failed state and trying once more.");
            var reset = await RunPrivilegedAsync(QueryTimeout, cancellationToken, "systemctl", "reset-failed", UnitName).ConfigureAwait(false);
            if (reset.Succeeded)
            {
                result = await RunPrivilegedAsync(timeout, cancellationToken, "systemctl", verb, UnitName).ConfigureAwait(false);
            }
        }

        if (!result.Succeeded)
        {
            throw Failure(result, verb, "systemctl");
        }
    }

    private Task<CommandResult> RunPrivilegedAsync(TimeSpan timeout, CancellationToken cancellationToken, string program, params string[] arguments) =>
        _shell.RunAsync(Privileged.Command(_target, program, arguments), timeout, cancellationToken);

    private string Where => _target.DisplayName;

    private string User => _target.Ssh?.User ?? Environment.UserName;

    private VaultException Failure(CommandResult result, string action, string program)
    {
        if (SudoRefusal.Find(result, _target.NeedsSudo) is { } refusal)
        {
            return SudoRequired(refusal, action, program);
        }

        var text = result.Tail(3);
        if (result.ExitCode == 127 || text.IndexOf(program + ": not found", StringComparison.Ordinal) >= 0 || text.IndexOf("command not found", StringComparison.Ordinal) >= 0)
        {
            return new VaultException(ErrorIds.ServiceManagerNotInstalled, VaultErrorKind.NotInstalled,
                $"{Where}: could not {action} {UnitName}: '{program}' is not installed or not on PATH ({text}).",
                "Check that the host runs systemd, or set the target's ServiceManager to Pm2 or Docker.");
        }

        if (SystemdShow.IsBusUnavailable(text))
        {
            return Unavailable(result, action);
        }

        if (result.ExitCode == 5 || text.IndexOf(" not found.", StringComparison.Ordinal) >= 0 || text.IndexOf(" not loaded.", StringComparison.Ordinal) >= 0)
        {
            return new VaultException(ErrorIds.ServiceNotFound, VaultErrorKind.ObjectNotFound,
                $"{Where}: could not {action} {UnitName}: systemd does not know the unit ({text}).",
                $"Check the target's ServiceName; 'systemctl list-unit-files \"{_target.ServiceName}*\"' on the host lists the units that exist.");
        }

        var errorId = action switch
        {
            "start" => ErrorIds.ServiceStartFailed,
            "restart" => ErrorIds.ServiceRestartFailed,
            "stop" => ErrorIds.ServiceStopFailed,
            "kill" => ErrorIds.ServiceKillFailed,
            _ => ErrorIds.ServiceLogUnreadable,
        };
        return new VaultException(errorId,
            VaultErrorKind.InvalidOperation,
            $"{Where}: '{result.Command}' failed with exit code {result.ExitCode}: {text}",
            $"Look at the unit's own messages: journalctl -u {UnitName} -n 50 (Get-VaultBackendLog -Source Manager).");
    }

    private VaultException SudoRequired(string refusal, string action, string program)
    {
        if (!_target.NeedsSudo)
        {
            return new VaultException(ErrorIds.SudoRequired, VaultErrorKind.SecurityError,
                $"{Where}: systemd refused to let user '{User}' {action} {UnitName} ({refusal}). Managing a system unit needs root.",
                "Let the target use sudo (UseSudo = $true) and give the user a NOPASSWD sudo rule for systemctl and journalctl, or connect as root.");
        }

        if (refusal.IndexOf("not found", StringComparison.Ordinal) >= 0)
        {
            return new VaultException(ErrorIds.SudoRequired, VaultErrorKind.SecurityError,
                $"{Where}: user '{User}' is not root and sudo is not installed, so {program} cannot run as root to {action} {UnitName} ({refusal}).",
                $"Install sudo on the host and give '{User}' a NOPASSWD rule for systemctl and journalctl, or connect as root.");
        }

        return new VaultException(ErrorIds.SudoRequired, VaultErrorKind.SecurityError,
            $"{Where}: 'sudo -n' would not run {program} as root for user '{User}' to {action} {UnitName} ({refusal}). " +
            $"The user has no password-less sudo rule for {program}.",
            $"Add a rule on the host, e.g. in /etc/sudoers.d/{User}: {User} ALL=(root) NOPASSWD: /usr/bin/systemctl, /usr/bin/journalctl " +
            "(check the paths with 'command -v systemctl journalctl'; validate with 'visudo -cf').");
    }

    private VaultException Unavailable(CommandResult result, string action)
    {
        var text = result.Tail(3);
        if (result.ExitCode == 127)
        {
            return new VaultException(ErrorIds.ServiceManagerNotInstalled, VaultErrorKind.NotInstalled,
                $"{Where}: could not {action} {UnitName}: systemctl is not installed or not on PATH ({text}).",
                "Check that the host runs systemd, or set the target's ServiceManager to Pm2 or Docker.");
        }

        return new VaultException(ErrorIds.ServiceManagerUnavailable, VaultErrorKind.ResourceUnavailable,
            $"{Where}: could not {action} {UnitName}: systemctl could not talk to systemd (exit code {result.ExitCode}: {text}).",
            "Check that the host was booted with systemd as PID 1 and that dbus runs (systemctl is-system-running), or set the target's ServiceManager to Pm2 or Docker.");
    }

    private VaultException StopTimeout(TimeSpan timeout, Exception? inner) =>
        new(ErrorIds.ServiceStopTimeout, VaultErrorKind.OperationTimeout,
            $"{Where}: {UnitName} did not stop within {timeout.TotalSeconds:0.#} s. systemd goes on stopping it and sends SIGKILL after the unit's TimeoutStopSec.",
            $"Wait and check the state again, or kill it as the last resort (systemctl kill --signal=SIGKILL {UnitName}).", inner);
}
