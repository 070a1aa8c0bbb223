using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using YieldVault.Ops.Hosts;

namespace YieldVault.Ops.Releases;

/// <summary>
/// The release layout on a host: releases/&lt;time&gt;-&lt;shortsha&gt; directories, a shared/ directory with the .env,
/// and the app path as a symlink to the current release. Switching is an atomic rename of a new link over
/// the old one, so the app path never points nowhere and a rollback is a link switch, not a rebuild.
/// </summary>
public sealed class ReleaseStore
{
    private static readonly TimeSpan Quick = TimeSpan.FromSeconds(60);
    private readonly VaultTarget _target;
    private readonly IHostShell _shell;

    public ReleaseStore(VaultTarget target, IHostShell shell)
    {
        _target = target;
        _shell = shell;
    }

    public string ReleasesDirectory => _target.ReleasesDirectory.TrimEnd('/') + "/releases";

    public string SharedDirectory => _target.ReleasesDirectory.TrimEnd('/') + "/shared";

    /// <summary>
    /// The env file every release reads: shared/&lt;name&gt;, linked into each release at <see cref="VaultTarget.EnvFileInRelease"/>;
    /// or the target's own EnvFile when it is outside the app (nothing to share or link).
    /// </summary>
    public string SharedEnvFile => _target.EnvFileInRelease is { } inRelease
        ? SharedDirectory + "/" + inRelease.Substring(inRelease.LastIndexOf('/') + 1)
        : _target.EnvFilePath;

    public string GitCache => _target.ReleasesDirectory.TrimEnd('/') + "/git-cache.git";

    public static string NewReleaseName(string commit, DateTimeOffset now) =>
        now.UtcDateTime.ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture) + "-" + (commit.Length > 7 ? commit.Substring(0, 7) : commit);

    /// <summary>
    /// The release the app path points to, or null when the app path is not a link into releases/. An adoption that was
    /// interrupted between its move and its link is finished first (<see cref="RepairScript"/>), so every read of the
    /// releases sees the app path again.
    /// </summary>
    public async Task<string?> CurrentAsync(CancellationToken cancellationToken)
    {
        var result = await _shell.RunAsync(CommandLine.Script(RepairScript + "\n[ -L \"$1\" ] && echo \"current=$(readlink -f -- \"$1\")\"", _target.AppPath, ReleasesDirectory),
            Quick, cancellationToken).ConfigureAwait(false);
        ReportRepair(result);
        var path = Fact(result, "current");
        return path is not null && path.StartsWith(ReleasesDirectory + "/", StringComparison.Ordinal) ? path.Substring(ReleasesDirectory.Length + 1) : null;
    }

    /// <summary>
    /// Finishes what a run killed half way left in the layout (today: an adoption between its move and its link); true
    /// when something was repaired. Idempotent, and safe beside a live adoption (both would make the same link).
    /// </summary>
    public async Task<bool> RepairAsync(CancellationToken cancellationToken)
    {
        var result = await _shell.RunAsync(CommandLine.Script(RepairScript, _target.AppPath, ReleasesDirectory), Quick, cancellationToken).ConfigureAwait(false);
        return ReportRepair(result);
    }

    // $1: the app path, $2: the releases directory. An adoption writes the release's name to $2/.yv-adopting before it moves
    // the app directory and removes it once the app path links to it; a name there with no app path means the run died
    // between the two: the link is made now. A marker whose adoption finished (or never moved anything) is removed.
    private const string RepairScript = @"m=""$2/.yv-adopting""
if [ -f ""$m"" ]; then
  n=$(head -n 1 -- ""$m"")
  case ""$n"" in ''|*/*|.*) n='';; esac
  if [ -n ""$n"" ] && [ ! -e ""$1"" ] && [ ! -L ""$1"" ] && [ -d ""$2/$n"" ]; then ln -s -- ""$2/$n"" ""$1"" && echo ""repaired=$n""; fi
  if [ -L ""$1"" ] || [ -z ""$n"" ] || [ ! -d ""$2/$n"" ]; then rm -f -- ""$m""; fi
fi";

    private bool ReportRepair(CommandResult result)
    {
        if (Fact(result, "repaired") is not { } name)
        {
            return false;
        }

        Reporting.Current.Warning($"{_target.Name}: {_target.AppPath} was missing: a run was stopped while it moved the app directory into {ReleasesDirectory}/{name}; the link to that release is restored.");
        return true;
    }

    private static string? Fact(CommandResult result, string key) =>
        result.StandardOutput.Replace("\r", "").Split('\n').Where(l => l.StartsWith(key + "=", StringComparison.Ordinal)).Select(l => l.Substring(key.Length + 1).Trim()).LastOrDefault();

    public async Task<IReadOnlyList<VaultRelease>> ListAsync(CancellationToken cancellationToken)
    {
        var current = await CurrentAsync(cancellationToken).ConfigureAwait(false);
        var result = await _shell.RunAsync(CommandLine.Script("[ -d \"$1\" ] && ls -1 -- \"$1\" || true", ReleasesDirectory), Quick, cancellationToken).ConfigureAwait(false);
        return result.StandardOutput.Replace("\r", "").Split('\n').Where(n => n.Length > 0 && !n.StartsWith(".", StringComparison.Ordinal))
            .OrderBy(n => n, StringComparer.Ordinal)
            .Select(n => new VaultRelease { Target = _target, Name = n, Path = ReleasesDirectory + "/" + n, IsCurrent = n == current })
            .ToList();
    }

    /// <summary>
    /// Brings a plain checkout at the app path (the runbook's layout) under release management: the
    /// directory moves into releases/ and the app path becomes a link to it; its env file moves to shared/
    /// and is linked back. The running process keeps running (its files do not move on disk). A kill at any point leaves
    /// a state the next run (or read) finishes: the env file is always readable at the app path (copied whole to shared/,
    /// then replaced by a link with a rename), and between the move and the link a marker names the release, from which
    /// <see cref="RepairScript"/> makes the link.
    /// </summary>
    public async Task<bool> AdoptAsync(string commit, CancellationToken cancellationToken)
    {
        // $5 is the shared env file and $6 where the env file is in the app (config/prod.env, apps/api/.env), or empty when
        // the env file is outside the app and stays where it is.
        const string adopt = @"
app=""$1""; rel=""$2""; name=""$3""; shared=""$4""; envshared=""$5""; envrel=""$6""
mkdir -p -- ""$rel"" ""$shared"" || exit 4
if [ -L ""$app"" ]; then exit 0; fi
if [ ! -d ""$app"" ]; then exit 0; fi
if [ -n ""$envrel"" ]; then
  if [ -f ""$app/$envrel"" ] && [ ! -L ""$app/$envrel"" ]; then
    if [ ! -e ""$envshared"" ]; then
      mkdir -p -- ""$(dirname -- ""$envshared"")"" && cp -p -- ""$app/$envrel"" ""$envshared.yv-adopt"" && mv -f -- ""$envshared.yv-adopt"" ""$envshared"" || { rm -f -- ""$envshared.yv-adopt""; exit 5; }
    fi
    ln -sfn -- ""$envshared"" ""$app/$envrel.yv-adopt"" && mv -Tf -- ""$app/$envrel.yv-adopt"" ""$app/$envrel"" || exit 5
  elif [ ! -e ""$app/$envrel"" ] && [ ! -L ""$app/$envrel"" ] && [ -e ""$envshared"" ] && [ -d ""$(dirname -- ""$app/$envrel"")"" ]; then
    ln -s -- ""$envshared"" ""$app/$envrel"" || exit 5
  fi
fi
printf '%s\n' ""$name"" > ""$rel/.yv-adopting.new"" && mv -f -- ""$rel/.yv-adopting.new"" ""$rel/.yv-adopting"" || exit 4
mv -T -- ""$app"" ""$rel/$name"" || { rm -f -- ""$rel/.yv-adopting""; exit 6; }
if ! ln -s -- ""$rel/$name"" ""$app"" && [ ""$(readlink -- ""$app"")"" != ""$rel/$name"" ]; then
  mv -T -- ""$rel/$name"" ""$app"" && rm -f -- ""$rel/.yv-adopting""; exit 7
fi
rm -f -- ""$rel/.yv-adopting""
echo adopted";
        // The repair runs first with the same $1 and $2: a run that died half way through an adoption is finished, not redone.
        var result = await _shell.RunCheckedAsync(
            CommandLine.Script(RepairScript + adopt, _target.AppPath, ReleasesDirectory, NewReleaseName(commit, DateTimeOffset.UtcNow) + "-adopted", SharedDirectory, SharedEnvFile,
                _target.EnvFileInRelease ?? ""),
            ErrorIds.ReleaseLayoutFailed, $"Moving {_target.AppPath} into {ReleasesDirectory}", Quick, cancellationToken).ConfigureAwait(false);
        ReportRepair(result);
        return result.StandardOutput.Contains("adopted");
    }

    /// <summary>
    /// Links the shared env file into a release (before the switch) where the target's EnvFile is in it (its directory is
    /// created when the release has none), so every release reads the one file; an env file outside the app must exist.
    /// </summary>
    public async Task LinkEnvFileAsync(string releasePath, CancellationToken cancellationToken)
    {
        const string script = "[ -f \"$2\" ] || { echo \"the env file $2 does not exist\" >&2; exit 3; }\n" +
            "[ -n \"$3\" ] || exit 0\n" +
            "mkdir -p -- \"$(dirname -- \"$1/$3\")\" && ln -sfn -- \"$2\" \"$1/$3\"";
        await _shell.RunCheckedAsync(CommandLine.Script(script, releasePath.TrimEnd('/'), SharedEnvFile, _target.EnvFileInRelease ?? ""),
            ErrorIds.EnvFileMissing, "Linking the env file", TimeSpan.FromSeconds(30), cancellationToken, VaultErrorKind.ObjectNotFound,
            $"Put the backend's env file at {SharedEnvFile}.").ConfigureAwait(false);
    }

    /// <summary>What linking the env file does, for the plan -WhatIf shows.</summary>
    public string DescribeEnvFileLink() => _target.EnvFileInRelease is { } inRelease
        ? $"ln -s {SharedEnvFile} <release>/{inRelease}"
        : $"the env file {SharedEnvFile} is outside the release: it must exist, nothing is linked";

    /// <summary>
    /// Points the app path at a release with an atomic rename of a new link over the old one. A link already there is
    /// left as it is (nothing to write, so a switch back on a full disk works); a leftover temporary link of a run killed
    /// before its rename is replaced; a link that cannot be written (a full disk) leaves the app path as it was.
    /// </summary>
    public Task SwitchAsync(string releaseName, CancellationToken cancellationToken) =>
        _shell.RunCheckedAsync(CommandLine.Script(SwitchScript, _target.AppPath, ReleasesDirectory, releaseName),
            ErrorIds.ReleaseSwitchFailed, $"Switching {_target.AppPath} to release {releaseName}", Quick, cancellationToken);

    // One line: it is shown in the error when it fails.
    private const string SwitchScript = @"[ -d ""$2/$3"" ] || exit 3; rm -f -- ""$1.yv-switch""; if [ -L ""$1"" ] && [ ""$(readlink -- ""$1"")"" = ""$2/$3"" ]; then exit 0; fi; " +
        @"ln -s -- ""$2/$3"" ""$1.yv-switch"" && mv -Tf -- ""$1.yv-switch"" ""$1"" && exit 0; rm -f -- ""$1.yv-switch""; exit 1";

    /// <summary>Removes old releases beyond the target's KeepReleases, never the current or <paramref name="keep"/> ones.</summary>
    public async Task<IReadOnlyList<string>> PruneAsync(IEnumerable<string> keep, CancellationToken cancellationToken)
    {
        var releases = await ListAsync(cancellationToken).ConfigureAwait(false);
        var protectedNames = new HashSet<string>(keep.Where(k => !string.IsNullOrEmpty(k)), StringComparer.Ordinal);
        var removable = releases.Where(r => !r.IsCurrent && !protectedNames.Contains(r.Name)).ToList();
        var excess = releases.Count - _target.KeepReleases;
        var removed = removable.Take(Math.Max(0, excess)).Select(r => r.Name).ToList();
        foreach (var name in removed)
        {
            await _shell.RunCheckedAsync(CommandLine.Script("rm -rf -- \"$1/$2\"", ReleasesDirectory, name), ErrorIds.ReleasePruneFailed, $"Removing old release {name}", Quick, cancellationToken).ConfigureAwait(false);
        }

        return removed;
    }

    /// <summary>
    /// Removes a release that failed to prepare (never the current one). Best effort: it runs while another
    /// failure is being reported (often a lost connection), which must not be replaced by this one.
    /// </summary>
    public async Task DiscardAsync(string releaseName, CancellationToken cancellationToken)
    {
        try
        {
            var current = await CurrentAsync(cancellationToken).ConfigureAwait(false);
            if (current != releaseName)
            {
                await _shell.RunAsync(CommandLine.Script("rm -rf -- \"$1/$2\"", ReleasesDirectory, releaseName), Quick, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (VaultException ex)
        {
            Reporting.Current.Warning($"{_target.Name}: could not remove the unfinished release {ReleasesDirectory}/{releaseName}: {ex.Message}");
        }
    }
}
