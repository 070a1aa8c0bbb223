using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using YieldVault.Ops.Hosts;

namespace YieldVault.Ops.Services;

// PLACEHOLDER while the real Pm2 manager is written (replaced in the same change set).
public sealed class Pm2ServiceManager : IServiceManager
{
    public Pm2ServiceManager(VaultTarget target, IHostShell shell)
    {
        _ = target;
        _ = shell;
    }

    public ServiceManagerKind Kind => ServiceManagerKind.Pm2;

    public Task<ServiceState> GetStateAsync(CancellationToken cancellationToken) => throw new NotSupportedException();

    public Task StartAsync(CancellationToken cancellationToken) => throw new NotSupportedException();

    public Task StopAsync(TimeSpan timeout, CancellationToken cancellationToken) => throw new NotSupportedException();

    public Task KillAsync(CancellationToken cancellationToken) => throw new NotSupportedException();

    public Task RestartAsync(CancellationToken cancellationToken) => throw new NotSupportedException();

    public Task<IReadOnlyList<string>> ReadLogAsync(int tail, DateTimeOffset? since, CancellationToken cancellationToken) => throw new NotSupportedException();
}
