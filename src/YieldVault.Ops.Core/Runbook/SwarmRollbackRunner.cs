using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using Docker.DotNet.Models;
using Newtonsoft.Json.Linq;
using YieldVault.Ops.Hosts;
using YieldVault.Ops.Services;

namespace YieldVault.Ops.Runbook;

/// <summary>
/// Undo-VaultDeployment of a Swarm service as one run on the engine (<see cref="RunbookRun"/>): lock and journal, the
/// engine's rollback to the service's previous spec (it stops and starts each task itself, with the target's update
/// order), then the runbook's verification: health, readiness and the version of the image the previous spec names. A
/// second undo goes forward again (the engine swaps the spec and the previous spec), like a Docker target's swap.
/// </summary>
internal sealed class SwarmRollbackRunner
{
    private const int ProgressId = 3250;
    private readonly VaultTarget _target;
    private readonly IHostShell _shell;
    private readonly SecretRedactor _redactor;

    public SwarmRollbackRunner(VaultTarget target, IHostShell shell, SecretRedactor redactor)
    {
        _target = target;
        _shell = shell;
        _redactor = redactor;
    }

    /// <summary>The service's previous spec is all a Swarm rollback goes back to: -Release and -Backup do not apply.</summary>
    public static async Task<RollbackPlan> PlanAsync(VaultTarget target, IHostShell shell, RollbackRequest request, CancellationToken cancellationToken)
    {
        if (request.Release is not null || request.Backup is not null)
        {
            throw new VaultException(ErrorIds.SwarmUndoPreviousOnly, VaultErrorKind.InvalidArgument,
                $"{target.DisplayName} is a Swarm service, which goes back to its previous spec, not to releases; -Release and -Backup do not apply.",
                "Run Undo-VaultDeployment without -Release/-Backup, or deploy the image you want with Invoke-VaultDeployment -Image.");
        }

        // What there is now, for the prompt; the run reads it again under the lock.
        using var swarm = SwarmServices.Open(target, shell);
        var service = await swarm.RequireAsync(cancellationToken).ConfigureAwait(false);
        var current = ImageOf(service.Spec);
        var previous = ImageOf(service.PreviousSpec);
        return new RollbackPlan(request, previous is null
            ? "to the service's previous spec"
            : $"from {current ?? "(no image)"} to {previous} (the service's previous spec)", previous, current);
    }

    public async Task<VaultDeploymentResult> RunAsync(RollbackPlan plan, CancellationToken cancellationToken)
    {
        var request = plan.Request;
        var result = new VaultDeploymentResult
        {
            Target = _target, RunId = DeploymentJournal.NewRunId(DateTimeOffset.UtcNow), Kind = DeploymentRecords.RollbackKind, RollId = request.RollId,
            Source = plan.Release ?? "the previous spec", StartedAt = DateTimeOffset.UtcNow, ReleaseBefore = plan.Current, ReleaseAfter = plan.Release,
            Steps = new List<VaultDeploymentStep>
            {
                new() { Number = 1, Name = "Lock and journal", Runbook = "-" },
                new() { Number = 2, Name = "Roll back the service to its previous spec", Runbook = "Docker Rollback", Target = TimeSpan.FromMinutes(4) },
                new() { Number = 3, Name = "Verify deployment", Runbook = "Step 7", Target = TimeSpan.FromMinutes(5) },
            },
        };
        var before = await Probes.VersionProbe.GetAsync(_target, _shell, TimeSpan.FromSeconds(3), cancellationToken).ConfigureAwait(false);
        result.VersionBefore = before.Version;
        result.CommitBefore = before.Commit;
        var run = new RunbookRun(_target, _shell, _redactor, result, ProgressId, $"Rolling back {_target.Name}");
        await run.StartProberAsync(TimeSpan.FromMilliseconds(25), cancellationToken).ConfigureAwait(false);
        var expected = ExpectedVersion.Unknown(plan.Release ?? "the previous spec");
        SwarmService? service = null;
        var submitted = false;
        var serving = false;
        return await run.ExecuteAsync(async () =>
        {
            await run.StepAsync(1, async () =>
            {
                // What to go back to is read under the lock: a deployment may have changed it since the prompt.
                var lockPath = await run.LockAsync(request.ClearStaleLock, $"rollback {plan.Description}", async () =>
                {
                    (service, expected) = await ResolveAsync(result, cancellationToken).ConfigureAwait(false);
                    return new JObject { ["releaseBefore"] = result.ReleaseBefore, ["versionBefore"] = before.Version, ["commitBefore"] = before.Commit };
                }, cancellationToken).ConfigureAwait(false);
                return lockPath;
            }, cancellationToken).ConfigureAwait(false);

            await run.StepAsync(2, async () =>
            {
                using var swarm = SwarmServices.Open(_target, _shell);
                var over = service!.UpdateStatus;
                submitted = true;
                await swarm.UpdateAsync(service, service.Spec, null, rollback: true, cancellationToken).ConfigureAwait(false);
                var replicas = service.Spec?.Mode?.Replicated?.Replicas is { } r ? (int)r : 1;
                var done = await swarm.WaitForUpdateAsync(over, SwarmServiceSpec.UpdateBound(_target, replicas, request.HealthTimeout), run.Detail, cancellationToken)
                    .ConfigureAwait(false);
                if (done.UpdateStatus?.State != SwarmServices.RollbackCompleted)
                {
                    var errors = SwarmServices.TaskErrors(await swarm.TasksAsync(done.ID, cancellationToken).ConfigureAwait(false), done.UpdateStatus?.StartedAt);
                    throw new VaultException(ErrorIds.SwarmUpdateFailed, VaultErrorKind.InvalidOperation,
                        $"{_target.DisplayName}: the engine's rollback of {_target.ServiceName} ended {done.UpdateStatus?.State}: {done.UpdateStatus?.Message}"
                            + (errors.Count == 0 ? "" : "; " + string.Join("; ", errors)),
                        $"Look at the tasks: docker service ps {_target.ServiceName} --no-trunc.");
                }

                return $"the engine rolled {_target.ServiceName} back: it runs {ImageOf(done.Spec) ?? "the previous spec"}";
            }, cancellationToken).ConfigureAwait(false);

            await run.StepAsync(3, () => BackendVerification.VerifyRolledBackAsync(_target, _shell, request.HealthTimeout, ProgressId + 1, result, expected,
                () => serving = true, cancellationToken), cancellationToken).ConfigureAwait(false);
            result.Status = DeploymentStatus.Succeeded;
        }, (failure, token) => failure.ErrorId == ErrorIds.Cancelled ? WaitServingAsync(result, token) : Task.CompletedTask, cancellationToken,
            () => submitted && !serving).ConfigureAwait(false);
    }

    // Under the lock: the service and its previous spec, and what the previous version must report.
    private async Task<(SwarmService Service, ExpectedVersion Expected)> ResolveAsync(VaultDeploymentResult result, CancellationToken cancellationToken)
    {
        using var swarm = SwarmServices.Open(_target, _shell);
        var service = await swarm.RequireAsync(cancellationToken).ConfigureAwait(false);
        var previous = ImageOf(service.PreviousSpec);
        result.ReleaseBefore = ImageOf(service.Spec);
        result.ReleaseAfter = previous;
        if (service.PreviousSpec is null || previous is null)
        {
            throw new VaultException(ErrorIds.SwarmNoPreviousSpec, VaultErrorKind.ObjectNotFound,
                $"{_target.DisplayName}: service {_target.ServiceName} has no previous spec to go back to (it was never updated). Nothing was changed.",
                "Deploy a known good image with Invoke-VaultDeployment -Image instead.");
        }

        using var containers = DockerContainers.Open(_target, _shell);
        var labels = (await containers.InspectImageAsync(service.PreviousSpec.TaskTemplate.ContainerSpec.Image, cancellationToken).ConfigureAwait(false))?.Config?.Labels;
        return (service, new ExpectedVersion(DockerImages.VersionOf(labels, previous), DockerImages.CommitOf(labels), previous));
    }

    // Ctrl+C after the rollback was submitted: the engine finishes it by itself; the run waits until something serves.
    private async Task WaitServingAsync(VaultDeploymentResult result, CancellationToken cancellationToken)
    {
        var (_, version) = await BackendVerification.WaitServingAsync(_target, _shell, TimeSpan.FromSeconds(90), ProgressId + 2, cancellationToken).ConfigureAwait(false);
        result.VersionAfter = version.Version;
        result.CommitAfter = version.Commit;
        result.Error += $" It serves {version.Version ?? "a version"} again.";
    }

    private static string? ImageOf(ServiceSpec? spec) => spec?.TaskTemplate?.ContainerSpec?.Image is { } image ? SwarmImages.Display(image) : null;
}
