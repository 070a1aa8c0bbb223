using YieldVault.Ops.Hosts;

namespace YieldVault.Ops.Services;

/// <summary>Picks the service manager of a target.</summary>
public static class ServiceManagers
{
    public static IServiceManager For(VaultTarget target, IHostShell shell) => target.ServiceManager switch
    {
        ServiceManagerKind.Pm2 => new Pm2ServiceManager(target, shell),
        ServiceManagerKind.Docker => new DockerServiceManager(target, shell),
        _ => new SystemdServiceManager(target, shell),
    };
}
