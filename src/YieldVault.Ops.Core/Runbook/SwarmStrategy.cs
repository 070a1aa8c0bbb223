using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Docker.DotNet.Models;
using YieldVault.Ops.Hosts;
using YieldVault.Ops.Services;

namespace YieldVault.Ops.Runbook;

/// <summary>
/// A deployment of a Swarm service: the engine's own rolling update, driven and verified by the run. Before anything
/// changes (Step 4): the env file is read (it becomes the service's environment; its values go to the engine's API and
/// nowhere else), the image is pulled on the manager (its labels say the version to expect; its digest pins the spec, as
/// the docker CLI does) and the service must answer on the target's Port (a published port, or the host's network). The
/// switch (Step 7) is one ServiceUpdate with the target's update settings and failure action rollback, waited for: the
/// engine stops and starts each task itself (the runner does not), and rolls back by itself when a new task fails or is
/// unhealthy within the monitor. After it completes, the run's checks (health, readiness, version, log, smoke) decide;
/// a failure there is rolled back by the engine's rollback to the previous spec (<see cref="SwitchBackAsync"/>).
/// </summary>
internal sealed class SwarmStrategy : IDeploymentStrategy
{
    private readonly VaultTarget _target;
    private readonly IHostShell _shell;
    private readonly DeploymentRequest _request;
    private readonly Action<string> _step;
    private readonly string _image;
    private readonly string _runId;
    private SwarmService? _service;
    private ServiceSpec? _spec;
    private RegistryAuth? _auth;
    private UpdateStatus? _submittedOver;
    private bool _submitted;
    private string? _currentImage;

    public SwarmStrategy(VaultTarget target, IHostShell shell, DeploymentRequest request, Action<string> step, string runId)
    {
        _target = target ?? throw new ArgumentNullException(nameof(target));
        _shell = shell ?? throw new ArgumentNullException(nameof(shell));
        _request = request ?? throw new ArgumentNullException(nameof(request));
        _step = step ?? throw new ArgumentNullException(nameof(step));
        _runId = runId;
        _image = request.Image ?? throw new ArgumentException("A Swarm deployment needs an image.", nameof(request));
    }

    /// <summary>Swarm targets migrate from the host's app directory (or the caller skips migrations), like Docker targets.</summary>
    public string MigrationDirectory => _target.AppPath;

    public bool IsRollingUpdate => true;

    /// <summary>The image the service's spec names now (without its digest), or null when there is no such service.</summary>
    public async Task<string?> CurrentAsync(CancellationToken cancellationToken)
    {
        using var swarm = SwarmServices.Open(_target, _shell);
        var image = (await swarm.InspectAsync(cancellationToken).ConfigureAwait(false))?.Spec?.TaskTemplate?.ContainerSpec?.Image;
        return image is null ? null : SwarmImages.Display(image);
    }

    public async Task<(string Name, string? Version, string? Commit)> PrepareAsync(CancellationToken cancellationToken)
    {
        var env = await EnvironmentFiles.ReadAsync(_target, _shell, new SecretRedactor(), cancellationToken).ConfigureAwait(false)
            ?? throw new VaultException(ErrorIds.EnvironmentInvalid, VaultErrorKind.InvalidData,
                $"{_target.DisplayName}: the env file {_target.EnvFilePath} does not exist; the service's environment comes from it. Nothing was changed.",
                $"Create {_target.EnvFilePath} (mode 600) with the backend's variables and deploy again.");

        using var swarm = SwarmServices.Open(_target, _shell);
        var service = await swarm.RequireAsync(cancellationToken).ConfigureAwait(false);
        _currentImage = service.Spec?.TaskTemplate?.ContainerSpec?.Image;

        // The credentials go with the update too (as docker service update --with-registry-auth): every node pulls.
        _auth = await DockerRegistryAuth.ResolveAsync(_target, _shell, _image, _request.RegistryCredential, _request.Redactor ?? new SecretRedactor(), _step, cancellationToken)
            .ConfigureAwait(false);
        ImageInspectResponse image;
        using (var containers = DockerContainers.Open(_target, _shell))
        {
            (image, var pulled) = await containers.EnsureImageAsync(_image, _ => Task.FromResult(_auth), _step, cancellationToken).ConfigureAwait(false);
            if (!pulled)
            {
                _step($"image {_image} is on the manager's engine");
            }
        }

        var onHost = await swarm.UsesHostNetworkAsync(service.Spec!, cancellationToken).ConfigureAwait(false);
        if (SwarmServiceSpec.PortProblem(_target, service.Spec!, onHost, DockerContainerSpec.AppPort(_target, env)) is { } problem)
        {
            throw new VaultException(ErrorIds.SwarmPortNotPublished, VaultErrorKind.InvalidData,
                $"{_target.DisplayName}: {problem}; the runbook's checks ask the target's host on port {_target.Port}. Nothing was changed.",
                $"Publish the port (docker service update --publish-add published={_target.Port},target=<PORT>,mode=host {_target.ServiceName}), or make the env file's PORT and the target's Port agree.");
        }

        var pinned = SwarmImages.Pin(_image, image.RepoDigests);
        if (pinned == _image && _image.IndexOf('@') < 0)
        {
            Reporting.Current.Warning($"{_target.Name}: the image {_image} has no registry digest on the manager (it was built or tagged there); each node of the swarm resolves the tag itself.");
        }

        var replicas = service.Spec!.Mode?.Replicated?.Replicas is { } r ? (int)r : 1;
        _spec = SwarmServiceSpec.ForDeployment(_target, service.Spec, pinned, _image, env, _runId);
        _service = service;
        _step($"service {_target.ServiceName} ({SwarmServices.Short(service.ID)}) runs {SwarmImages.Display(_currentImage ?? "no image")} with {replicas} replica(s); "
            + $"the update: {SwarmServiceSpec.OrderOf(_target.SwarmUpdateOrder)}, parallelism {_target.SwarmUpdateParallelism}, delay {_target.SwarmUpdateDelaySec} s, "
            + $"monitor {_target.SwarmMonitorSec} s, failure action rollback; env from {_target.EnvFilePath} ({env.Count} variables); image {pinned}");
        var labels = image.Config?.Labels;
        return (_image, DockerImages.VersionOf(labels, _image), DockerImages.CommitOf(labels));
    }

    public async Task<string> CheckRollbackReadyAsync(CancellationToken cancellationToken)
    {
        using var swarm = SwarmServices.Open(_target, _shell);
        var service = await swarm.RequireAsync(cancellationToken).ConfigureAwait(false);
        if (_service is not null && service.Version.Index != _service.Version.Index)
        {
            throw new VaultException(ErrorIds.RollbackNotReady, VaultErrorKind.InvalidOperation,
                $"{_target.DisplayName}: service {_target.ServiceName} changed since this run read it (another update?); its spec would not be the one a rollback goes back to. Nothing was changed.",
                "Find out who else updates the service, then deploy again.");
        }

        return $"rollback ready: the engine keeps the spec that runs now ({SwarmImages.Display(_currentImage ?? "no image")}) as the service's previous spec";
    }

    /// <summary>The update, submitted and waited for; the engine replaces the tasks (and rolls back by itself when one fails).</summary>
    public async Task SwitchAsync(CancellationToken cancellationToken)
    {
        var service = _service ?? throw new InvalidOperationException("SwitchAsync before PrepareAsync.");
        using var swarm = SwarmServices.Open(_target, _shell);
        _submittedOver = service.UpdateStatus;
        var warnings = await swarm.UpdateAsync(service, _spec!, _auth?.Config, rollback: false, cancellationToken).ConfigureAwait(false);
        _submitted = true;
        foreach (var warning in warnings.Where(w => !string.IsNullOrWhiteSpace(w)))
        {
            Reporting.Current.Warning($"{_target.Name}: the engine said about the update of {_target.ServiceName}: {warning}");
        }

        var replicas = service.Spec?.Mode?.Replicated?.Replicas is { } r ? (int)r : 1;
        var seen = new List<string>();
        var done = await swarm.WaitForUpdateAsync(_submittedOver, SwarmServiceSpec.UpdateBound(_target, replicas, _request.HealthTimeout), _step, cancellationToken, seen)
            .ConfigureAwait(false);
        var status = done.UpdateStatus!;
        if (status.State == SwarmServices.Completed)
        {
            _step($"the engine replaced the tasks of {_target.ServiceName}: it runs {_image}");
            return;
        }

        // The engine's words on the way (why it paused or rolled back), and what became of the new image's tasks.
        var tasks = await swarm.TasksAsync(done.ID, cancellationToken).ConfigureAwait(false);
        var errors = SwarmServices.TaskErrors(tasks, status.StartedAt).Concat(SwarmServices.TasksOf(tasks, _image)).Distinct().Take(5).ToList();
        var why = string.Join("; ", seen.Where(s => !s.StartsWith(SwarmServices.Updating + ":", StringComparison.Ordinal) && s != SwarmServices.Updating))
            + (errors.Count == 0 ? "" : "; the new tasks: " + string.Join("; ", errors));
        if (status.State is SwarmServices.RollbackCompleted or SwarmServices.RollbackPaused)
        {
            throw new VaultException(ErrorIds.SwarmUpdateRolledBack, VaultErrorKind.InvalidOperation,
                $"{_target.DisplayName}: the engine rolled the update of {_target.ServiceName} to {_image} back by itself ({status.State}): {why}",
                $"Find out why the new tasks failed (Get-VaultBackendLog; docker service ps {_target.ServiceName} --no-trunc), fix the image, and deploy again.");
        }

        throw new VaultException(ErrorIds.SwarmUpdateFailed, VaultErrorKind.InvalidOperation,
            $"{_target.DisplayName}: the update of {_target.ServiceName} to {_image} ended {status.State}: {why}",
            $"Look at the tasks: docker service ps {_target.ServiceName} --no-trunc.");
    }

    /// <summary>Back to the previous spec through the engine's rollback, unless the engine already went back by itself.</summary>
    public async Task SwitchBackAsync(CancellationToken cancellationToken)
    {
        if (!_submitted)
        {
            _step("nothing was submitted to the engine: the service is as it was");
            return;
        }

        using var swarm = SwarmServices.Open(_target, _shell);
        var service = await swarm.RequireAsync(cancellationToken).ConfigureAwait(false);
        var state = service.UpdateStatus?.State;
        if (state == SwarmServices.RollbackCompleted && RunsPrevious(service))
        {
            _step($"the engine already rolled {_target.ServiceName} back to {SwarmImages.Display(_currentImage ?? "its previous spec")}");
            return;
        }

        if (state != SwarmServices.RollbackStarted)
        {
            await swarm.UpdateAsync(service, service.Spec, _auth?.Config, rollback: true, cancellationToken).ConfigureAwait(false);
        }

        var replicas = service.Spec?.Mode?.Replicated?.Replicas is { } r ? (int)r : 1;
        var done = await swarm.WaitForUpdateAsync(state == SwarmServices.RollbackStarted ? null : service.UpdateStatus,
            SwarmServiceSpec.UpdateBound(_target, replicas, _request.HealthTimeout), _step, cancellationToken).ConfigureAwait(false);
        if (done.UpdateStatus?.State != SwarmServices.RollbackCompleted)
        {
            throw new VaultException(ErrorIds.SwarmUpdateFailed, VaultErrorKind.InvalidOperation,
                $"{_target.DisplayName}: the engine's rollback of {_target.ServiceName} ended {done.UpdateStatus?.State}: {done.UpdateStatus?.Message}",
                $"Look at the tasks: docker service ps {_target.ServiceName} --no-trunc; docker service rollback {_target.ServiceName} on a manager.");
        }

        _step($"the engine rolled {_target.ServiceName} back to {SwarmImages.Display(done.Spec?.TaskTemplate?.ContainerSpec?.Image ?? "its previous spec")}");
    }

    /// <summary>Nothing was created beside the service: the pulled image stays (the engine's image store is not ours to prune).</summary>
    public Task DiscardAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task PruneAsync(CancellationToken cancellationToken)
    {
        _step("the engine keeps the previous spec for Undo-VaultDeployment; nothing to prune");
        return Task.CompletedTask;
    }

    public string[] PlanPrepare() => new[]
    {
        $"docker service inspect {_target.ServiceName} (its spec; its published ports or host network must serve port {_target.Port})",
        $"docker image inspect {_image} || docker pull {_image} (on the manager; the digest pins the spec)",
        $"read {_target.EnvFilePath}: the service's environment (values only to the engine's API)",
    };

    /// <summary>What Step 7 runs for a Swarm service (what -WhatIf shows).</summary>
    public string[] PlanSwitch() => new[]
    {
        $"docker service update --image {_image}@<digest> --env <{_target.EnvFilePath}> --update-order {SwarmServiceSpec.OrderOf(_target.SwarmUpdateOrder)} "
            + $"--update-parallelism {_target.SwarmUpdateParallelism} --update-delay {_target.SwarmUpdateDelaySec}s --update-monitor {_target.SwarmMonitorSec}s "
            + $"--update-failure-action rollback --force {_target.ServiceName}",
        "wait until the engine has replaced every task (or rolled back by itself)",
    };

    private bool RunsPrevious(SwarmService service) =>
        _currentImage is null || service.Spec?.TaskTemplate?.ContainerSpec?.Image == _currentImage;
}
