using System;
using System.Threading;
using System.Threading.Tasks;
using YieldVault.Ops.Hosts;

namespace YieldVault.Ops.Runbook;

/// <summary>The Docker side of deployments and rollbacks, for the runner and the cmdlets (its types stay internal).</summary>
public static class DeploymentStrategies
{
    /// <summary>Runbook Step 4 Option B: a new container next to the old one, swapped in after the stop.</summary>
    public static IDeploymentStrategy CreateDocker(VaultTarget target, IHostShell shell, DeploymentRequest request, Action<string> step) =>
        new DockerStrategy(target, shell, request, step);

    /// <summary>The runbook's Docker Rollback: back to the kept <c>&lt;name&gt;-previous</c> container, verified.</summary>
    public static Task<VaultDeploymentResult> UndoDockerAsync(VaultTarget target, IHostShell shell, SecretRedactor redactor, bool clearStaleLock, TimeSpan stopTimeout,
        TimeSpan healthTimeout, CancellationToken cancellationToken) =>
        new DockerUndoRunner(target, shell, redactor).RunAsync(clearStaleLock, stopTimeout, healthTimeout, cancellationToken);
}
