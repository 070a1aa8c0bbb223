using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Net;
using System.Threading;
using System.Threading.Tasks;
using Docker.DotNet;
using Docker.DotNet.Models;
using YieldVault.Ops.Hosts;

namespace YieldVault.Ops.Services;

/// <summary>
/// The Swarm calls of a target's service (named <see cref="VaultTarget.ServiceName"/>) on its engine, a swarm manager,
/// each bounded and mapped to our errors: inspect, tasks, update, rollback, logs, and the wait for an update to end.
/// One engine connection per operation, like <see cref="DockerContainers"/>; Docker.DotNet types stay in Services/ and
/// Runbook/.
/// </summary>
internal sealed class SwarmServices : IDisposable
{
    /// <summary>The engine's update states that end an update or a rollback.</summary>
    public static readonly IReadOnlyCollection<string> FinalStates = new[] { Completed, Paused, RollbackCompleted, RollbackPaused };

    public const string Updating = "updating";
    public const string Completed = "completed";
    public const string Paused = "paused";
    public const string RollbackStarted = "rollback_started";
    public const string RollbackCompleted = "rollback_completed";
    public const string RollbackPaused = "rollback_paused";

    private static readonly TimeSpan Request = DockerServiceManager.RequestTimeout;
    private readonly VaultTarget _target;
    private readonly DockerEngine _engine;

    private SwarmServices(VaultTarget target, DockerEngine engine)
    {
        _target = target;
        _engine = engine;
    }

    public static SwarmServices Open(VaultTarget target, IHostShell shell)
    {
        if (!DockerContainerNames.IsValidContainerName(target.ServiceName) || target.ServiceName.Length > 63)
        {
            throw new VaultException(ErrorIds.SwarmServiceNameInvalid, VaultErrorKind.InvalidArgument,
                $"{target.DisplayName}: ServiceName '{target.ServiceName}' is not a Swarm service name (letters, digits, '_', '.', '-'; starting with a letter or digit; at most 63).",
                "Set the target's ServiceName to the service's name (docker service ls).");
        }

        return new SwarmServices(target, DockerEngine.Open(target, shell));
    }

    public string Description => _engine.Description;

    public string Name => _target.ServiceName;

    public void Dispose() => _engine.Dispose();

    /// <summary>The service, or null when the swarm has none by that name.</summary>
    public async Task<SwarmService?> InspectAsync(CancellationToken cancellationToken)
    {
        try
        {
            return await _engine.CallAsync("inspect service " + Name, null, Request,
                (client, token) => client.Swarm.InspectServiceAsync(Name, token), cancellationToken).ConfigureAwait(false);
        }
        catch (VaultException ex) when (StatusOf(ex) == HttpStatusCode.NotFound)
        {
            return null;
        }
        catch (VaultException ex) when (StatusOf(ex) == HttpStatusCode.ServiceUnavailable)
        {
            throw NotManager(ex);
        }
    }

    /// <summary>The service; <c>SwarmServiceNotFound</c> when there is none.</summary>
    public async Task<SwarmService> RequireAsync(CancellationToken cancellationToken) =>
        await InspectAsync(cancellationToken).ConfigureAwait(false) ?? throw NotFound();

    public VaultException NotFound() => new(ErrorIds.SwarmServiceNotFound, VaultErrorKind.ObjectNotFound,
        $"{_target.DisplayName}: the swarm managed by the engine at {Description} has no service named '{Name}'. Nothing was changed.",
        "Create the service first (docker service create --name " + Name + " ...), or set the target's ServiceName to an existing one (docker service ls).");

    /// <summary>The service's tasks (the engine keeps a few finished ones per slot), newest first.</summary>
    public async Task<IList<TaskResponse>> TasksAsync(string serviceId, CancellationToken cancellationToken)
    {
        var tasks = await _engine.CallAsync("list the service's tasks", null, Request,
            (client, token) => client.Tasks.ListAsync(new TasksListParameters
            {
                Filters = new Dictionary<string, IDictionary<string, bool>> { ["service"] = new Dictionary<string, bool> { [serviceId] = true } },
            }, token), cancellationToken).ConfigureAwait(false);
        return tasks.OrderByDescending(t => t.Status?.Timestamp ?? t.UpdatedAt).ToList();
    }

    /// <summary>Whether the service's tasks run on the host's network (its PORT is then the host's port).</summary>
    public async Task<bool> UsesHostNetworkAsync(ServiceSpec spec, CancellationToken cancellationToken)
    {
        var networks = spec.TaskTemplate?.Networks ?? spec.Networks ?? new List<NetworkAttachmentConfig>();
        foreach (var network in networks.Where(n => !string.IsNullOrEmpty(n.Target)))
        {
            if (network.Target == "host")
            {
                return true;
            }

            try
            {
                var found = await _engine.CallAsync("inspect network " + network.Target, null, Request,
                    (client, token) => client.Networks.InspectNetworkAsync(network.Target, token), cancellationToken).ConfigureAwait(false);
                if (found.Driver == "host" || found.Name == "host")
                {
                    return true;
                }
            }
            catch (VaultException ex) when (StatusOf(ex) == HttpStatusCode.NotFound)
            {
                // A network of another node's scope: not the host's.
            }
        }

        return false;
    }

    /// <summary>The id of the engine's own node (to tell whether a task's pid is one on this host).</summary>
    public async Task<string?> LocalNodeAsync(CancellationToken cancellationToken)
    {
        var info = await _engine.CallAsync("read the engine's swarm node", null, Request,
            (client, token) => client.System.GetSystemInfoAsync(token), cancellationToken).ConfigureAwait(false);
        return info.Swarm?.NodeID;
    }

    /// <summary>
    /// Submits <paramref name="spec"/> as the service's new spec (or, with <paramref name="rollback"/>, asks the engine to go
    /// back to its previous spec), at the version read in <paramref name="current"/> (an update in between is refused by the
    /// engine). Returns the engine's warnings.
    /// </summary>
    public async Task<IList<string>> UpdateAsync(SwarmService current, ServiceSpec spec, AuthConfig? auth, bool rollback, CancellationToken cancellationToken)
    {
        var parameters = new ServiceUpdateParameters
        {
            Service = spec,
            Version = (long)current.Version.Index,
            RegistryAuth = auth,
            Rollback = rollback ? "previous" : null,
        };
        var response = await _engine.CallAsync(rollback ? "roll back service " + Name : "update service " + Name, null, Request,
            (client, token) => client.Swarm.UpdateServiceAsync(current.ID, parameters, token), cancellationToken).ConfigureAwait(false);
        return response.Warnings ?? new List<string>();
    }

    /// <summary>
    /// Waits until the update (or rollback) submitted after <paramref name="before"/> ends (completed, paused, rolled back),
    /// polling the service; reports each change of its state. Throws <c>SwarmUpdateTimeout</c> after <paramref name="bound"/>.
    /// </summary>
    /// <param name="before">The service's update status before the submission: an update whose start is the same is an earlier one.</param>
    /// <param name="seen">Collects each state the update went through, with the engine's message ("rollback_started: update rolled back due to failure ...").</param>
    public async Task<SwarmService> WaitForUpdateAsync(UpdateStatus? before, TimeSpan bound, Action<string> step, CancellationToken cancellationToken, ICollection<string>? seen = null)
    {
        var watch = System.Diagnostics.Stopwatch.StartNew();
        string? last = null;
        var delay = TimeSpan.FromMilliseconds(250);
        while (true)
        {
            var service = await RequireAsync(cancellationToken).ConfigureAwait(false);
            var status = service.UpdateStatus;
            var isNew = status is not null && (before is null || status.StartedAt != before.StartedAt || status.State != before.State);
            if (isNew && status!.State != last)
            {
                last = status.State;
                seen?.Add(status.State + (string.IsNullOrEmpty(status.Message) ? "" : ": " + status.Message));
                step($"swarm update: {status.State}" + (string.IsNullOrEmpty(status.Message) ? "" : $" ({status.Message})") + $" after {watch.Elapsed.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture)} s");
            }

            if (isNew && FinalStates.Contains(status!.State))
            {
                return service;
            }

            if (watch.Elapsed >= bound)
            {
                throw new VaultException(ErrorIds.SwarmUpdateTimeout, VaultErrorKind.OperationTimeout,
                    $"{_target.DisplayName}: the update of service {Name} did not finish within {bound.TotalSeconds:0} s (last state: {status?.State ?? "none"}" +
                    (string.IsNullOrEmpty(status?.Message) ? ")." : $", {status!.Message})."),
                    $"Look at the tasks (docker service ps {Name} --no-trunc on a manager) and the service's log (Get-VaultBackendLog).");
            }

            await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
            delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 1.5, 1000));
        }
    }

    /// <summary>The log of the service's tasks, as the engine merges it, newest last.</summary>
    public async Task<IReadOnlyList<string>> LogsAsync(SwarmService service, int tail, DateTimeOffset? since, CancellationToken cancellationToken)
    {
        var tty = service.Spec?.TaskTemplate?.ContainerSpec?.TTY == true;
        var parameters = new ServiceLogsParameters
        {
            ShowStdout = true,
            ShowStderr = true,
            Timestamps = true,
            Tail = tail.ToString(CultureInfo.InvariantCulture),
            Since = since is { } from ? DockerContainerLog.UnixTimestamp(from) : null,
        };
        return await _engine.CallAsync<IReadOnlyList<string>>("read the service's log", null, DockerServiceManager.LogTimeout, async (client, token) =>
        {
            using var stream = await client.Swarm.GetServiceLogsAsync(service.ID, tty, parameters, token).ConfigureAwait(false);
            return await DockerContainerLog.ReadLinesAsync(stream, tail, token).ConfigureAwait(false);
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The image, pulled when the engine does not have it (the manager's copy: the labels say the version).</summary>
    public Task<(ImageInspectResponse Image, bool Pulled)> EnsureImageAsync(DockerContainers containers, string image, Func<CancellationToken, Task<RegistryAuth?>> credentials,
        Action<string> step, CancellationToken cancellationToken) => containers.EnsureImageAsync(image, credentials, step, cancellationToken);

    /// <summary>The errors of the tasks that failed since <paramref name="since"/>: "task x: container unhealthy".</summary>
    public static IReadOnlyList<string> TaskErrors(IEnumerable<TaskResponse> tasks, DateTime? since) =>
        tasks.Where(t => t.Status is { } s && (s.State is TaskState.Failed or TaskState.Rejected || !string.IsNullOrEmpty(s.Err)) && (since is null || s.Timestamp >= since))
            .Select(t => $"task {Short(t.ID)} ({ImageOf(t)}): {(string.IsNullOrEmpty(t.Status.Err) ? t.Status.Message : t.Status.Err)}")
            .Distinct()
            .Take(5)
            .ToList();

    /// <summary>
    /// What became of the tasks of <paramref name="image"/> (the update's new ones): "task x: shutdown (exit 137), task
    /// y: failed: container unhealthy", for the error of an update the engine rolled back.
    /// </summary>
    public static IReadOnlyList<string> TasksOf(IEnumerable<TaskResponse> tasks, string image) =>
        tasks.Where(t => ImageOf(t) == SwarmImages.Display(image) && t.Status is not null)
            .Select(t => $"task {Short(t.ID)}: {t.Status.State.ToString().ToLowerInvariant()}"
                + (t.Status.ContainerStatus is { ExitCode: not 0 } c ? $" (exit {c.ExitCode.ToString(CultureInfo.InvariantCulture)})" : "")
                + (string.IsNullOrEmpty(t.Status.Err) ? "" : ": " + t.Status.Err))
            .Take(5)
            .ToList();

    public static string ImageOf(TaskResponse task) => SwarmImages.Display(task.Spec?.ContainerSpec?.Image ?? "");

    public static string Short(string id) => id.Length > 12 ? id.Substring(0, 12) : id;

    private static HttpStatusCode? StatusOf(VaultException ex) => (ex.InnerException as DockerApiException)?.StatusCode;

    private VaultException NotManager(VaultException inner) => new(ErrorIds.SwarmNotManager, VaultErrorKind.InvalidOperation,
        $"{_target.DisplayName}: the Docker engine at {Description} is not a swarm manager: {DockerEngine.EngineMessage((inner.InnerException as DockerApiException)?.ResponseBody)}",
        "Point the target at a manager of the swarm (its host, or DockerHost), or set ServiceManager to Docker for a plain container.", inner);
}
