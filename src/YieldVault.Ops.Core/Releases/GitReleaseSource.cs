using System;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using YieldVault.Ops.Hosts;

namespace YieldVault.Ops.Releases;

/// <summary>
/// Runbook Step 4 Option A, done in a new release directory: a mirror of the repository is fetched on
/// the host (the runbook's "git fetch origin"), the ref is resolved to a commit, and a checkout of it
/// sharing the mirror's objects is built.
/// </summary>
public static class GitReleaseSource
{
    public static async Task<string> RepositoryAsync(VaultTarget target, IHostShell shell, CancellationToken cancellationToken)
    {
        if (target.Repository is { } configured)
        {
            return configured;
        }

        var result = await shell.RunAsync(CommandLine.Script("git -c safe.directory='*' -C \"$1\" remote get-url origin", target.AppPath), TimeSpan.FromSeconds(30), cancellationToken).ConfigureAwait(false);
        var url = result.StandardOutput.Trim();
        if (!result.Succeeded || url.Length == 0)
        {
            throw new VaultException(ErrorIds.RepositoryUnknown, VaultErrorKind.ObjectNotFound,
                $"{target.DisplayName}: no Repository setting and {target.AppPath} is not a git checkout with an origin remote.",
                "Set the target's Repository (New-VaultTarget -Repository, or Repository = '...' in the targets file).");
        }

        return url;
    }

    /// <summary>
    /// Fetches and resolves <paramref name="gitRef"/> to a full commit id (fails before anything changes). Git lock files
    /// in the cache mirror older than this run (it started <paramref name="runAge"/> ago) whose git is gone are removed
    /// first: a fetch killed mid-way leaves one (refs/heads/x.lock, packed-refs.lock, shallow.lock ...), and git refuses
    /// every later fetch while it is there.
    /// </summary>
    public static async Task<string> ResolveAsync(VaultTarget target, IHostShell shell, ReleaseStore store, string repository, string gitRef, TimeSpan runAge,
        CancellationToken cancellationToken)
    {
        if (!GitRefs.IsValid(gitRef))
        {
            throw new VaultException(ErrorIds.InvalidRef, VaultErrorKind.InvalidArgument,
                $"'{gitRef}' is not a git ref this module deploys: use a tag, branch or commit (letters, digits, '.', '_', '/', '+', '-'; not starting with '-').");
        }

        var timeout = target.Ssh?.CommandTimeout ?? TimeSpan.FromSeconds(RunbookDefaults.CommandTimeoutSec);
        await ClearStaleLocksAsync(target, shell, store, runAge, cancellationToken).ConfigureAwait(false);
        // --end-of-options and "--" keep the repository and the ref from ever being read as options. A mirror that is not
        // a repository (a clone killed before it wrote HEAD) is cloned again.
        await shell.RunCheckedAsync(CommandLine.Script(
                "mkdir -p -- \"$(dirname \"$2\")\" && if [ -d \"$2\" ] && ! git --git-dir=\"$2\" rev-parse --git-dir >/dev/null 2>&1; then rm -rf -- \"$2\"; fi && " +
                "if [ -d \"$2\" ]; then git --git-dir=\"$2\" remote set-url origin -- \"$1\" && git --git-dir=\"$2\" fetch --quiet --prune --tags origin '+refs/heads/*:refs/heads/*'; else git clone --quiet --mirror -- \"$1\" \"$2\"; fi",
                repository, store.GitCache),
            ErrorIds.FetchFailed, $"Fetching {repository}", timeout, cancellationToken, VaultErrorKind.ConnectionError,
            "Check that the host can reach the repository and that its credentials work.").ConfigureAwait(false);

        var resolved = await shell.RunAsync(CommandLine.Script("git --git-dir=\"$1\" rev-parse --verify --quiet --end-of-options \"$2^{commit}\"", store.GitCache, gitRef),
            TimeSpan.FromSeconds(60), cancellationToken).ConfigureAwait(false);
        var commit = resolved.StandardOutput.Trim();
        if (!resolved.Succeeded || commit.Length != 40)
        {
            throw new VaultException(ErrorIds.RefNotFound, VaultErrorKind.ObjectNotFound,
                $"{target.DisplayName}: '{gitRef}' is not a tag, branch or commit of {repository}. Nothing was changed.",
                "List what exists with: git ls-remote --tags " + repository);
        }

        return commit;
    }

    // $1: the mirror, $2: the run's age in milliseconds (a fetch killed a moment before this run started left a lock in
    // the same second: whole seconds would take it for this run's own). A lock file counts as stale when it is older than the run (so not this
    // run's) and no process outside this run's session names the mirror in its command line or environment (so its git
    // is gone: git writes no owner into its lock files). Prints removed=, fresh= (newer than the run) and busy= lines.
    private const string StaleLocksScript = @"d=""$1""; age=""$2""
[ -d ""$d"" ] || exit 0
locks=$(find ""$d"" -type f -name '*.lock' 2>/dev/null)
[ -n ""$locks"" ] || exit 0
own=''
if read -r s 2>/dev/null < /proc/$$/stat; then s=${s##*) }; set -- $s; own=$4; fi
for p in /proc/[0-9]*; do
  read -r s 2>/dev/null < ""$p/stat"" || continue
  s=${s##*) }; set -- $s; [ -n ""$own"" ] && [ ""$4"" = ""$own"" ] && continue
  if grep -qsF -- ""$d"" ""$p/cmdline"" ""$p/environ""; then echo ""busy=${p#/proc/}""; exit 0; fi
done
now=$(date +%s%3N); case $now in *N) now=$(( $(date +%s) * 1000 ));; esac
limit=$(( now - age ))
printf '%s\n' ""$locks"" | while IFS= read -r f; do
  m=$(stat -c %.3Y -- ""$f"" 2>/dev/null) || m=$(stat -c %Y -- ""$f"" 2>/dev/null) || continue
  case $m in *.*) m=$(printf '%s' ""$m"" | tr -d .);; *) m=$((m * 1000));; esac
  if [ ""$m"" -lt ""$limit"" ]; then rm -f -- ""$f"" && echo ""removed=${f#""$d""/}""; else echo ""fresh=${f#""$d""/}""; fi
done";

    private static async Task ClearStaleLocksAsync(VaultTarget target, IHostShell shell, ReleaseStore store, TimeSpan runAge, CancellationToken cancellationToken)
    {
        var milliseconds = Math.Max(0, (long)Math.Floor(runAge.TotalMilliseconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
        var result = await shell.RunAsync(CommandLine.Script(StaleLocksScript, store.GitCache, milliseconds), TimeSpan.FromSeconds(60), cancellationToken).ConfigureAwait(false);
        var lines = result.StandardOutput.Replace("\r", "").Split('\n');
        string[] Values(string key) => lines.Where(l => l.StartsWith(key + "=", StringComparison.Ordinal)).Select(l => l.Substring(key.Length + 1)).ToArray();
        var removed = Values("removed");
        if (removed.Length > 0)
        {
            Reporting.Current.Warning($"{target.Name}: removed {removed.Length} stale git lock file(s) from {store.GitCache}, left by a fetch that was killed: {string.Join(", ", removed)}.");
        }

        if (Values("busy") is { Length: > 0 } busy)
        {
            Reporting.Current.Warning($"{target.Name}: {store.GitCache} has git lock files, and process {busy[0]} uses it; they are left in place (the fetch may fail until it ends).");
        }
    }

    public static async Task<PreparedRelease> PrepareAsync(VaultTarget target, IHostShell shell, ReleaseStore store, string repository, string gitRef, string commit,
        Action<string> step, CancellationToken cancellationToken)
    {
        var name = ReleaseStore.NewReleaseName(commit, DateTimeOffset.UtcNow);
        var path = store.ReleasesDirectory + "/" + name;
        try
        {
            step("checkout " + commit.Substring(0, 12));
            await shell.RunCheckedAsync(CommandLine.Script(
                    "mkdir -p -- \"$1\" && git clone --quiet --shared --no-checkout -- \"$2\" \"$1/$3\" && git -C \"$1/$3\" checkout --quiet --detach \"$4\" && git -C \"$1/$3\" remote set-url origin -- \"$5\"",
                    store.ReleasesDirectory, store.GitCache, name, commit, repository),
                ErrorIds.CheckoutFailed, $"Checking out {commit.Substring(0, 12)}", TimeSpan.FromMinutes(5), cancellationToken).ConfigureAwait(false);
            var version = await ReleaseBuilder.BuildAsync(target, shell, store, path, prebuilt: false, step, cancellationToken).ConfigureAwait(false);
            return new PreparedRelease { Name = name, Path = path, AppDirectory = ReleaseBuilder.AppDirectoryOf(target, path), Commit = commit, Version = version, Source = gitRef };
        }
        catch
        {
            await store.DiscardAsync(name, CancellationToken.None).ConfigureAwait(false);
            throw;
        }
    }
}
