using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Docker.DotNet.Models;
using YieldVault.Ops.Hosts;
using YieldVault.Ops.Services;

namespace YieldVault.Ops.Runbook;

/// <summary>
/// Runbook Step 4 Option B without its gap: the runbook removes the old container and then runs the new one, so a
/// bad pull or a typo in the env file leaves nothing serving. Here the new container is pulled and created next to
/// the old one while the old one serves; after the stop the two swap names (the old one is kept stopped as
/// <c>&lt;name&gt;-previous</c>), and a failed start swaps them back.
/// </summary>
internal sealed class DockerStrategy : IDeploymentStrategy
{
    private readonly VaultTarget _target;
    private readonly IHostShell _shell;
    private readonly DeploymentRequest _request;
    private readonly Action<string> _step;
    private readonly DockerContainerNames _names;
    private readonly string _id = DockerContainerNames.NewId();
    private readonly string _image;
    private string? _currentId;
    private string? _createdId;
    private string? _retiredId;
    private bool _switched;

    public DockerStrategy(VaultTarget target, IHostShell shell, DeploymentRequest request, Action<string> step)
    {
        _target = target ?? throw new ArgumentNullException(nameof(target));
        _shell = shell ?? throw new ArgumentNullException(nameof(shell));
        _request = request ?? throw new ArgumentNullException(nameof(request));
        _step = step ?? throw new ArgumentNullException(nameof(step));
        _image = request.Image ?? throw new ArgumentException("A Docker deployment needs an image.", nameof(request));
        if (!DockerContainerNames.IsValidContainerName(target.ServiceName))
        {
            throw new VaultException(ErrorIds.ContainerNameInvalid, VaultErrorKind.InvalidArgument,
                $"{target.DisplayName}: ServiceName '{target.ServiceName}' is not a Docker container name (letters, digits, '_', '.', '-'; starting with a letter or digit).",
                "Set the target's ServiceName to the container's name.");
        }

        _names = new DockerContainerNames(target.ServiceName);
    }

    /// <summary>Docker targets migrate from the host's app directory (or the caller skips migrations).</summary>
    public string MigrationDirectory => _target.AppPath;

    public bool IsRollingUpdate => false;

    /// <summary>The image the service's container runs now, or null when there is no container yet.</summary>
    public async Task<string?> CurrentAsync(CancellationToken cancellationToken)
    {
        using var docker = DockerContainers.Open(_target, _shell);
        var current = await docker.InspectAsync(_names.Service, cancellationToken).ConfigureAwait(false);
        return current is null ? null : ImageOf(current);
    }

    public async Task<(string Name, string? Version, string? Commit)> PrepareAsync(CancellationToken cancellationToken)
    {
        // The env file first: a missing file must fail before anything is pulled or created. Its values go to the
        // engine's API as the container's Env and nowhere else.
        var env = await EnvironmentFiles.ReadAsync(_target, _shell, new SecretRedactor(), cancellationToken).ConfigureAwait(false)
            ?? throw new VaultException(ErrorIds.EnvironmentInvalid, VaultErrorKind.InvalidData,
                $"{_target.DisplayName}: the env file {_target.EnvFilePath} does not exist; the container's environment comes from it. Nothing was changed.",
                $"Create {_target.EnvFilePath} (mode 600) with the backend's variables and deploy again.");

        using var docker = DockerContainers.Open(_target, _shell);
        var (image, pulled) = await docker.EnsureImageAsync(_image,
            token => DockerRegistryAuth.ResolveAsync(_target, _shell, _image, _request.RegistryCredential, _request.Redactor ?? new SecretRedactor(), _step, token),
            _step, cancellationToken).ConfigureAwait(false);
        if (!pulled)
        {
            _step($"image {_image} is on the engine ({DockerContainers.Short(StripAlgorithm(image.ID))})");
        }

        var current = await docker.InspectAsync(_names.Service, cancellationToken).ConfigureAwait(false);
        ImageInspectResponse? currentImage = null;
        if (current is not null)
        {
            _currentId = current.ID;
            currentImage = await docker.InspectImageAsync(current.Image, cancellationToken).ConfigureAwait(false);
            _step($"current container {_names.Service} ({DockerContainers.Short(current.ID)}) runs {ImageOf(current)}");
        }
        else
        {
            _step($"no container named {_names.Service} yet: the new one gets the runbook's settings");
        }

        var name = _names.Next(_id);
        var plan = DockerContainerSpec.Build(_target, name, _image, env, current, currentImage);
        foreach (var warning in plan.Warnings)
        {
            Reporting.Current.Warning($"{_target.Name}: {warning}");
        }

        _createdId = await docker.CreateAsync(plan.Create, cancellationToken).ConfigureAwait(false);
        foreach (var network in plan.ExtraNetworks)
        {
            await docker.ConnectAsync(network.Key, _createdId, network.Value, cancellationToken).ConfigureAwait(false);
        }

        _step($"created {name} ({DockerContainers.Short(_createdId)}): restart unless-stopped, {plan.Networking}, env from {_target.EnvFilePath} ({env.Count} variables)");
        var labels = image.Config?.Labels;
        return (_image, DockerImages.VersionOf(labels, _image), DockerImages.CommitOf(labels));
    }

    public async Task<string> CheckRollbackReadyAsync(CancellationToken cancellationToken)
    {
        if (_currentId is null)
        {
            return "no container before this one: nothing to go back to";
        }

        using var docker = DockerContainers.Open(_target, _shell);
        var current = await docker.InspectAsync(_currentId, cancellationToken).ConfigureAwait(false);
        if (current is null || await docker.InspectImageAsync(current.Image, cancellationToken).ConfigureAwait(false) is null)
        {
            throw new VaultException(ErrorIds.RollbackNotReady, VaultErrorKind.InvalidOperation,
                $"{_target.DisplayName}: the container that serves now ({DockerContainers.Short(_currentId)}) or its image is gone from the engine, so it could not be brought back if the new one failed. Nothing was stopped.",
                "Find out what removed it, or run again with -Force to deploy without a way back.");
        }

        return $"rollback ready: {_names.Service} ({DockerContainers.Short(_currentId)}) and its image are kept";
    }

    public async Task SwitchAsync(CancellationToken cancellationToken)
    {
        var created = _createdId ?? throw new InvalidOperationException("SwitchAsync before PrepareAsync.");
        using var docker = DockerContainers.Open(_target, _shell);

        // The previous version before this one is set aside, not removed, until the new one is verified: a rollback
        // puts it back as -previous, so Undo-VaultDeployment still has somewhere to go.
        if (await docker.InspectAsync(_names.Previous, cancellationToken).ConfigureAwait(false) is { } older)
        {
            await docker.RenameAsync(older.ID, _names.Retired(_id), cancellationToken).ConfigureAwait(false);
            _retiredId = older.ID;
        }

        if (_currentId is not null && await docker.InspectAsync(_currentId, cancellationToken).ConfigureAwait(false) is not null)
        {
            await docker.RenameAsync(_currentId, _names.Previous, cancellationToken).ConfigureAwait(false);
        }

        await docker.RenameAsync(created, _names.Service, cancellationToken).ConfigureAwait(false);
        _switched = true;
        _step($"{_names.Service} is now {DockerContainers.Short(created)} ({_image}); the old one is {_names.Previous}");
    }

    public async Task SwitchBackAsync(CancellationToken cancellationToken)
    {
        using var docker = DockerContainers.Open(_target, _shell);

        // Works from whatever state a failure left: the switch done, half done, or not started.
        var serving = await docker.InspectAsync(_names.Service, cancellationToken).ConfigureAwait(false);
        if (serving is not null && serving.ID == _createdId)
        {
            await docker.StopAsync(serving.ID, _request.StopTimeout, cancellationToken).ConfigureAwait(false);
            await docker.RenameAsync(serving.ID, _names.Failed(_id), cancellationToken).ConfigureAwait(false);
            serving = null;
        }

        if (serving is null)
        {
            if (_currentId is null)
            {
                throw new VaultException(ErrorIds.NoPreviousContainer, VaultErrorKind.ObjectNotFound,
                    $"{_target.DisplayName}: there was no container before this deployment, so there is nothing to go back to. The new one is kept as {_names.Failed(_id)} for its log.",
                    "Fix the image or the env file and deploy again.");
            }

            if (await docker.InspectAsync(_currentId, cancellationToken).ConfigureAwait(false) is null)
            {
                throw new VaultException(ErrorIds.NoPreviousContainer, VaultErrorKind.ObjectNotFound,
                    $"{_target.DisplayName}: the container that served before ({DockerContainers.Short(_currentId)}) no longer exists on {docker.Description}.",
                    "Deploy a known good image with Invoke-VaultDeployment -Image.");
            }

            await docker.RenameAsync(_currentId, _names.Service, cancellationToken).ConfigureAwait(false);
        }

        if (_retiredId is not null && await docker.InspectAsync(_names.Previous, cancellationToken).ConfigureAwait(false) is null)
        {
            await docker.RenameAsync(_retiredId, _names.Previous, cancellationToken).ConfigureAwait(false);
        }

        _switched = false;
        _step($"{_names.Service} is the old container again; the new one is kept as {_names.Failed(_id)}");
    }

    public async Task DiscardAsync(CancellationToken cancellationToken)
    {
        if (_createdId is null)
        {
            return;
        }

        using var docker = DockerContainers.Open(_target, _shell);
        var created = await docker.InspectAsync(_createdId, cancellationToken).ConfigureAwait(false);

        // Never the container that serves: only this run's -next- or -failed- one.
        if (created is not null && created.Name?.TrimStart('/') != _names.Service && !_switched)
        {
            await docker.RemoveAsync(created.ID, cancellationToken).ConfigureAwait(false);
            _step($"removed {created.Name?.TrimStart('/')}");
        }
    }

    public async Task PruneAsync(CancellationToken cancellationToken)
    {
        // Kept: <name> and <name>-previous (and so both images). Removed: earlier failed versions, the previous
        // version this deployment replaced, and what dead runs left behind. Images are never removed here.
        using var docker = DockerContainers.Open(_target, _shell);
        var containers = await docker.ListServiceAsync(_names.Service, cancellationToken).ConfigureAwait(false);
        var removed = new List<string>();
        foreach (var container in containers)
        {
            var name = container.Names?.Select(n => n.TrimStart('/')).FirstOrDefault(_names.IsLeftover);
            if (name is not null && container.ID != _createdId && container.ID != _currentId)
            {
                await docker.RemoveAsync(container.ID, cancellationToken).ConfigureAwait(false);
                removed.Add(name);
            }
        }

        _step(removed.Count == 0 ? $"kept {_names.Service} and {_names.Previous}" : $"kept {_names.Service} and {_names.Previous}; removed {string.Join(", ", removed)}");
    }

    public string[] PlanPrepare()
    {
        var logDirectory = DockerContainerSpec.LogDirectory(_target.LogPath);
        return new[]
        {
            $"docker image inspect {_image} || docker pull {_image}",
            $"docker inspect {_names.Service} (network mode, published ports, mounts, limits and labels to copy)",
            $"docker create --name {_names.Next("<id>")} --restart unless-stopped --env-file {_target.EnvFilePath}"
                + (logDirectory is null ? "" : $" -v {logDirectory}:{logDirectory}")
                + $" --label {DockerContainerNames.ServiceLabel}={_names.Service} --label {DockerContainerNames.ReleaseLabel}={_image}"
                + $" <network and ports of {_names.Service}, or -p {_target.Port}:<PORT>> {_image}",
        };
    }

    internal static string ImageOf(ContainerInspectResponse container) =>
        string.IsNullOrEmpty(container.Config?.Image) ? container.Image : container.Config!.Image;

    private static string StripAlgorithm(string id) => id.StartsWith("sha256:", StringComparison.Ordinal) ? id.Substring(7) : id;
}
