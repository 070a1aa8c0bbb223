using System;
using System.Globalization;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using YieldVault.Ops.Hosts;

namespace YieldVault.Ops.Runbook;

/// <summary>
/// The deployment lock by hand (Get-VaultDeploymentLock, Unlock-VaultDeployment): read it without taking it, and clear
/// it the way a deployment's -Force does: a stale lock, or a live one only when asked to (the cmdlet asks first). Clearing
/// closes the dead run's journal with an "Abandoned" end line; clearing a live lock notes it in that run's journal (the
/// run stops at its next step with LockLost and ends its journal itself). Only the lock that was read is removed: a lock
/// another run took meanwhile stays (<see cref="ErrorIds.LockChanged"/>).
/// </summary>
public static class LockInspection
{
    private const string ReadScript = @"[ -f ""$1"" ] || exit 3
now=$(date +%s); mtime=$(stat -c %Y -- ""$1"" 2>/dev/null || echo ""$now"")
printf 'age=%s\n' ""$((now - mtime))""; head -c 500 -- ""$1""";

    /// <summary>The lock of <paramref name="target"/>, or null when none is held.</summary>
    public static async Task<VaultDeploymentLockInfo?> ReadAsync(VaultTarget target, IHostShell shell, CancellationToken cancellationToken)
    {
        var (info, _) = await ReadWithHolderAsync(target, shell, cancellationToken).ConfigureAwait(false);
        return info;
    }

    /// <summary>
    /// Removes the lock of <paramref name="target"/> when it is stale, or when <paramref name="force"/> is set whatever it
    /// is, and returns what it removed (Cleared set); null when there was no lock. A live lock without
    /// <paramref name="force"/> is <see cref="ErrorIds.DeploymentLocked"/>.
    /// </summary>
    public static async Task<VaultDeploymentLockInfo?> ClearAsync(VaultTarget target, IHostShell shell, bool force, VaultDeploymentLockInfo? expected, CancellationToken cancellationToken)
    {
        var (info, holder) = await ReadWithHolderAsync(target, shell, cancellationToken).ConfigureAwait(false);
        if (info is null)
        {
            return null;
        }

        if (expected is not null && expected.RunId != info.RunId)
        {
            throw Changed(target, info);
        }

        if (!info.IsStale && !force)
        {
            throw new VaultException(ErrorIds.DeploymentLocked, VaultErrorKind.ResourceBusy,
                $"{target.DisplayName}: the deployment lock is held by a live run ({Describe(info)}; refreshed {info.Age.TotalSeconds:0} s ago). Nothing was removed.",
                $"Wait for it to finish (Get-VaultDeploymentJournal -RunId {info.RunId}); clear it only if you know that run is gone, with -Force.");
        }

        var clearedBy = "Unlock-VaultDeployment (" + DeploymentRecords.CurrentUser() + ")";
        if (info.IsStale)
        {
            await DeploymentLock.ClearDeadRunAsync(target, shell, holder, info.StaleReason, clearedBy, cancellationToken).ConfigureAwait(false);
        }
        else if (info.JournalPath is { } journal)
        {
            var note = new Newtonsoft.Json.Linq.JObject
            {
                ["time"] = DateTimeOffset.UtcNow.ToString("o", CultureInfo.InvariantCulture), ["run"] = info.RunId, ["step"] = "lock", ["phase"] = "cleared",
                ["outcome"] = "Forced", ["detail"] = $"the live lock of this run was cleared with -Force by {clearedBy}; the run stops at its next step (LockLost)",
            }.ToString(Newtonsoft.Json.Formatting.None);
            await shell.RunAsync(CommandLine.Script("[ -f \"$1\" ] && printf '%s\\n' \"$2\" >> \"$1\"; true", journal, note), TimeSpan.FromSeconds(30), cancellationToken).ConfigureAwait(false);
        }

        // Only the lock that was read: a lock whose token differs now belongs to another run.
        var token = Token(holder);
        var removed = await shell.RunAsync(
            CommandLine.Script(token.Length == 0 ? "[ -s \"$1\" ] && exit 9; rm -f -- \"$1\"" : "grep -q -- \"token=$2 \" \"$1\" 2>/dev/null || exit 9; rm -f -- \"$1\"",
                info.Path, token),
            TimeSpan.FromSeconds(30), cancellationToken).ConfigureAwait(false);
        if (removed.ExitCode == 9)
        {
            throw Changed(target, info);
        }

        if (!removed.Succeeded)
        {
            throw new VaultException(ErrorIds.LockFailed, VaultErrorKind.InvalidOperation,
                $"{target.DisplayName}: could not remove the deployment lock {info.Path}: {removed.Tail(2)}", $"Check that the target's user may write {info.Path}'s directory.");
        }

        info.Cleared = true;
        return info;
    }

    /// <summary>"run 20261126T040000Z-1a2b3c by ops on laptop (pid 4242), since 04:00:00Z".</summary>
    public static string Describe(VaultDeploymentLockInfo info) =>
        info.RunId is null ? "an empty lock file" :
        $"run {info.RunId} by {info.User ?? "?"} on {info.Machine ?? "?"} (pid {info.ProcessId?.ToString(CultureInfo.InvariantCulture) ?? "?"})"
        + (info.StartedAt is { } started ? $", since {started.UtcDateTime:yyyy-MM-dd HH:mm:ss}Z" : "");

    private static VaultException Changed(VaultTarget target, VaultDeploymentLockInfo now) =>
        new(ErrorIds.LockChanged, VaultErrorKind.ResourceBusy,
            $"{target.DisplayName}: the deployment lock changed since it was read: it is now {Describe(now)}. Nothing was removed.",
            "Read it again (Get-VaultDeploymentLock) before you clear it.");

    private static async Task<(VaultDeploymentLockInfo? Info, string Holder)> ReadWithHolderAsync(VaultTarget target, IHostShell shell, CancellationToken cancellationToken)
    {
        var path = DeploymentReadiness.LockPath(target);
        var result = await shell.RunAsync(CommandLine.Script(ReadScript, path), TimeSpan.FromSeconds(30), cancellationToken).ConfigureAwait(false);
        if (result.ExitCode == 3)
        {
            return (null, "");
        }

        if (!result.Succeeded)
        {
            throw new VaultException(ErrorIds.LockFailed, VaultErrorKind.ResourceUnavailable,
                $"{target.DisplayName}: could not read the deployment lock {path}: {result.Tail(2)}", $"Check that the target's user may read {path}.");
        }

        var lines = result.StandardOutput.Replace("\r", "").Split('\n');
        var age = int.TryParse(lines[0].Replace("age=", ""), NumberStyles.Integer, CultureInfo.InvariantCulture, out var a) ? a : 0;
        var holder = string.Join(" ", lines.Skip(1)).Trim();
        var stale = DeploymentLock.IsStale(holder, TimeSpan.FromSeconds(age), out var why);
        var fields = holder.Split(' ').Select(f => f.Split(new[] { '=' }, 2)).Where(f => f.Length == 2)
            .GroupBy(f => f[0], StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First()[1], StringComparer.Ordinal);
        var runId = fields.TryGetValue("run", out var run) && JournalReader.IsRunId(run) ? run : null;
        DateTimeOffset? started = fields.TryGetValue("started", out var s)
            && DateTimeOffset.TryParse(s, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t) ? t : null;
        return (new VaultDeploymentLockInfo
        {
            Target = target,
            Path = path,
            RunId = runId,
            Machine = fields.TryGetValue("host", out var host) ? host : null,
            ProcessId = fields.TryGetValue("pid", out var pid) && int.TryParse(pid, NumberStyles.Integer, CultureInfo.InvariantCulture, out var p) ? p : null,
            User = fields.TryGetValue("user", out var user) ? user : null,
            StartedAt = started,
            HeldFor = started is { } since ? DateTimeOffset.UtcNow - since : null,
            Age = TimeSpan.FromSeconds(age),
            IsStale = stale,
            StaleReason = why,
            JournalPath = runId is null ? null : JournalReader.PathOf(target, runId),
        }, holder);
    }

    private static string Token(string holder) =>
        holder.Split(' ').Where(f => f.StartsWith("token=", StringComparison.Ordinal)).Select(f => f.Substring(6)).FirstOrDefault() ?? "";
}
