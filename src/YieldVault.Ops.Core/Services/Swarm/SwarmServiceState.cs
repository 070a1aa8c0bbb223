using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using Docker.DotNet.Models;

namespace YieldVault.Ops.Services;

/// <summary>A Swarm service and its tasks as one reading of the backend's process (runbook 1.1).</summary>
internal static class SwarmServiceState
{
    /// <summary>Failed tasks within this window, with none running, make a crash loop.</summary>
    private static readonly TimeSpan CrashWindow = TimeSpan.FromMinutes(5);

    public static ServiceState ToServiceState(string name, SwarmService service, IList<TaskResponse> tasks, string? localNode, DateTime utcNow)
    {
        var desiredRunning = tasks.Where(t => t.DesiredState == TaskState.Running).ToList();
        var running = desiredRunning.Where(t => t.Status?.State == TaskState.Running).ToList();
        var desired = service.Spec?.Mode?.Replicated is { } replicated ? (int)(replicated.Replicas ?? 1) : desiredRunning.Count;
        var failedRecently = tasks.Count(t => t.Status is { } s && s.State is TaskState.Failed or TaskState.Rejected && utcNow - s.Timestamp < CrashWindow);
        var update = service.UpdateStatus?.State;

        ServiceStatus status;
        if (desired == 0)
        {
            status = running.Count == 0 ? ServiceStatus.Stopped : ServiceStatus.Stopping;
        }
        else if (running.Count > 0)
        {
            status = ServiceStatus.Running;
        }
        else if (failedRecently >= 2)
        {
            status = ServiceStatus.CrashLooping;
        }
        else if (desiredRunning.Count > 0)
        {
            status = ServiceStatus.Starting;
        }
        else
        {
            status = ServiceStatus.Failed;
        }

        // The pid is a process on the target's host only when the task runs on the engine's own node.
        var local = running.FirstOrDefault(t => localNode is not null && t.NodeID == localNode);
        var pid = local?.Status?.ContainerStatus?.PID is > 0 and var p and <= int.MaxValue ? (int?)p : null;
        var image = service.Spec?.TaskTemplate?.ContainerSpec?.Image;
        var ports = service.Endpoint?.Ports ?? service.Spec?.EndpointSpec?.Ports ?? new List<PortConfig>();
        var detail = $"{running.Count.ToString(CultureInfo.InvariantCulture)}/{desired.ToString(CultureInfo.InvariantCulture)} running"
            + (update is null ? "" : $"; update {update}" + (string.IsNullOrEmpty(service.UpdateStatus!.Message) ? "" : $" ({service.UpdateStatus.Message})"))
            + (SwarmServices.TaskErrors(tasks, utcNow - CrashWindow).FirstOrDefault() is { } error ? "; " + error : "");
        return new ServiceState
        {
            Manager = ServiceManagerKind.Swarm,
            ServiceName = name,
            Status = status,
            Pid = pid,
            StartedAt = running.Count == 0 ? null : new DateTimeOffset(DateTime.SpecifyKind(running.Min(t => t.Status.Timestamp), DateTimeKind.Utc)),
            Restarts = tasks.Count(t => t.Status is { } s && s.State is TaskState.Failed or TaskState.Rejected),
            Image = image is null ? null : SwarmImages.Display(image),
            Ports = ports.Select(SwarmServiceSpec.Describe).ToList(),
            Detail = detail,
            ReplicasRunning = running.Count,
            ReplicasDesired = desired,
            UpdateState = update,
            Tasks = tasks.Select(ToTask).ToList(),
        };
    }

    public static VaultSwarmTask ToTask(TaskResponse task) => new()
    {
        Id = SwarmServices.Short(task.ID),
        Slot = task.Slot,
        Node = task.NodeID is { Length: > 0 } node ? SwarmServices.Short(node) : null,
        State = Lower(task.Status?.State),
        DesiredState = Lower(task.DesiredState),
        Image = SwarmServices.ImageOf(task),
        Error = string.IsNullOrEmpty(task.Status?.Err) ? null : task.Status!.Err,
        Message = string.IsNullOrEmpty(task.Status?.Message) ? null : task.Status!.Message,
        Since = task.Status is { } s ? new DateTimeOffset(DateTime.SpecifyKind(s.Timestamp, DateTimeKind.Utc)) : default,
        ExitCode = task.Status?.ContainerStatus is { } c && task.Status.State is TaskState.Failed or TaskState.Complete or TaskState.Shutdown ? c.ExitCode : null,
    };

    private static string Lower(TaskState? state) => state?.ToString().ToLowerInvariant() ?? "";
}
