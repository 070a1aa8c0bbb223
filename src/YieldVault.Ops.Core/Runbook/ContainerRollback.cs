using System;
using System.Threading;
using System.Threading.Tasks;
using YieldVault.Ops.Hosts;
using YieldVault.Ops.Services;

namespace YieldVault.Ops.Runbook;

/// <summary>
/// The runbook's Docker Rollback without its <c>docker rm</c> and retyped <c>docker run</c>: the container of the previous
/// version still exists (stopped, as <c>&lt;name&gt;-previous</c>, with the settings it ran with), so rolling back is a
/// swap of names (the version rolled back from becomes the previous one, so a second rollback undoes the first).
/// </summary>
internal sealed class ContainerRollback : IRollbackStrategy
{
    private readonly VaultTarget _target;
    private readonly IHostShell _shell;
    private readonly DockerContainerNames _names;
    private Containers? _found;

    public ContainerRollback(VaultTarget target, IHostShell shell)
    {
        _target = target;
        _shell = shell;
        _names = new DockerContainerNames(target.ServiceName);
    }

    public string Runbook => "Docker Rollback";

    /// <summary>Docker keeps one previous container, not releases: -Release and -Backup do not apply.</summary>
    public static async Task<RollbackPlan> PlanAsync(VaultTarget target, IHostShell shell, RollbackRequest request, CancellationToken cancellationToken)
    {
        if (request.Release is not null || request.Backup is not null)
        {
            throw new VaultException(ErrorIds.DockerUndoPreviousOnly, VaultErrorKind.InvalidArgument,
                $"{target.DisplayName} is run by Docker, which keeps one previous container ({target.ServiceName}-previous), not releases; -Release and -Backup do not apply.",
                "Run Undo-VaultDeployment without -Release/-Backup, or deploy the image you want with Invoke-VaultDeployment -Image.");
        }

        // What there is now, for the prompt; the run reads it again under the lock (a deployment may be running).
        var seen = await new ContainerRollback(target, shell).ReadAsync(cancellationToken).ConfigureAwait(false);
        var names = new DockerContainerNames(target.ServiceName);
        return new RollbackPlan(request, seen.PreviousImage is null
            ? $"to the previous container {names.Previous}"
            : $"from {seen.CurrentImage ?? "(no container)"} to {seen.PreviousImage} (container {names.Previous})", seen.PreviousImage, seen.CurrentImage);
    }

    public async Task<ExpectedVersion> ResolveAsync(VaultDeploymentResult result, CancellationToken cancellationToken)
    {
        var found = await ReadAsync(cancellationToken).ConfigureAwait(false);
        _found = found;
        result.ReleaseBefore = found.CurrentImage;
        result.ReleaseAfter = found.PreviousImage;
        if (found.PreviousId is null)
        {
            throw new VaultException(ErrorIds.NoPreviousContainer, VaultErrorKind.ObjectNotFound,
                $"{_target.DisplayName}: there is no container named {_names.Previous} to go back to. Nothing was changed.",
                "A Docker rollback needs the container an earlier Invoke-VaultDeployment -Image kept; deploy a known good image with Invoke-VaultDeployment -Image instead.");
        }

        return new ExpectedVersion(found.ExpectedVersion, found.ExpectedCommit, found.PreviousImage ?? _names.Previous);
    }

    // <name> -> <name>-undo-<id> -> <name>-previous, and <name>-previous -> <name>; a failure half way puts the names back.
    public async Task<string> SwitchAsync(CancellationToken cancellationToken)
    {
        var found = _found ?? throw new InvalidOperationException("SwitchAsync before ResolveAsync.");
        var previousId = found.PreviousId!;
        using var docker = DockerContainers.Open(_target, _shell);
        var aside = _names.UndoSwap(DockerContainerNames.NewId());
        if (found.CurrentId is not null)
        {
            await docker.RenameAsync(found.CurrentId, aside, cancellationToken).ConfigureAwait(false);
        }

        try
        {
            await docker.RenameAsync(previousId, _names.Service, cancellationToken).ConfigureAwait(false);
        }
        catch (VaultException) when (found.CurrentId is not null)
        {
            await docker.RenameAsync(found.CurrentId, _names.Service, CancellationToken.None).ConfigureAwait(false);
            throw;
        }

        if (found.CurrentId is not null)
        {
            await docker.RenameAsync(found.CurrentId, _names.Previous, cancellationToken).ConfigureAwait(false);
        }

        return $"{_names.Service} is {found.PreviousImage} ({DockerContainers.Short(previousId)}) again" + (found.CurrentImage is null ? "" : $"; {found.CurrentImage} is now {_names.Previous}");
    }

    private async Task<Containers> ReadAsync(CancellationToken cancellationToken)
    {
        using var docker = DockerContainers.Open(_target, _shell);
        var current = await docker.InspectAsync(_names.Service, cancellationToken).ConfigureAwait(false);
        var previous = await docker.InspectAsync(_names.Previous, cancellationToken).ConfigureAwait(false);
        var previousImage = previous is null ? null : DockerStrategy.ImageOf(previous);
        var labels = previous is null ? null : (await docker.InspectImageAsync(previous.Image, cancellationToken).ConfigureAwait(false))?.Config?.Labels;
        return new Containers(current?.ID, current is null ? null : DockerStrategy.ImageOf(current), previous?.ID, previousImage,
            previousImage is null ? null : DockerImages.VersionOf(labels, previousImage), DockerImages.CommitOf(labels));
    }

    private sealed record Containers(string? CurrentId, string? CurrentImage, string? PreviousId, string? PreviousImage, string? ExpectedVersion, string? ExpectedCommit);
}
