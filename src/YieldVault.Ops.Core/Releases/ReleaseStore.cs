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

    /// <summary>The release the app path points to, or null when the app path is not a link into releases/.</summary>
    public async Task<string?> CurrentAsync(CancellationToken cancellationToken)
    {
        var result = await _shell.RunAsync(CommandLine.Script("[ -L \"$1\" ] && readlink -f -- \"$1\"", _target.AppPath), Quick, cancellationToken).ConfigureAwait(false);
        var path = result.StandardOutput.Trim();
        return result.Succeeded && path.StartsWith(ReleasesDirectory + "/", StringComparison.Ordinal) ? path.Substring(ReleasesDirectory.Length + 1) : null;
    }

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
    /// and is linked back. The running process keeps running (its files do not move on disk).
    /// </summary>
    public async Task<bool> AdoptAsync(string commit, CancellationToken cancellationToken)
    {
        // $5 is the shared env file and $6 where the env file is in the app (config/prod.env, apps/api/.env), or empty when
        // the env file is outside the app and stays where it is.
        const string script = @"app=""$1""; rel=""$2""; name=""$3""; shared=""$4""; envshared=""$5""; envrel=""$6""
mkdir -p -- ""$rel"" ""$shared"" || exit 4
if [ -L ""$app"" ]; then exit 0; fi
if [ ! -d ""$app"" ]; then exit 0; fi
if [ -n ""$envrel"" ] && [ -f ""$app/$envrel"" ] && [ ! -L ""$app/$envrel"" ] && [ ! -e ""$envshared"" ]; then mv -- ""$app/$envrel"" ""$envshared"" || exit 5; fi
mv -T -- ""$app"" ""$rel/$name"" || exit 6
ln -s -- ""$rel/$name"" ""$app"" || { mv -T -- ""$rel/$name"" ""$app""; exit 7; }
if [ -n ""$envrel"" ] && [ -e ""$envshared"" ] && [ -d ""$(dirname -- ""$rel/$name/$envrel"")"" ]; then ln -sfn -- ""$envshared"" ""$rel/$name/$envrel""; fi
echo adopted";
        var result = await _shell.RunCheckedAsync(
            CommandLine.Script(script, _target.AppPath, ReleasesDirectory, NewReleaseName(commit, DateTimeOffset.UtcNow) + "-adopted", SharedDirectory, SharedEnvFile,
                _target.EnvFileInRelease ?? ""),
            ErrorIds.ReleaseLayoutFailed, $"Moving {_target.AppPath} into {ReleasesDirectory}", Quick, cancellationToken).ConfigureAwait(false);
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

    /// <summary>Points the app path at a release with an atomic rename of a new link over the old one.</summary>
    public Task SwitchAsync(string releaseName, CancellationToken cancellationToken) =>
        _shell.RunCheckedAsync(
            CommandLine.Script("[ -d \"$2/$3\" ] || exit 3; ln -sfn -- \"$2/$3\" \"$1.yv-switch\" && mv -Tf -- \"$1.yv-switch\" \"$1\"", _target.AppPath, ReleasesDirectory, releaseName),
            ErrorIds.ReleaseSwitchFailed, $"Switching {_target.AppPath} to release {releaseName}", Quick, cancellationToken);

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
