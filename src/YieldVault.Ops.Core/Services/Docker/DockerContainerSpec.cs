using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using Docker.DotNet.Models;
using Newtonsoft.Json;

namespace YieldVault.Ops.Services;

/// <summary>What to create for a new version, and what else to do to it before it starts.</summary>
internal sealed class DockerCreatePlan
{
    public CreateContainerParameters Create { get; init; } = new();

    /// <summary>Networks beyond the first (the engine takes one at create time before API 1.44): connected after the create.</summary>
    public IReadOnlyList<KeyValuePair<string, EndpointSettings>> ExtraNetworks { get; init; } = Array.Empty<KeyValuePair<string, EndpointSettings>>();

    /// <summary>For the step detail: "host network, port 3000" or "127.0.0.1:3000->3000/tcp".</summary>
    public string Networking { get; init; } = "";

    public IReadOnlyList<string> Warnings { get; init; } = Array.Empty<string>();
}

/// <summary>
/// The runbook's <c>docker run</c> (Step 4 Option B) as an engine create request, built from the container that serves
/// now so that a new version runs exactly like the old one: the same network mode, published ports, mounts, limits,
/// labels and overridden command, with the runbook's settings on top (restart unless-stopped, the env file, the log
/// directory, our labels). What the old container had only because its image said so (command, working directory,
/// user, health check, labels) is left to the new image. The environment is the env file's, and only the env file's:
/// a variable removed from it must not live on in the next container.
/// </summary>
internal static class DockerContainerSpec
{
    /// <summary>The backend's own default port when the env file sets no PORT.</summary>
    public const int AppDefaultPort = RunbookDefaults.Port;

    public static DockerCreatePlan Build(VaultTarget target, string name, string image, IReadOnlyDictionary<string, string> env,
        ContainerInspectResponse? current, ImageInspectResponse? currentImage)
    {
        if (target is null)
        {
            throw new ArgumentNullException(nameof(target));
        }

        if (env is null)
        {
            throw new ArgumentNullException(nameof(env));
        }

        var warnings = new List<string>();
        var appPort = AppPort(target, env);
        var oldImage = currentImage?.Config;
        var config = current?.Config;

        // The old container's host settings are the base (it is discarded after this; the object is reused).
        var host = current?.HostConfig ?? new HostConfig();
        host.RestartPolicy = new RestartPolicy { Name = RestartPolicyKind.UnlessStopped };
        host.AutoRemove = false;
        host.ContainerIDFile = null;
        host.Links = host.Links?.Select(CreateLink).ToList();

        var networking = current is null
            ? PublishFresh(target, host, env, appPort, warnings)
            : CheckNetworking(target, current, host, appPort);

        var logDirectory = LogDirectory(target.LogPath);
        if (logDirectory is null)
        {
            warnings.Add($"LogPath {target.LogPath} is at the root of the file system; its directory is not mounted into the container.");
        }
        else if (!MountsAt(host, logDirectory))
        {
            host.Binds = (host.Binds ?? new List<string>()).Concat(new[] { logDirectory + ":" + logDirectory }).ToList();
        }

        var labels = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var pair in config?.Labels ?? new Dictionary<string, string>())
        {
            var fromImage = oldImage?.Labels is { } imageLabels && imageLabels.TryGetValue(pair.Key, out var imageValue) && imageValue == pair.Value;
            if (!fromImage && !pair.Key.StartsWith("yieldvault-ops.", StringComparison.Ordinal))
            {
                labels[pair.Key] = pair.Value;
            }
        }

        labels[DockerContainerNames.ServiceLabel] = target.ServiceName;
        labels[DockerContainerNames.ReleaseLabel] = image;

        var exposed = new Dictionary<string, EmptyStruct>(StringComparer.Ordinal);
        foreach (var key in (config?.ExposedPorts?.Keys ?? Enumerable.Empty<string>()).Concat(host.PortBindings?.Keys ?? Enumerable.Empty<string>()))
        {
            exposed[key] = default;
        }

        var create = new CreateContainerParameters
        {
            Name = name,
            Image = image,
            Env = env.Select(pair => pair.Key + "=" + pair.Value).ToList(),
            Labels = labels,
            ExposedPorts = exposed.Count == 0 ? null : exposed,
            HostConfig = host,

            // Kept only where the operator overrode the old image; otherwise the new image decides.
            Cmd = Overridden(config?.Cmd, oldImage?.Cmd),
            Entrypoint = Overridden(config?.Entrypoint, oldImage?.Entrypoint),
            WorkingDir = Overridden(config?.WorkingDir, oldImage?.WorkingDir),
            User = Overridden(config?.User, oldImage?.User),
            StopSignal = Overridden(config?.StopSignal, oldImage?.StopSignal),
            Healthcheck = SameJson(config?.Healthcheck, oldImage?.Healthcheck) ? null : config?.Healthcheck,
            StopTimeout = config?.StopTimeout,
            Tty = config?.Tty ?? false,
            OpenStdin = config?.OpenStdin ?? false,
        };

        var extra = new List<KeyValuePair<string, EndpointSettings>>();
        if (current?.NetworkSettings?.Networks is { Count: > 0 } networks && !IsSpecialMode(host.NetworkMode))
        {
            var primary = string.IsNullOrEmpty(host.NetworkMode) || host.NetworkMode == "default" ? "bridge" : host.NetworkMode;
            foreach (var network in networks.OrderBy(n => n.Key, StringComparer.Ordinal))
            {
                var endpoint = Endpoint(network.Value, current);
                if (network.Key == primary)
                {
                    if (primary != "bridge")
                    {
                        create.NetworkingConfig = new NetworkingConfig { EndpointsConfig = new Dictionary<string, EndpointSettings> { [primary] = endpoint } };
                    }
                }
                else
                {
                    extra.Add(new KeyValuePair<string, EndpointSettings>(network.Key, endpoint));
                }
            }
        }

        return new DockerCreatePlan { Create = create, ExtraNetworks = extra, Networking = networking, Warnings = warnings };
    }

    /// <summary>The port the backend listens on inside the container: the env file's PORT, else its default.</summary>
    public static int AppPort(VaultTarget target, IReadOnlyDictionary<string, string> env)
    {
        if (!env.TryGetValue("PORT", out var text) || string.IsNullOrWhiteSpace(text))
        {
            return AppDefaultPort;
        }

        return int.TryParse(text.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var port) && port is >= 1 and <= 65535
            ? port
            : throw new VaultException(ErrorIds.ContainerPortMismatch, VaultErrorKind.InvalidData,
                $"{target.DisplayName}: PORT in {target.EnvFilePath} is not a port number. Nothing was changed.",
                $"Set PORT in {target.EnvFilePath} to the port the backend listens on ({target.Port} with host networking).");
    }

    /// <summary>The directory of the log file ("/var/log/yieldvault"), or null for a file at the root.</summary>
    public static string? LogDirectory(string logPath)
    {
        var slash = logPath.TrimEnd('/').LastIndexOf('/');
        return slash > 0 ? logPath.Substring(0, slash) : null;
    }

    /// <summary>docker inspect's link form "/db:/yieldvault-backend/db" as docker create takes it: "db:db".</summary>
    public static string CreateLink(string link)
    {
        var colon = link.IndexOf(':');
        if (colon < 0)
        {
            return link.TrimStart('/');
        }

        var source = link.Substring(0, colon).TrimStart('/');
        var alias = link.Substring(colon + 1);
        var slash = alias.LastIndexOf('/');
        return source + ":" + (slash >= 0 ? alias.Substring(slash + 1) : alias);
    }

    // The runbook's "-p 3000:3000" for a first container: target.Port on the host to the backend's port.
    private static string PublishFresh(VaultTarget target, HostConfig host, IReadOnlyDictionary<string, string> env, int appPort, List<string> warnings)
    {
        var key = appPort.ToString(CultureInfo.InvariantCulture) + "/tcp";
        host.PortBindings = new Dictionary<string, IList<PortBinding>>
        {
            [key] = new List<PortBinding> { new() { HostIP = "", HostPort = target.Port.ToString(CultureInfo.InvariantCulture) } },
        };
        if (env.TryGetValue("HOST", out var listen) && listen.Trim() is "127.0.0.1" or "localhost" or "::1")
        {
            warnings.Add($"HOST in {target.EnvFilePath} is a loopback address: on Docker's bridge network the published port cannot reach it. Set HOST=0.0.0.0.");
        }

        return $"bridge network, port {target.Port}->{key}";
    }

    // The runner probes target.Port on the host: the container must answer there, as the old one did.
    private static string CheckNetworking(VaultTarget target, ContainerInspectResponse current, HostConfig host, int appPort)
    {
        var name = current.Name?.TrimStart('/') ?? target.ServiceName;
        if (host.NetworkMode == "host")
        {
            return appPort == target.Port
                ? $"host network, port {appPort}"
                : throw new VaultException(ErrorIds.ContainerPortMismatch, VaultErrorKind.InvalidData,
                    $"{target.DisplayName}: container '{name}' uses the host's network, so the backend listens on the env file's PORT ({appPort}), but the target's Port is {target.Port}. Nothing was changed.",
                    $"Make PORT in {target.EnvFilePath} and the target's Port the same.");
        }

        var bindings = host.PortBindings ?? new Dictionary<string, IList<PortBinding>>();
        var published = bindings.FirstOrDefault(b => b.Value?.Any(p => p?.HostPort == target.Port.ToString(CultureInfo.InvariantCulture)) == true);
        if (published.Key is null)
        {
            var shown = Services.DockerServiceManager.FormatPorts(bindings);
            throw new VaultException(ErrorIds.ContainerPortMismatch, VaultErrorKind.InvalidData,
                $"{target.DisplayName}: container '{name}' ({(string.IsNullOrEmpty(host.NetworkMode) ? "default" : host.NetworkMode)} network) publishes "
                + (shown.Count == 0 ? "no port" : string.Join(", ", shown)) + $", not the target's Port {target.Port}; its health could not be checked there. Nothing was changed.",
                $"Publish the backend at {target.Port} on the host (docker run -p {target.Port}:{appPort}), or set the target's Port to the published one.");
        }

        var slash = published.Key.IndexOf('/');
        var containerPort = slash < 0 ? published.Key : published.Key.Substring(0, slash);
        if (containerPort != appPort.ToString(CultureInfo.InvariantCulture))
        {
            throw new VaultException(ErrorIds.ContainerPortMismatch, VaultErrorKind.InvalidData,
                $"{target.DisplayName}: container '{name}' publishes port {target.Port} from its port {published.Key}, but the env file's PORT makes the backend listen on {appPort}. Nothing was changed.",
                $"Make PORT in {target.EnvFilePath} {containerPort}, or publish {target.Port}:{appPort}.");
        }

        return string.Join(", ", Services.DockerServiceManager.FormatPorts(new Dictionary<string, IList<PortBinding>> { [published.Key] = published.Value }));
    }

    private static bool MountsAt(HostConfig host, string directory)
    {
        foreach (var bind in host.Binds ?? Enumerable.Empty<string>())
        {
            var parts = bind.Split(':');
            if (parts.Length >= 2 && parts[1].TrimEnd('/') == directory)
            {
                return true;
            }
        }

        return host.Mounts?.Any(m => m.Target?.TrimEnd('/') == directory) == true;
    }

    private static EndpointSettings Endpoint(EndpointSettings old, ContainerInspectResponse current)
    {
        // Aliases the engine added for the old container itself (its short id, its name) would point at the wrong one.
        var id = current.ID ?? "";
        var shortId = id.Length > 12 ? id.Substring(0, 12) : id;
        var name = current.Name?.TrimStart('/') ?? "";
        return new EndpointSettings
        {
            Aliases = old.Aliases?.Where(a => a != shortId && a != id && a != name).ToList(),
            IPAMConfig = old.IPAMConfig,
            Links = old.Links,
            DriverOpts = old.DriverOpts,
        };
    }

    private static bool IsSpecialMode(string? mode) =>
        mode is "host" or "none" || (mode?.StartsWith("container:", StringComparison.Ordinal) ?? false);

    private static IList<string>? Overridden(IList<string>? value, IList<string>? fromImage) =>
        value is null || (fromImage is not null && value.SequenceEqual(fromImage, StringComparer.Ordinal)) ? null : value;

    private static string? Overridden(string? value, string? fromImage) =>
        string.IsNullOrEmpty(value) || value == fromImage ? null : value;

    private static bool SameJson(object? a, object? b) =>
        JsonConvert.SerializeObject(a) == JsonConvert.SerializeObject(b);
}
