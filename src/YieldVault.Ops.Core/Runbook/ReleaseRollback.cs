using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using YieldVault.Ops.Hosts;
using YieldVault.Ops.Releases;

namespace YieldVault.Ops.Runbook;

/// <summary>
/// The runbook's Rollback Procedure without its rebuild: point the app path at an earlier release (a link switch) and
/// optionally put back the env file from a backup. Which release: the named one, the backup's, or the one the last
/// deployment replaced.
/// </summary>
internal sealed class ReleaseRollback : IRollbackStrategy
{
    private readonly VaultTarget _target;
    private readonly IHostShell _shell;
    private readonly ReleaseStore _store;
    private readonly RollbackPlan _plan;
    private string? _envSha256;

    public ReleaseRollback(VaultTarget target, IHostShell shell, RollbackPlan plan)
    {
        _target = target;
        _shell = shell;
        _store = new ReleaseStore(target, shell);
        _plan = plan;
    }

    public string Runbook => "Rollback";

    private string Release => _plan.Release ?? throw new InvalidOperationException("A release rollback needs a chosen release.");

    /// <summary>The release to go back to: the named one, the backup's, or the one the current one replaced.</summary>
    public static async Task<RollbackPlan> PlanAsync(VaultTarget target, IHostShell shell, RollbackRequest request, CancellationToken cancellationToken)
    {
        var (release, current) = await ChooseAsync(target, shell, request.Release ?? request.Backup?.Release, cancellationToken).ConfigureAwait(false);
        return new RollbackPlan(request, $"from release {current ?? "(none)"} to {release}", release, current);
    }

    public async Task<ExpectedVersion> ResolveAsync(VaultDeploymentResult result, CancellationToken cancellationToken)
    {
        // Chosen again under the lock: a deployment or cleanup between the prompt and the lock may have changed what
        // "the previous release" is, or removed the one named. The user confirmed one release; no other is taken.
        var wanted = _plan.Request.Release ?? _plan.Request.Backup?.Release;
        string chosen;
        string? current;
        try
        {
            (chosen, current) = await ChooseAsync(_target, _shell, wanted, cancellationToken).ConfigureAwait(false);
        }
        catch (VaultException ex) when (ex.ErrorId == ErrorIds.ReleaseNotFound)
        {
            throw new VaultException(ErrorIds.ReleaseNotFound, VaultErrorKind.ObjectNotFound,
                $"{_target.DisplayName}: the release '{Release}' is no longer in {_store.ReleasesDirectory}. Nothing was changed.", "List the releases with Get-VaultRelease.");
        }

        if (chosen != Release)
        {
            throw new VaultException(ErrorIds.RollbackTargetChanged, VaultErrorKind.InvalidOperation,
                $"{_target.DisplayName}: since the rollback was planned, the release to go back to changed from {Release} to {chosen} (another run changed the target). Nothing was changed.",
                "Look at Get-VaultDeploymentHistory -Last 3, then run Undo-VaultDeployment again (or name the release with -Release).");
        }

        if (_plan.Request.RestoreEnvFile && _plan.Request.Backup is { EnvFileCopy: { } copy } backup)
        {
            // Before anything stops: a copy that is not what was backed up is never restored.
            _envSha256 = await VerifyEnvCopyAsync(backup, copy, cancellationToken).ConfigureAwait(false);
        }

        result.ReleaseBefore = current;
        result.ReleaseAfter = Release;
        var git = await _shell.RunAsync(CommandLine.Script("git -c safe.directory='*' -C \"$1/$2\" rev-parse HEAD 2>/dev/null", _store.ReleasesDirectory, Release),
            TimeSpan.FromSeconds(30), cancellationToken).ConfigureAwait(false);
        var commit = git.Succeeded ? git.StandardOutput.Trim() : null;
        return new ExpectedVersion(null, commit is { Length: 40 } ? commit : null, "release " + Release);
    }

    public async Task<string> SwitchAsync(CancellationToken cancellationToken)
    {
        await _store.SwitchAsync(Release, cancellationToken).ConfigureAwait(false);
        var restore = _plan.Request.RestoreEnvFile ? _plan.Request.Backup : null;
        if (restore?.EnvFileCopy is { } copy)
        {
            // Written whole beside the env file and checked again before it takes the env file's place.
            const string script = @"umask 077
if cat -- ""$1"" > ""$2.yv-restore"" && { [ -z ""$3"" ] || [ ""$(sha256sum < ""$2.yv-restore"" | cut -d ' ' -f 1)"" = ""$3"" ]; } && mv -f -- ""$2.yv-restore"" ""$2""; then exit 0; fi
rm -f -- ""$2.yv-restore""; exit 1";
            await _shell.RunCheckedAsync(CommandLine.Script(script, copy, _store.SharedEnvFile, _envSha256 ?? ""),
                ErrorIds.EnvRestoreFailed, "Restoring the env file from " + restore.Path, TimeSpan.FromSeconds(30), cancellationToken).ConfigureAwait(false);
            return $"switched to {Release} with the env file from {restore.Path}";
        }

        return "switched to " + Release;
    }

    /// <summary>
    /// The SHA-256 of the backup's env file copy, once it equals the one recorded when the backup was taken (on the record
    /// and in its backup.json); a backup of an earlier version, which recorded none, is restored with a warning.
    /// </summary>
    private async Task<string?> VerifyEnvCopyAsync(VaultBackupRecord backup, string copy, CancellationToken cancellationToken)
    {
        var read = await _shell.RunAsync(CommandLine.Script("{ sha256sum < \"$1\" 2>/dev/null || echo; } | cut -d ' ' -f 1; cat -- \"$2/backup.json\" 2>/dev/null", copy, backup.Path),
            TimeSpan.FromSeconds(30), cancellationToken).ConfigureAwait(false);
        var lines = read.StandardOutput.Replace("\r", "").Split(new[] { '\n' }, 2);
        var actual = lines[0].Trim().ToLowerInvariant();
        string? recorded = null;
        try
        {
            recorded = lines.Length > 1 && lines[1].Trim().Length > 0 ? (string?)Newtonsoft.Json.Linq.JObject.Parse(lines[1])["envFileSha256"] : null;
        }
        catch (Newtonsoft.Json.JsonException)
        {
            // An unreadable backup.json records nothing; the record's own value still counts.
        }

        var expected = new[] { backup.EnvFileSha256, recorded }.Where(v => !string.IsNullOrEmpty(v)).Select(v => v!.ToLowerInvariant()).Distinct().ToList();
        if (expected.Count == 0)
        {
            Reporting.Current.Warning($"{_target.Name}: the backup {backup.Path} records no SHA-256 of its env file copy (taken by an earlier version); it is restored unchecked.");
            return null;
        }

        if (actual.Length != 64 || expected.Count > 1 || expected[0] != actual)
        {
            throw new VaultException(ErrorIds.EnvBackupChecksumMismatch, VaultErrorKind.InvalidData,
                $"{_target.DisplayName}: the env file copy {copy} " + (actual.Length != 64 ? "cannot be read" : $"has SHA-256 {actual}, not the {string.Join(" / ", expected)} recorded when the backup was taken") +
                "; it is not restored. Nothing was changed.",
                "Roll back without -RestoreEnvFile, or with a backup whose copy is whole; compare the copy with the env file by hand before using it.");
        }

        return actual;
    }

    private static async Task<(string Release, string? Current)> ChooseAsync(VaultTarget target, IHostShell shell, string? wanted, CancellationToken cancellationToken)
    {
        var store = new ReleaseStore(target, shell);
        var releases = await store.ListAsync(cancellationToken).ConfigureAwait(false);
        var current = releases.FirstOrDefault(r => r.IsCurrent)?.Name;
        if (wanted is not null)
        {
            return releases.Any(r => r.Name == wanted)
                ? (wanted, current)
                : throw new VaultException(ErrorIds.ReleaseNotFound, VaultErrorKind.ObjectNotFound,
                    $"{target.DisplayName}: there is no release '{wanted}' in {store.ReleasesDirectory}.", "List the releases with Get-VaultRelease.");
        }

        if (current is null)
        {
            throw new VaultException(ErrorIds.NoPreviousRelease, VaultErrorKind.ObjectNotFound,
                $"{target.DisplayName}: {target.AppPath} is not a link into {store.ReleasesDirectory}, so there is no release to go back to.",
                "Deploy with Invoke-VaultDeployment first, or pass -Release.");
        }

        // A deployment that died (or was stopped) after the stop but before the switch took effect left the old release
        // current and stopped: going "back" means starting the current release again, not the one before it.
        if (await LastRunDiedBeforeSwitchAsync(target, shell, current, cancellationToken).ConfigureAwait(false))
        {
            Reporting.Current.Warning($"{target.Name}: the last deployment did not finish and never switched releases; starting the current release {current} again.");
            return (current, current);
        }

        // The release the current one replaced, from the record of the deployment that made it current
        // (names sort by preparation time, which after a deploy, an undo and a redeploy is not the same).
        IReadOnlyList<VaultDeploymentRecord> history;
        try
        {
            history = await DeploymentRecords.ReadAsync(target, shell, cancellationToken).ConfigureAwait(false);
        }
        catch (VaultException ex) when (!ex.IsConnectionFailure)
        {
            Reporting.Current.Warning($"{target.Name}: the deployment history could not be read ({ex.Message}); choosing the release before the current one by name.");
            history = Array.Empty<VaultDeploymentRecord>();
        }

        var replaced = history
            .Where(r => r.Kind == DeploymentRecords.DeployKind && r.Status == DeploymentStatus.Succeeded && r.ReleaseAfter == current)
            .OrderByDescending(r => r.EndedAt)
            .Select(r => r.ReleaseBefore)
            .FirstOrDefault();
        if (replaced is not null && replaced != current && releases.Any(r => r.Name == replaced))
        {
            return (replaced, current);
        }

        var index = releases.ToList().FindIndex(r => r.IsCurrent);
        return index > 0
            ? (releases[index - 1].Name, current)
            : throw new VaultException(ErrorIds.NoPreviousRelease, VaultErrorKind.ObjectNotFound,
                $"{target.DisplayName}: {current} is the oldest release; there is nothing before it.", "Pass -Release to pick one.");
    }

    private static async Task<bool> LastRunDiedBeforeSwitchAsync(VaultTarget target, IHostShell shell, string current, CancellationToken cancellationToken)
    {
        // The newest run stopped the service (its stop step started) and never rolled back, and either never began its
        // switch, or began it and did not finish it (killed before the link rename): then the app path still points
        // where the run started from, its releaseBefore.
        const string script = @"last=$(ls -1t -- ""$1""/*.jsonl 2>/dev/null | head -n 1)
[ -n ""$last"" ] || exit 0
grep -q '""step"":""Stop current service"",""phase"":""start""' ""$last"" || exit 0
grep -q '""step"":""rollback""' ""$last"" && exit 0
grep -q '""step"":""Switch and start [a-z]* version"",""phase"":""start""' ""$last"" || { echo died-before-switch; exit 0; }
grep -q '""step"":""Switch and start [a-z]* version"",""phase"":""end""' ""$last"" && exit 0
echo ""switch-unfinished $(grep -o '""releaseBefore"":""[^""]*""' ""$last"" | head -n 1 | cut -d '""' -f 4)""";
        var result = await shell.RunAsync(CommandLine.Script(script, DeploymentJournal.DirectoryOf(target)), TimeSpan.FromSeconds(30), cancellationToken).ConfigureAwait(false);
        var output = result.StandardOutput.Trim();
        return output.Contains("died-before-switch") || output == "switch-unfinished " + current;
    }
}
