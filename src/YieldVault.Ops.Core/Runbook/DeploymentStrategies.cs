using System;
using System.Threading;
using System.Threading.Tasks;
using YieldVault.Ops.Hosts;

namespace YieldVault.Ops.Runbook;

public static class DeploymentStrategies
{
    public static IDeploymentStrategy CreateDocker(VaultTarget target, IHostShell shell, DeploymentRequest request, Action<string> step) =>
        throw new VaultException("NotImplemented", VaultErrorKind.NotInstalled, "Docker deployments are being written.");

    public static Task<VaultDeploymentResult> UndoDockerAsync(VaultTarget target, IHostShell shell, SecretRedactor redactor, bool clearStaleLock, TimeSpan stopTimeout,
        TimeSpan healthTimeout, CancellationToken cancellationToken) =>
        throw new VaultException("NotImplemented", VaultErrorKind.NotInstalled, "Docker rollbacks are being written.");
}
