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
            $"ln -s {_store.SharedEnvFile} <release>/{System.IO.Path.GetFileName(_target.EnvFile)}",
        }
        : new[]
        {
            (ArtifactAddress.IsUrl(_request.Artifact!) ? "download " : "copy ") + ArtifactAddress.Display(_request.Artifact!) +
                $" (at most {_target.MaxArtifactSizeMB} MB" + (ArtifactAddress.IsUrl(_request.Artifact!) ? $", {_target.ArtifactTimeoutSec} s, {ArtifactFetch.MaxRedirects} redirects)" : ")"),
            $"sha256sum == {_request.Sha256}",
            $"tar -xzf into {_store.ReleasesDirectory}/<time>-<sha>",
            $"ln -s {_store.SharedEnvFile} <release>/{System.IO.Path.GetFileName(_target.EnvFile)}",
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
