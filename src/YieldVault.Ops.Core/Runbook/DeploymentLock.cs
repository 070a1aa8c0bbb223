using System;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using YieldVault.Ops.Hosts;

namespace YieldVault.Ops.Runbook;

/// <summary>
/// One deployment per target at a time: a lock file on the target's host, written whole to a temporary file and
/// then linked into place (atomic, and never half written when the disk is full), holding the run id, a random
/// token, the deploying machine (host name, boot id and pid namespace, since containers and cloned machines share
/// host names) and process. While a run holds it, the lock is touched every few seconds, and before each step the
/// run checks that the lock still carries its token (<see cref="OwnershipCheck"/>): a run that lost its lock stops.
/// A lock whose owner process is gone (the same machine: same boot and pid namespace), whose run in this process
/// has ended, that is empty (a run died creating it), or that has not been touched for <see cref="StaleAfter"/> is
/// stale: reported, and cleared only with -Force. Clearing one closes the dead run's journal with an "Abandoned"
/// end line, so every run's journal ends.
/// </summary>
public sealed class DeploymentLock : IAsyncDisposable
{
    public static readonly TimeSpan StaleAfter = TimeSpan.FromSeconds(90);
    private static readonly TimeSpan Heartbeat = TimeSpan.FromSeconds(10);
    private static readonly System.Text.RegularExpressions.Regex RunIdPattern = new("^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{6}$", System.Text.RegularExpressions.RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));

    // The runs of this process that hold a lock now; a lock naming this process and a run not here is left over.
    private static readonly ConcurrentDictionary<string, bool> ActiveRuns = new(StringComparer.Ordinal);

    private readonly IHostShell _shell;
    private readonly string _path;
    private readonly string _runId;
    private readonly string _token;
    private readonly CancellationTokenSource _stop = new();
    private Task? _heartbeat;

    private DeploymentLock(IHostShell shell, string path, string runId, string token)
    {
        _shell = shell;
        _path = path;
        _runId = runId;
        _token = token;
    }

    public string Path => _path;

    /// <summary>The random token of this run's lock: only the run that wrote it holds it.</summary>
    public string Token => _token;

    /// <summary>
    /// A shell fragment that exits 9 (printing "lock-lost") unless the lock file (one line) still carries this run's token;
    /// a step prepends it to its first command on the host, so the check costs no extra round trip (and, built-ins only,
    /// no extra process).
    /// </summary>
    public string OwnershipCheck => "l=''; { read -r l || :; } 2>/dev/null < " + ShellQuote.Quote(_path) + "; case \"$l\" in *" + ShellQuote.Quote("token=" + _token + " ")
        + "*) ;; *) echo lock-lost; exit 9;; esac";

    /// <summary>This machine and process, as written into locks: "host=... boot=... pidns=... pid=...".</summary>
    public static string Me => "host=" + System.Environment.MachineName + " boot=" + MachineIdentity.BootId + " pidns=" + MachineIdentity.PidNamespace
        + " pid=" + Process.GetCurrentProcess().Id.ToString(CultureInfo.InvariantCulture);

    public static async Task<DeploymentLock> AcquireAsync(VaultTarget target, IHostShell shell, string runId, bool force, CancellationToken cancellationToken)
    {
        var path = DeploymentReadiness.LockPath(target);
        var token = Guid.NewGuid().ToString("N");
        var owner = $"run={runId} token={token} {Me} user={System.Environment.UserName} started={DateTimeOffset.UtcNow:yyyy-MM-ddTHH:mm:ssZ}";
        // A lock already there is read first (also by a user who could not write one: a deployment's lock is reported to
        // everyone). Then written whole to a temporary file (a full disk fails here, leaving no half-written lock), and
        // linked into place: ln fails when the lock exists, so exactly one run gets it.
        const string script = @"held() { now=$(date +%s); mtime=$(stat -c %Y -- ""$1"" 2>/dev/null || echo ""$now"")
printf 'age=%s\n' ""$((now - mtime))""; head -c 500 -- ""$1""; exit 3; }
[ -e ""$1"" ] && held ""$1""
" + ShellQuote.EnsureParentOfFirstArgument + @" || exit 4
tmp=""$1.yv-new.$$""
if ! printf '%s\n' ""$2"" > ""$tmp"" 2>/dev/null; then rm -f -- ""$tmp""; echo 'cannot write the lock (disk full or not writable)'; exit 4; fi
if ln -- ""$tmp"" ""$1"" 2>/dev/null; then rm -f -- ""$tmp""; exit 0; fi
rm -f -- ""$tmp""
held ""$1""";
        for (var attempt = 0; attempt < 2; attempt++)
        {
            var result = await shell.RunAsync(CommandLine.Script(script, path, owner), TimeSpan.FromSeconds(30), cancellationToken).ConfigureAwait(false);
            if (result.Succeeded)
            {
                ActiveRuns[runId] = true;
                var acquired = new DeploymentLock(shell, path, runId, token);
                acquired.StartHeartbeat();
                return acquired;
            }

            if (result.ExitCode != 3)
            {
                throw new VaultException(ErrorIds.LockFailed, VaultErrorKind.InvalidOperation,
                    $"{target.DisplayName}: could not create the deployment lock {path}: {result.Tail(3)} Nothing was changed.",
                    $"Check that {target.StatePath} is writable and its disk has room (df -h {target.StatePath}).");
            }

            var lines = result.StandardOutput.Replace("\r", "").Split('\n');
            var age = int.TryParse(lines[0].Replace("age=", ""), NumberStyles.Integer, CultureInfo.InvariantCulture, out var a) ? a : 0;
            var holder = string.Join(" ", lines.Skip(1)).Trim();
            var stale = IsStale(holder, TimeSpan.FromSeconds(age), out var why);
            if (!stale)
            {
                throw new VaultException(ErrorIds.DeploymentLocked, VaultErrorKind.ResourceBusy,
                    $"{target.DisplayName}: another deployment holds the lock ({holder}; last seen {age} s ago). Nothing was changed.",
                    "Wait for it to finish (its journal is in " + DeploymentJournal.DirectoryOf(target) + ").");
            }

            if (!force)
            {
                throw new VaultException(ErrorIds.DeploymentLockStale, VaultErrorKind.ResourceBusy,
                    $"{target.DisplayName}: a stale deployment lock is left from a run that did not finish ({holder}; {why}). Nothing was changed.",
                    "Read that run's journal (the newest file in " + DeploymentJournal.DirectoryOf(target) + "), make sure the backend serves " +
                    "(Get-VaultBackendStatus; Undo-VaultDeployment brings back the previous release), then run again with -Force to clear the lock.");
            }

            Reporting.Current.Warning($"{target.Name}: clearing a stale deployment lock ({holder}; {why}).");
            await ClearDeadRunAsync(target, shell, holder, why, runId, cancellationToken).ConfigureAwait(false);
            await shell.RunAsync(CommandLine.Script("rm -f -- \"$1\"", path), TimeSpan.FromSeconds(30), cancellationToken).ConfigureAwait(false);
        }

        throw new VaultException(ErrorIds.DeploymentLocked, VaultErrorKind.ResourceBusy, $"{target.DisplayName}: another deployment took the lock just now.");
    }

    /// <summary>
    /// The lock for one step cmdlet (Stop/Start/Restart-VaultBackend, Invoke-VaultMigration, the maintenance flag, a
    /// backup): taken while the step runs, so no deployment starts in the middle of it and it does not act in the middle
    /// of a deployment (<see cref="ErrorIds.DeploymentLocked"/>). A stale lock left by a dead run does not block an
    /// on-call engineer: the step goes on without the lock, with a warning (only a deployment's -Force clears it); so does
    /// a step whose user cannot create the lock (no lock is there, or it would be DeploymentLocked).
    /// </summary>
    public static async Task<DeploymentLock?> AcquireForStepAsync(VaultTarget target, IHostShell shell, string what, CancellationToken cancellationToken)
    {
        try
        {
            return await AcquireAsync(target, shell, DeploymentJournal.NewRunId(DateTimeOffset.UtcNow), false, cancellationToken).ConfigureAwait(false);
        }
        catch (VaultException ex) when (ex.ErrorId == ErrorIds.DeploymentLockStale)
        {
            Reporting.Current.Warning($"{target.Name}: {what} goes on although a stale deployment lock is left ({ex.Message.Replace(" Nothing was changed.", "")}). Invoke-VaultDeployment -Force clears it.");
            return null;
        }
        catch (VaultException ex) when (ex.ErrorId == ErrorIds.LockFailed)
        {
            // No deployment holds the lock (that would be DeploymentLocked), but this user cannot write one: a state path
            // it may not write (an auditor, a root-owned default), or a full disk. The step itself is what the on-call
            // engineer asked for, and whether the user may do it is for the service manager to say (SudoRequired, ...).
            Reporting.Current.Warning($"{target.Name}: {what} goes on without the deployment lock, which it could not create ({ex.Message.Replace(" Nothing was changed.", "")}).");
            return null;
        }
    }

    /// <summary>Reads a lock without taking it (for readiness checks and status).</summary>
    public static bool IsStale(string holder, TimeSpan age, out string why)
    {
        var fields = Fields(holder);
        if (holder.Trim().Length == 0)
        {
            // Older versions wrote the lock in place: a run that died (or a disk that filled) while writing left it empty.
            why = "the lock file is empty: a run died while creating it";
            return true;
        }

        // The pid is only meaningful on the same machine AND in the same pid namespace: a container or a cloned machine
        // can have this host name, and a live process there must not be taken for a dead one here.
        if (fields.TryGetValue("host", out var host) && host == System.Environment.MachineName
            && fields.TryGetValue("boot", out var boot) && boot == MachineIdentity.BootId
            && fields.TryGetValue("pidns", out var pidns) && pidns == MachineIdentity.PidNamespace
            && fields.TryGetValue("pid", out var pidText) && int.TryParse(pidText, NumberStyles.Integer, CultureInfo.InvariantCulture, out var pid))
        {
            if (!ProcessAlive(pid))
            {
                why = $"its process {pid} on this machine is gone";
                return true;
            }

            if (pid == CurrentProcessId && fields.TryGetValue("run", out var run) && !ActiveRuns.ContainsKey(run))
            {
                why = $"its run {run} in this process has ended without removing it";
                return true;
            }
        }

        if (age > StaleAfter)
        {
            why = $"not refreshed for {(int)age.TotalSeconds} s";
            return true;
        }

        why = "";
        return false;
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        if (_heartbeat is not null)
        {
            try
            {
                await _heartbeat.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // Stopped on purpose.
            }
        }

        ActiveRuns.TryRemove(_runId, out _);
        try
        {
            // Only our own lock is removed: a lock cleared and retaken by another run stays.
            await _shell.RunAsync(CommandLine.Script("grep -q -- \"token=$2 \" \"$1\" 2>/dev/null && rm -f -- \"$1\"; true", _path, _token), TimeSpan.FromSeconds(30), CancellationToken.None).ConfigureAwait(false);
        }
        catch (VaultException ex)
        {
            // Releasing must not replace the run's own outcome (a lost connection is usually why this fails).
            Reporting.Current.Warning($"Could not remove the deployment lock {_path}: {ex.Message} The next run will report it as stale; run it with -Force to clear it.");
        }
        finally
        {
            _stop.Dispose();
        }
    }

    /// <summary>Set when the heartbeat found the lock no longer carries this run's token (another run took it).</summary>
    public bool Lost { get; private set; }

    private static int CurrentProcessId { get; } = Process.GetCurrentProcess().Id;

    private static System.Collections.Generic.Dictionary<string, string> Fields(string holder) =>
        holder.Split(' ').Select(f => f.Split(new[] { '=' }, 2)).Where(f => f.Length == 2).GroupBy(f => f[0]).ToDictionary(g => g.Key, g => g.First()[1]);

    /// <summary>The journal line that closes a dead run's journal (null when the holder names no run id).</summary>
    internal static string? AbandonedLine(string holder, string why, string clearedBy, DateTimeOffset now) =>
        Fields(holder).TryGetValue("run", out var run) && RunIdPattern.IsMatch(run)
            ? new Newtonsoft.Json.Linq.JObject
            {
                ["time"] = now.ToString("o", CultureInfo.InvariantCulture), ["run"] = run, ["step"] = "run", ["phase"] = "end", ["outcome"] = "Abandoned",
                ["detail"] = $"the run did not finish ({why}); its lock was cleared by run {clearedBy}",
            }.ToString(Newtonsoft.Json.Formatting.None)
            : null;

    /// <summary>
    /// What a run that did not finish leaves, once its lock is cleared: its journal is closed (Abandoned), and the
    /// maintenance flags it set (-Maintenance) are removed, so the backend's API answers again.
    /// </summary>
    internal static async Task ClearDeadRunAsync(VaultTarget target, IHostShell shell, string holder, string why, string clearedBy, CancellationToken cancellationToken)
    {
        await CloseAbandonedJournalAsync(target, shell, holder, why, clearedBy, cancellationToken).ConfigureAwait(false);
        if (!Fields(holder).TryGetValue("run", out var run) || !RunIdPattern.IsMatch(run))
        {
            return;
        }

        try
        {
            var removed = await MaintenanceFlag.ClearOfRunAsync(target, shell, run, false, cancellationToken).ConfigureAwait(false);
            if (removed.Count > 0)
            {
                Reporting.Current.Warning($"{target.Name}: removed the maintenance flag the dead run {run} left ({string.Join(", ", removed)}): the API answers again.");
            }
        }
        catch (VaultException ex) when (!ex.IsConnectionFailure)
        {
            Reporting.Current.Warning($"{target.Name}: could not remove the maintenance flag the dead run {run} may have left: {ex.Message} Check with Disable-VaultMaintenanceMode.");
        }
    }

    internal static async Task CloseAbandonedJournalAsync(VaultTarget target, IHostShell shell, string holder, string why, string clearedBy, CancellationToken cancellationToken)
    {
        if (AbandonedLine(holder, why, clearedBy, DateTimeOffset.UtcNow) is not { } line)
        {
            return;
        }

        var journal = DeploymentJournal.DirectoryOf(target) + "/" + Fields(holder)["run"] + ".jsonl";
        var result = await shell.RunAsync(CommandLine.Script("[ -f \"$1\" ] || exit 0; grep -q '\"step\":\"run\",\"phase\":\"end\"' \"$1\" && exit 0; printf '%s\\n' \"$2\" >> \"$1\"", journal, line),
            TimeSpan.FromSeconds(30), cancellationToken).ConfigureAwait(false);
        if (!result.Succeeded)
        {
            Reporting.Current.Warning($"{target.Name}: could not close the journal {journal} of the dead run: {result.Tail(2)}");
        }
    }

    private void StartHeartbeat()
    {
        var token = _stop.Token;
        _heartbeat = Task.Run(async () =>
        {
            while (!token.IsCancellationRequested)
            {
                await Task.Delay(Heartbeat, token).ConfigureAwait(false);
                try
                {
                    var touched = await _shell.RunAsync(CommandLine.Script(OwnershipCheck + "\ntouch -c -- \"$1\"", _path), TimeSpan.FromSeconds(20), token).ConfigureAwait(false);
                    if (touched.ExitCode == 9)
                    {
                        Lost = true;
                    }
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    // A missed heartbeat is not fatal (whatever the transport threw); the deployment itself reports connection problems.
                }
            }
        }, token);
    }

    private static bool ProcessAlive(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }
}
