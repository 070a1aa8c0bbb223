using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using System.Net;
using System.Threading;
using System.Threading.Tasks;
using Docker.DotNet;
using Docker.DotNet.Models;
using YieldVault.Ops.Hosts;

namespace YieldVault.Ops.Services;

/// <summary>
/// The container and image calls of Docker deployments and rollbacks, each bounded and mapped to our errors, on one
/// engine connection (opened per operation, like <see cref="DockerServiceManager"/> does).
/// </summary>
internal sealed class DockerContainers : IDisposable
{
    /// <summary>The bound of a pull: large images over a slow link take minutes; the runbook gives Step 4 ten.</summary>
    public static readonly TimeSpan PullTimeout = TimeSpan.FromMinutes(10);

    private static readonly TimeSpan Request = DockerServiceManager.RequestTimeout;
    private readonly VaultTarget _target;
    private readonly DockerEngine _engine;

    private DockerContainers(VaultTarget target, DockerEngine engine)
    {
        _target = target;
        _engine = engine;
    }

    public static DockerContainers Open(VaultTarget target, IHostShell shell) => new(target, DockerEngine.Open(target, shell));

    public string Description => _engine.Description;

    public void Dispose() => _engine.Dispose();

    /// <summary>The container, or null when there is none by that name or id.</summary>
    public async Task<ContainerInspectResponse?> InspectAsync(string nameOrId, CancellationToken cancellationToken)
    {
        try
        {
            return await _engine.CallAsync("inspect container " + nameOrId, nameOrId, Request,
                (client, token) => client.Containers.InspectContainerAsync(nameOrId, token), cancellationToken).ConfigureAwait(false);
        }
        catch (VaultException ex) when (ex.ErrorId == ErrorIds.ContainerNotFound || IsNotFound(ex))
        {
            return null;
        }
    }

    /// <summary>The image, or null when the engine does not have it.</summary>
    public async Task<ImageInspectResponse?> InspectImageAsync(string image, CancellationToken cancellationToken)
    {
        try
        {
            return await _engine.CallAsync("inspect image " + image, null, Request,
                (client, token) => client.Images.InspectImageAsync(image, token), cancellationToken).ConfigureAwait(false);
        }
        catch (VaultException ex) when (IsNotFound(ex))
        {
            return null;
        }
    }

    /// <summary>
    /// The image, pulled when the engine does not have it, with the registry credentials <paramref name="credentials"/>
    /// finds (asked only when a pull is needed). A registry that refuses for want of credentials is <c>ImagePullUnauthorized</c>;
    /// whatever else keeps the image from being there (no such repository or tag, no registry) is <c>ImageNotFound</c>,
    /// with the engine's reason.
    /// </summary>
    public async Task<(ImageInspectResponse Image, bool Pulled)> EnsureImageAsync(string image, Func<CancellationToken, Task<RegistryAuth?>>? credentials,
        Action<string> step, CancellationToken cancellationToken)
    {
        if (await InspectImageAsync(image, cancellationToken).ConfigureAwait(false) is { } present)
        {
            return (present, false);
        }

        var (repository, reference) = DockerImages.Split(image);
        var auth = credentials is null ? null : await credentials(cancellationToken).ConfigureAwait(false);
        step($"docker pull {image}");
        var progress = new PullProgress(step);
        var watch = Stopwatch.StartNew();
        string? refusal = null;
        try
        {
            await _engine.CallAsync("pull image " + image, null, PullTimeout,
                (client, token) => client.Images.CreateImageAsync(new ImagesCreateParameters { FromImage = repository, Tag = reference }, auth?.Config, progress, token),
                cancellationToken).ConfigureAwait(false);
        }
        catch (VaultException ex) when (ex.ErrorId == ErrorIds.DockerRequestFailed && ex.InnerException is DockerApiException api)
        {
            refusal = DockerEngine.EngineMessage(api.ResponseBody);
        }

        var pulled = await InspectImageAsync(image, cancellationToken).ConfigureAwait(false);
        if (pulled is null)
        {
            var reason = refusal ?? progress.Error ?? "the pull ended without the image";
            throw DockerRegistryAuth.Refused(_target, Description, image, reason, auth) ?? new VaultException(ErrorIds.ImageNotFound, VaultErrorKind.ObjectNotFound,
                new SecretRedactor().Redact($"{_target.DisplayName}: the image {image} is not on the Docker engine at {Description}, and pulling it failed: {reason}. Nothing was changed; the current version still serves."),
                "Check the image name and tag (docker pull on the host), that the host can reach the registry, and that it is logged in (docker login) when the registry needs it.");
        }

        step($"pulled {image} in {watch.Elapsed.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture)} s");
        return (pulled, true);
    }

    public async Task<string> CreateAsync(CreateContainerParameters parameters, CancellationToken cancellationToken)
    {
        var created = await _engine.CallAsync($"create container {parameters.Name} from {parameters.Image}", null, Request,
            (client, token) => client.Containers.CreateContainerAsync(parameters, token), cancellationToken).ConfigureAwait(false);
        foreach (var warning in created.Warnings ?? Array.Empty<string>())
        {
            Reporting.Current.Warning($"{_target.Name}: the Docker engine said about {parameters.Name}: {warning}");
        }

        return created.ID;
    }

    public Task ConnectAsync(string network, string containerId, EndpointSettings endpoint, CancellationToken cancellationToken) =>
        _engine.CallAsync($"connect the new container to network {network}", null, Request,
            (client, token) => client.Networks.ConnectNetworkAsync(network, new NetworkConnectParameters { Container = containerId, EndpointConfig = endpoint }, token),
            cancellationToken);

    public Task RenameAsync(string id, string newName, CancellationToken cancellationToken) =>
        _engine.CallAsync($"rename container {Short(id)} to {newName}", id, Request,
            (client, token) => client.Containers.RenameContainerAsync(id, new ContainerRenameParameters { NewName = newName }, token), cancellationToken);

    /// <summary>Stops a container if it runs (the engine kills it after <paramref name="grace"/>).</summary>
    public Task StopAsync(string id, TimeSpan grace, CancellationToken cancellationToken)
    {
        var seconds = (uint)Math.Max(0, Math.Min(Math.Ceiling(grace.TotalSeconds), 3600));
        return _engine.CallAsync($"stop container {Short(id)}", id, TimeSpan.FromSeconds(seconds) + Request,
            (client, token) => client.Containers.StopContainerAsync(id, new ContainerStopParameters { WaitBeforeKillSeconds = seconds }, token), cancellationToken);
    }

    /// <summary>Removes a container (and its anonymous volumes); a missing one is not an error.</summary>
    public async Task RemoveAsync(string id, CancellationToken cancellationToken)
    {
        try
        {
            await _engine.CallAsync($"remove container {Short(id)}", id, Request,
                (client, token) => client.Containers.RemoveContainerAsync(id, new ContainerRemoveParameters { Force = true, RemoveVolumes = true }, token),
                cancellationToken).ConfigureAwait(false);
        }
        catch (VaultException ex) when (ex.ErrorId == ErrorIds.ContainerNotFound)
        {
            // Already gone.
        }
    }

    /// <summary>Every container (running or not) labelled as one of this service's.</summary>
    public Task<IList<ContainerListResponse>> ListServiceAsync(string service, CancellationToken cancellationToken) =>
        _engine.CallAsync("list the service's containers", null, Request,
            (client, token) => client.Containers.ListContainersAsync(new ContainersListParameters
            {
                All = true,
                Filters = new Dictionary<string, IDictionary<string, bool>>
                {
                    ["label"] = new Dictionary<string, bool> { [DockerContainerNames.ServiceLabel + "=" + service] = true },
                },
            }, token), cancellationToken);

    public static string Short(string id) => id.Length > 12 && id.All(Uri.IsHexDigit) ? id.Substring(0, 12) : id;

    private static bool IsNotFound(VaultException ex) => ex.InnerException is DockerApiException { StatusCode: HttpStatusCode.NotFound };

    /// <summary>Pull progress as a few verbose lines (one per layer state change would flood), and the error if any.</summary>
    private sealed class PullProgress : IProgress<JSONMessage>
    {
        private readonly Action<string> _step;
        private readonly Stopwatch _sinceLast = Stopwatch.StartNew();

        public PullProgress(Action<string> step)
        {
            _step = step;
        }

        public string? Error { get; private set; }

        public void Report(JSONMessage value)
        {
            if (value is null)
            {
                return;
            }

            var error = value.Error?.Message ?? value.ErrorMessage;
            if (!string.IsNullOrWhiteSpace(error))
            {
                Error = error.Trim();
                return;
            }

            if (!string.IsNullOrEmpty(value.Status) && (string.IsNullOrEmpty(value.ID) || _sinceLast.Elapsed > TimeSpan.FromSeconds(2)))
            {
                _sinceLast.Restart();
                _step("  " + value.Status + (string.IsNullOrEmpty(value.ID) ? "" : " " + value.ID));
            }
        }
    }
}
