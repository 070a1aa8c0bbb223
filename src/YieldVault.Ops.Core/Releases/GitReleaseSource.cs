using System;
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

    /// <summary>Fetches and resolves <paramref name="gitRef"/> to a full commit id (fails before anything changes).</summary>
    public static async Task<string> ResolveAsync(VaultTarget target, IHostShell shell, ReleaseStore store, string repository, string gitRef, CancellationToken cancellationToken)
    {
        if (!GitRefs.IsValid(gitRef))
        {
            throw new VaultException(ErrorIds.InvalidRef, VaultErrorKind.InvalidArgument,
                $"'{gitRef}' is not a git ref this module deploys: use a tag, branch or commit (letters, digits, '.', '_', '/', '+', '-'; not starting with '-').");
        }

        var timeout = target.Ssh?.CommandTimeout ?? TimeSpan.FromSeconds(RunbookDefaults.CommandTimeoutSec);
        // --end-of-options and "--" keep the repository and the ref from ever being read as options.
        await shell.RunCheckedAsync(CommandLine.Script(
                "mkdir -p -- \"$(dirname \"$2\")\" && if [ -d \"$2\" ]; then git --git-dir=\"$2\" remote set-url origin -- \"$1\" && git --git-dir=\"$2\" fetch --quiet --prune --tags origin '+refs/heads/*:refs/heads/*'; else git clone --quiet --mirror -- \"$1\" \"$2\"; fi",
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
