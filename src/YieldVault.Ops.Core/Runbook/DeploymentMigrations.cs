using System;
using System.Threading;
using System.Threading.Tasks;
using YieldVault.Ops.Hosts;

namespace YieldVault.Ops.Runbook;

/// <summary>Runbook 5.2 inside a deployment: a status check while the old version serves, then the migration.</summary>
internal sealed class DeploymentMigrations
{
    private readonly VaultTarget _target;
    private readonly IHostShell _shell;
    private readonly DeploymentRequest _request;
    private readonly SecretRedactor _redactor;
    private readonly Func<string> _directory;
    private bool _nothingToMigrate;

    /// <summary>A migration ran and succeeded in this run.</summary>
    public bool Applied { get; private set; }

    public DeploymentMigrations(VaultTarget target, IHostShell shell, DeploymentRequest request, SecretRedactor redactor, Func<string> directory)
    {
        _target = target;
        _shell = shell;
        _request = request;
        _redactor = redactor;
        _directory = directory;
    }

    /// <summary>Before the stop: whether a status check says nothing is pending (then the run after the stop is skipped).</summary>
    public async Task<bool> CheckNothingPendingAsync(CancellationToken cancellationToken)
    {
        _nothingToMigrate = await NothingPendingAsync(cancellationToken).ConfigureAwait(false);
        return _nothingToMigrate;
    }

    private async Task<bool> NothingPendingAsync(CancellationToken cancellationToken)
    {
        if (_request.SkipMigrations || _request.MigrationCommand is not null || _request.Image is not null
            || _target.MigrationPreset is not (MigrationPreset.NodePgMigrate or MigrationPreset.Prisma))
        {
            return false;
        }

        var status = await Migrations.RunAsync(_target, _shell, _redactor, MigrationAction.Status, _directory(), null, cancellationToken).ConfigureAwait(false);
        return status is { Succeeded: true }
            && (_target.MigrationPreset == MigrationPreset.NodePgMigrate
                ? status.Output.IndexOf("No migrations to run", StringComparison.OrdinalIgnoreCase) >= 0
                : status.Output.IndexOf("Database schema is up to date", StringComparison.OrdinalIgnoreCase) >= 0);
    }

    /// <summary>Runs the migration (unless skipped or nothing is pending); throws MigrationFailed when it fails.</summary>
    public async Task<string> RunAsync(CancellationToken cancellationToken)
    {
        if (_request.SkipMigrations || (_request.MigrationCommand is null && _target.MigrationPreset == MigrationPreset.None))
        {
            return "no migrations";
        }

        if (_nothingToMigrate)
        {
            return "no migration pending (checked before the stop)";
        }

        if (_request.Image is not null && _request.MigrationCommand is null)
        {
            // The image carries its own migrations; a preset would run the host's copy of the app, not the image's.
            return "no migrations (Docker: give -MigrationCommand to run one)";
        }

        var migration = await Migrations.RunAsync(_target, _shell, _redactor, MigrationAction.Deploy, _directory(), _request.MigrationCommand, cancellationToken).ConfigureAwait(false);
        if (migration is { Succeeded: false })
        {
            throw new VaultException(ErrorIds.MigrationFailed, VaultErrorKind.InvalidOperation,
                $"{_target.DisplayName}: the migration ({migration.Command}) failed with exit code {migration.ExitCode}:{Environment.NewLine}{migration.Output}",
                "Fix the migration; the new version was not started.");
        }

        Applied |= migration is not null;
        return migration is null ? "no migrations" : $"migrated ({migration.Command}) in {migration.DurationMs:0} ms";
    }
}
