using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using YieldVault.Ops.Hosts;

namespace YieldVault.Ops.Services;

// PLACEHOLDER while the real Systemd manager is written (replaced in the same change set).
public sealed class SystemdServiceManager : IServiceManager
{
    public SystemdServiceManager(VaultTarget target, IHostShell shell)
    {
        _ = target;
        _ = shell;
    }

    public ServiceManagerKind Kind => ServiceManagerKind.Systemd;

    public Task<ServiceState> GetStateAsync(CancellationToken cancellationToken) => throw new NotSupportedException();

    public Task StartAsync(CancellationToken cancellationToken) => throw new NotSupportedException();

    public Task StopAsync(TimeSpan timeout, CancellationToken cancellationToken) => throw new NotSupportedException();

    public Task KillAsync(CancellationToken cancellationToken) => throw new NotSupportedException();

    public Task RestartAsync(CancellationToken cancellationToken) => throw new NotSupportedException();

    public Task<IReadOnlyList<string>> ReadLogAsync(int tail, DateTimeOffset? since, CancellationToken cancellationToken) => throw new NotSupportedException();
}
