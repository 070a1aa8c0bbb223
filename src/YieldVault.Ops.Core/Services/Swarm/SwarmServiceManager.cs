using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Docker.DotNet.Models;
using YieldVault.Ops.Hosts;

namespace YieldVault.Ops.Services;

/// <summary>
/// The backend as a Docker Swarm service named <see cref="VaultTarget.ServiceName"/>, driven through a manager's engine
/// API (Docker.DotNet) over the local socket, TCP or the target's SSH connection, like <see cref="DockerServiceManager"/>.
/// A stop scales the service to 0 (the replicas it had are kept in a label) and a start scales it back; a restart is a
/// forced rolling update; the log is the merged log of its tasks. Deployments and rollbacks do not stop and start it:
/// they are the engine's own rolling update (<c>SwarmStrategy</c>, <c>SwarmRollbackRunner</c>).
/// </summary>
public sealed class SwarmServiceManager : IServiceManager
{
    /// <summary>The label that keeps the replicas of a service scaled to 0 by a stop.</summary>
    internal const string ReplicasLabel = "yieldvault-ops.replicas";

    private static readonly TimeSpan ConvergeBound = TimeSpan.FromMinutes(5);
    private readonly VaultTarget _target;
    private readonly IHostShell _shell;

    public SwarmServiceManager(VaultTarget target, IHostShell shell)
    {
        _target = target ?? throw new ArgumentNullException(nameof(target));
        _shell = shell ?? throw new ArgumentNullException(nameof(shell));
    }

    public ServiceManagerKind Kind => ServiceManagerKind.Swarm;

    public async Task<ServiceState> GetStateAsync(CancellationToken cancellationToken)
    {
        using var swarm = SwarmServices.Open(_target, _shell);
        var service = await swarm.InspectAsync(cancellationToken).ConfigureAwait(false);
        if (service is null)
        {
            return new ServiceState
            {
                Manager = ServiceManagerKind.Swarm,
                ServiceName = _target.ServiceName,
                Status = ServiceStatus.NotFound,
                Detail = $"no Swarm service named '{_target.ServiceName}' on {swarm.Description}",
            };
        }

        var tasks = await swarm.TasksAsync(service.ID, cancellationToken).ConfigureAwait(false);
        var node = await swarm.LocalNodeAsync(cancellationToken).ConfigureAwait(false);
        return SwarmServiceState.ToServiceState(_target.ServiceName, service, tasks, node, DateTime.UtcNow);
    }

    /// <summary>Scales a service a stop left at 0 back to the replicas it had (1 when none are recorded); a running one is left as it is.</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        using var swarm = SwarmServices.Open(_target, _shell);
        var service = await swarm.RequireAsync(cancellationToken).ConfigureAwait(false);
        if (service.Spec.Mode?.Replicated is not { } replicated || replicated.Replicas is not 0)
        {
            return;
        }

        var spec = service.Spec;
        var replicas = spec.Labels is { } labels && labels.TryGetValue(ReplicasLabel, out var kept)
            && ulong.TryParse(kept, NumberStyles.None, CultureInfo.InvariantCulture, out var count) && count > 0 ? count : 1UL;
        replicated.Replicas = replicas;
        spec.Labels?.Remove(ReplicasLabel);
        await ScaleAsync(swarm, service, spec, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Scales the service to 0 (remembering its replicas) and waits until its tasks have stopped, within <paramref name="timeout"/> plus a margin.</summary>
    public async Task StopAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var swarm = SwarmServices.Open(_target, _shell);
        var service = await swarm.RequireAsync(cancellationToken).ConfigureAwait(false);
        if (service.Spec.Mode?.Replicated is not { } replicated)
        {
            throw new VaultException(ErrorIds.SwarmUpdateFailed, VaultErrorKind.InvalidOperation,
                $"{_target.DisplayName}: service {_target.ServiceName} is a global service; it cannot be scaled to 0 to stop it.",
                "Stop it with docker service rm, or run it in replicated mode.");
        }

        if (replicated.Replicas is not 0)
        {
            var spec = service.Spec;
            spec.Labels ??= new Dictionary<string, string>();
            spec.Labels[ReplicasLabel] = (replicated.Replicas ?? 1).ToString(CultureInfo.InvariantCulture);
            replicated.Replicas = 0;
            await ScaleAsync(swarm, service, spec, cancellationToken).ConfigureAwait(false);
        }

        await WaitTasksAsync(swarm, service.ID, 0, timeout + TimeSpan.FromSeconds(15), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The engine kills what a stop leaves: the scale to 0 is all there is to do.</summary>
    public Task KillAsync(CancellationToken cancellationToken) => StopAsync(TimeSpan.FromSeconds(10), cancellationToken);

    /// <summary>A rolling restart: a forced update of the same spec, waited for.</summary>
    public async Task RestartAsync(CancellationToken cancellationToken)
    {
        using var swarm = SwarmServices.Open(_target, _shell);
        var service = await swarm.RequireAsync(cancellationToken).ConfigureAwait(false);
        var before = service.UpdateStatus;
        var spec = service.Spec;
        spec.TaskTemplate.ForceUpdate = spec.TaskTemplate.ForceUpdate + 1;
        await swarm.UpdateAsync(service, spec, null, rollback: false, cancellationToken).ConfigureAwait(false);
        var done = await swarm.WaitForUpdateAsync(before, ConvergeBound, text => Reporting.Current.Verbose($"{_target.Name}: {text}"), cancellationToken).ConfigureAwait(false);
        if (done.UpdateStatus?.State != SwarmServices.Completed)
        {
            throw new VaultException(ErrorIds.SwarmUpdateFailed, VaultErrorKind.InvalidOperation,
                $"{_target.DisplayName}: the restart of service {_target.ServiceName} ended {done.UpdateStatus?.State}: {done.UpdateStatus?.Message}",
                $"Look at the tasks: docker service ps {_target.ServiceName} --no-trunc.");
        }
    }

    public async Task<IReadOnlyList<string>> ReadLogAsync(int tail, DateTimeOffset? since, CancellationToken cancellationToken)
    {
        if (tail < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(tail), tail, "At least one line.");
        }

        using var swarm = SwarmServices.Open(_target, _shell);
        var service = await swarm.RequireAsync(cancellationToken).ConfigureAwait(false);
        return await swarm.LogsAsync(service, tail, since, cancellationToken).ConfigureAwait(false);
    }

    // A scale is an update of the replicas only (no new tasks for the running ones, so no update state to wait for).
    private static Task ScaleAsync(SwarmServices swarm, SwarmService service, ServiceSpec spec, CancellationToken cancellationToken) =>
        swarm.UpdateAsync(service, spec, null, rollback: false, cancellationToken);

    private async Task WaitTasksAsync(SwarmServices swarm, string serviceId, int running, TimeSpan bound, CancellationToken cancellationToken)
    {
        var watch = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            var tasks = await swarm.TasksAsync(serviceId, cancellationToken).ConfigureAwait(false);
            var live = tasks.Count(t => t.Status?.State is TaskState.Running or TaskState.Starting or TaskState.Preparing or TaskState.Ready or TaskState.Assigned
                or TaskState.Accepted or TaskState.Pending or TaskState.Allocated or TaskState.New);
            if (live <= running)
            {
                return;
            }

            if (watch.Elapsed >= bound)
            {
                throw new VaultException(ErrorIds.ServiceStopTimeout, VaultErrorKind.OperationTimeout,
                    $"{_target.DisplayName}: {live} task(s) of service {_target.ServiceName} still run {bound.TotalSeconds:0} s after it was scaled to {running}.",
                    $"Look at the tasks: docker service ps {_target.ServiceName}.");
            }

            await Task.Delay(TimeSpan.FromMilliseconds(300), cancellationToken).ConfigureAwait(false);
        }
    }
}
