using System;
using System.Threading;
using System.Threading.Tasks;
using YieldVault.Ops.Hosts;
using YieldVault.Ops.Releases;

namespace YieldVault.Ops.Runbook;

/// <summary>Git refs and artifacts: a new directory under releases/, then a link switch.</summary>
internal sealed class ReleaseStrategy : IDeploymentStrategy
{
    private readonly VaultTarget _target;
    private readonly IHostShell _shell;
    private readonly DeploymentRequest _request;
    private readonly ReleaseStore _store;
    private readonly Action<string> _step;
    private readonly System.Diagnostics.Stopwatch _runClock = System.Diagnostics.Stopwatch.StartNew();
    private string? _previous;
    private PreparedRelease? _prepared;

    public ReleaseStrategy(VaultTarget target, IHostShell shell, DeploymentRequest request, Action<string> step)
    {
        _target = target;
        _shell = shell;
        _request = request;
        _store = new ReleaseStore(target, shell);
        _step = step;
    }

    public string MigrationDirectory => _prepared?.AppDirectory ?? _target.AppDirectory;

    public bool IsRollingUpdate => false;

    public async Task<string?> CurrentAsync(CancellationToken cancellationToken)
    {
        _previous = await _store.CurrentAsync(cancellationToken).ConfigureAwait(false);
        return _previous;
    }

    public async Task<(string Name, string? Version, string? Commit)> PrepareAsync(CancellationToken cancellationToken)
    {
        if (_request.Ref is { } gitRef)
        {
            var repository = await GitReleaseSource.RepositoryAsync(_target, _shell, cancellationToken).ConfigureAwait(false);
            _step("fetch " + repository);
            var commit = await GitReleaseSource.ResolveAsync(_target, _shell, _store, repository, gitRef, _runClock.Elapsed, cancellationToken).ConfigureAwait(false);
            await AdoptIfNeededAsync(cancellationToken).ConfigureAwait(false);
            _prepared = await GitReleaseSource.PrepareAsync(_target, _shell, _store, repository, gitRef, commit, _step, cancellationToken).ConfigureAwait(false);
            return (_prepared.Name, _prepared.Version, _prepared.Commit);
        }

        _prepared = await ArtifactReleaseSource.PrepareAsync(_target, _shell, _store, _request.Artifact!, _request.Sha256!, _step,
            () => AdoptIfNeededAsync(cancellationToken), cancellationToken).ConfigureAwait(false);
        return (_prepared.Name, _prepared.Version, null);
    }

    public Task SwitchAsync(CancellationToken cancellationToken) => _store.SwitchAsync(_prepared!.Name, cancellationToken);

    public Task SwitchBackAsync(CancellationToken cancellationToken) =>
        _previous is null
            ? throw new VaultException(ErrorIds.NoPreviousRelease, VaultErrorKind.ObjectNotFound, $"{_target.DisplayName}: there is no previous release to go back to.")
            : _store.SwitchAsync(_previous, cancellationToken);

    public async Task<string> CheckRollbackReadyAsync(CancellationToken cancellationToken)
    {
        if (_previous is null)
        {
            throw NotReady($"{_target.AppPath} is not a link to a release, so there would be no release to go back to");
        }

        // The previous release's app directory with its package.json and, when it declares dependencies, a node_modules
        // where Node looks for them (the app directory or one above it within the release: a monorepo's workspace root);
        // the state and releases directories writable (the journal, the link switch); 50 MB free where the releases are.
        const string script = @"app=""$1""; state=""$2""; rel=""$3""; root=""$4""
[ -d ""$app"" ] || { echo ""the previous release's directory $app is gone""; exit 3; }
[ -f ""$app/package.json"" ] || { echo ""$app has no package.json""; exit 3; }
deps=1
if command -v node >/dev/null 2>&1; then
  node -e 'const p = JSON.parse(require(""fs"").readFileSync(process.argv[1], ""utf8"")); process.exit(Object.keys(p.dependencies || {}).length ? 0 : 1)' ""$app/package.json"" 2>/dev/null || deps=0
fi
if [ ""$deps"" = 1 ]; then
  d=""$app""; found=0
  while :; do
    [ -d ""$d/node_modules"" ] && { found=1; break; }
    [ ""$d"" = ""$root"" ] && break
    case ""$d"" in ""$root""/*) d=$(dirname -- ""$d"");; *) break;; esac
  done
  [ ""$found"" = 1 ] || { echo ""$app has no node_modules (its dependencies were removed)""; exit 3; }
fi
mkdir -p -- ""$state"" 2>/dev/null
[ -w ""$state"" ] || { echo ""$state is not writable""; exit 3; }
[ -w ""$rel"" ] || { echo ""$rel is not writable""; exit 3; }
avail=$(df -Pk -- ""$rel"" 2>/dev/null | awk 'NR==2 {print $4}')
[ ""${avail:-0}"" -ge 51200 ] || { echo ""only ${avail:-0} KB free in $rel""; exit 3; }
echo ""ok $avail""";
        var app = ReleaseBuilder.AppDirectoryOf(_target, _store.ReleasesDirectory + "/" + _previous);
        var result = await _shell.RunAsync(CommandLine.Script(script, app, _target.StatePath.TrimEnd('/') + "/" + _target.ServiceName, _store.ReleasesDirectory,
                _store.ReleasesDirectory + "/" + _previous),
            TimeSpan.FromSeconds(30), cancellationToken).ConfigureAwait(false);
        return result.Succeeded
            ? $"rollback ready: release {_previous} would start"
            : throw NotReady(result.StandardOutput.Trim().Length > 0 ? result.StandardOutput.Trim() : result.Tail(2));
    }

    private VaultException NotReady(string why) => new(ErrorIds.RollbackNotReady, VaultErrorKind.InvalidOperation,
        $"{_target.DisplayName}: the version that serves now could not be brought back if the new one failed: {why}. Nothing was stopped.",
        "Fix that first, or run again with -Force to deploy without a way back.");

    public Task DiscardAsync(CancellationToken cancellationToken) =>
        _prepared is null ? Task.CompletedTask : _store.DiscardAsync(_prepared.Name, cancellationToken);

    public Task PruneAsync(CancellationToken cancellationToken) =>
        _store.PruneAsync(new[] { _previous ?? "", _prepared?.Name ?? "" }, cancellationToken);

    public string[] PlanPrepare() => _request.Ref is { } gitRef
        ? new[]
        {
            $"git fetch {(_target.Repository ?? "(origin of " + _target.AppPath + ")")} into {_store.GitCache}",
            $"git rev-parse --verify {gitRef}^{{commit}}",
            $"git clone --shared --no-checkout + checkout into {_store.ReleasesDirectory}/<time>-<sha>",
            ReleaseRecipe.Describe(_target),
            _store.DescribeEnvFileLink(),
        }
        : new[]
        {
            (ArtifactAddress.IsUrl(_request.Artifact!) ? "download " : "copy ") + ArtifactAddress.Display(_request.Artifact!) +
                $" (at most {_target.MaxArtifactSizeMB} MB" + (ArtifactAddress.IsUrl(_request.Artifact!) ? $", {_target.ArtifactTimeoutSec} s, {ArtifactFetch.MaxRedirects} redirects)" : ")"),
            $"sha256sum == {_request.Sha256}",
            $"tar -xzf into {_store.ReleasesDirectory}/<time>-<sha>",
            _store.DescribeEnvFileLink(),
        };

    private async Task AdoptIfNeededAsync(CancellationToken cancellationToken)
    {
        if (_previous is not null)
        {
            return;
        }

        var running = await Probes.VersionProbe.FromGitAsync(_target, _shell, cancellationToken).ConfigureAwait(false);
        if (await _store.AdoptAsync(running?.Commit ?? "unknown", cancellationToken).ConfigureAwait(false))
        {
            Reporting.Current.Warning($"{_target.Name}: {_target.AppPath} was a plain directory; it is now release '{await CurrentAsync(cancellationToken).ConfigureAwait(false)}' under {_store.ReleasesDirectory}, and {_target.AppPath} links to it.");
        }
    }
}
