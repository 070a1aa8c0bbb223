using YieldVault.Ops.Hosts;

namespace YieldVault.Ops.Services;

/// <summary>Picks the service manager of a target.</summary>
public static class ServiceManagers
{
    /// <param name="sampleResources">Whether readings include CPU and memory where that costs extra time (Docker).</param>
    public static IServiceManager For(VaultTarget target, IHostShell shell, bool sampleResources = false) => target.ServiceManager switch
    {
        ServiceManagerKind.Pm2 => new Pm2ServiceManager(target, shell),
        ServiceManagerKind.Docker => new DockerServiceManager(target, shell, sampleResources),
        ServiceManagerKind.Swarm => new SwarmServiceManager(target, shell),
        _ => new SystemdServiceManager(target, shell),
    };
}
