using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using Docker.DotNet.Models;

namespace YieldVault.Ops.Services;

/// <summary>Image references as a Swarm spec holds them: pinned to a digest so every node runs the same image.</summary>
internal static class SwarmImages
{
    /// <summary>"reg/app:v1@sha256:..." -> "reg/app:v1" (what the user named).</summary>
    public static string Display(string image)
    {
        var at = image.IndexOf('@');
        return at > 0 ? image.Substring(0, at) : image;
    }

    /// <summary>
    /// "reg/app:v1" pinned to the digest the registry gave the pulled image ("reg/app:v1@sha256:..."), as the docker CLI
    /// does; the reference as it is when the image came from no registry (then each node resolves the tag itself).
    /// </summary>
    public static string Pin(string image, IEnumerable<string>? repoDigests)
    {
        if (image.IndexOf('@') >= 0 || repoDigests is null)
        {
            return image;
        }

        var (repository, _) = DockerImages.Split(image);
        var digest = repoDigests.FirstOrDefault(d => d.StartsWith(repository + "@", StringComparison.Ordinal));
        return digest is null ? image : image + digest.Substring(repository.Length);
    }
}

/// <summary>
/// The spec a deployment submits: the service's current spec with the new image (pinned), the env file as its
/// environment, and the runbook's update and rollback settings: the target's order, parallelism, delay and monitor,
/// failure action rollback (the engine goes back by itself when a new task fails or is unhealthy while it watches it).
/// </summary>
internal static class SwarmServiceSpec
{
    public const string ReleaseLabel = DockerContainerNames.ReleaseLabel;
    public const string RunLabel = "yieldvault-ops.run";

    /// <summary>Changes <paramref name="spec"/> (a fresh inspect's, used for this update only) into the deployment's.</summary>
    public static ServiceSpec ForDeployment(VaultTarget target, ServiceSpec spec, string pinnedImage, string shownImage, IReadOnlyDictionary<string, string> env, string runId)
    {
        if (spec.TaskTemplate?.ContainerSpec is not { } container)
        {
            throw new VaultException(ErrorIds.SwarmUpdateFailed, VaultErrorKind.InvalidData,
                $"{target.DisplayName}: service {target.ServiceName} runs no container (a plugin or network attachment service); only container services can be deployed. Nothing was changed.");
        }

        container.Image = pinnedImage;
        container.Env = env.Select(pair => pair.Key + "=" + pair.Value).ToList();

        // An update always runs, also for the same image again (a redeploy), so the runbook's checks always have a new task to judge.
        spec.TaskTemplate.ForceUpdate = spec.TaskTemplate.ForceUpdate + 1;
        spec.UpdateConfig = UpdateConfig(target, "rollback");
        spec.RollbackConfig = UpdateConfig(target, "pause");
        spec.Labels ??= new Dictionary<string, string>();
        spec.Labels[ReleaseLabel] = shownImage;
        spec.Labels[RunLabel] = runId;
        return spec;
    }

    /// <summary>The engine's update_config (or rollback_config) from the target's settings.</summary>
    public static SwarmUpdateConfig UpdateConfig(VaultTarget target, string failureAction) => new()
    {
        Parallelism = (ulong)target.SwarmUpdateParallelism,
        Delay = Nanoseconds(target.SwarmUpdateDelaySec),
        Monitor = Nanoseconds(target.SwarmMonitorSec),
        FailureAction = failureAction,
        MaxFailureRatio = 0,
        Order = OrderOf(target.SwarmUpdateOrder),
    };

    public static string OrderOf(SwarmUpdateOrder order) => order == SwarmUpdateOrder.StartFirst ? "start-first" : "stop-first";

    /// <summary>
    /// How long an update of <paramref name="replicas"/> tasks may take before it counts as hung: per group of tasks, the
    /// time to start and become healthy, the monitor and the delay; at least two minutes.
    /// </summary>
    public static TimeSpan UpdateBound(VaultTarget target, int replicas, TimeSpan healthTimeout)
    {
        var groups = Math.Max(1, (int)Math.Ceiling(Math.Max(1, replicas) / (double)target.SwarmUpdateParallelism));
        var perGroup = healthTimeout.TotalSeconds + target.SwarmMonitorSec + target.SwarmUpdateDelaySec + 15;
        return TimeSpan.FromSeconds(Math.Max(120, groups * perGroup + 30));
    }

    /// <summary>
    /// Why the target's health could not be checked on its Port with this spec, or null: the service must publish
    /// <see cref="VaultTarget.Port"/> (host mode on a single node; the routing mesh needs IPVS) from the port the backend
    /// listens on (the env file's PORT), or run on the host's network with PORT = Port.
    /// </summary>
    public static string? PortProblem(VaultTarget target, ServiceSpec spec, bool onHostNetwork, int appPort)
    {
        if (onHostNetwork)
        {
            return appPort == target.Port ? null
                : $"service {target.ServiceName} runs on the host's network, so the backend listens on the env file's PORT ({appPort}), but the target's Port is {target.Port}";
        }

        var ports = spec.EndpointSpec?.Ports ?? new List<PortConfig>();
        var published = ports.FirstOrDefault(p => p.PublishedPort == target.Port && (string.IsNullOrEmpty(p.Protocol) || p.Protocol == "tcp"));
        if (published is null)
        {
            var list = ports.Count == 0 ? "no ports" : string.Join(", ", ports.Select(Describe));
            return $"service {target.ServiceName} publishes {list}, not the target's Port {target.Port}, and does not run on the host's network";
        }

        return published.TargetPort == appPort ? null
            : $"service {target.ServiceName} publishes port {target.Port} from its port {published.TargetPort}, but the env file's PORT makes the backend listen on {appPort}";
    }

    /// <summary>"3000->3000/tcp (host)".</summary>
    public static string Describe(PortConfig port) =>
        $"{port.PublishedPort.ToString(CultureInfo.InvariantCulture)}->{port.TargetPort.ToString(CultureInfo.InvariantCulture)}/{(string.IsNullOrEmpty(port.Protocol) ? "tcp" : port.Protocol)} ({(string.IsNullOrEmpty(port.PublishMode) ? "ingress" : port.PublishMode)})";

    private static long Nanoseconds(int seconds) => seconds * 1_000_000_000L;
}
