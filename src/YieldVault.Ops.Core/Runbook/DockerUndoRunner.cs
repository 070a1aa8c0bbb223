using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Threading;
using System.Threading.Tasks;
using YieldVault.Ops.Hosts;
using YieldVault.Ops.Probes;
using YieldVault.Ops.Services;

namespace YieldVault.Ops.Runbook;

/// <summary>
/// The runbook's Docker Rollback without its <c>docker rm</c> and retyped <c>docker run</c>: the container of the
/// previous version still exists (stopped, as <c>&lt;name&gt;-previous</c>, with the settings it ran with), so rolling
/// back is a stop, a swap of names (the version rolled back from becomes the previous one, so a second rollback
/// undoes the first) and a start, verified like a deployment.
/// </summary>
internal sealed class DockerUndoRunner
{
    private const int ProgressId = 3300;
    private readonly VaultTarget _target;
    private readonly IHostShell _shell;
    private readonly SecretRedactor _redactor;
    private readonly DockerContainerNames _names;

    public DockerUndoRunner(VaultTarget target, IHostShell shell, SecretRedactor redactor)
    {
        _target = target ?? throw new ArgumentNullException(nameof(target));
        _shell = shell ?? throw new ArgumentNullException(nameof(shell));
        _redactor = redactor ?? throw new ArgumentNullException(nameof(redactor));
        _names = new DockerContainerNames(target.ServiceName);
    }

    public async Task<VaultDeploymentResult> RunAsync(bool clearStaleLock, TimeSpan stopTimeout, TimeSpan healthTimeout, CancellationToken cancellationToken)
    {
        var steps = new List<VaultDeploymentStep>
        {
            new() { Number = 1, Name = "Lock and journal", Runbook = "-" },
            new() { Number = 2, Name = "Stop current service", Runbook = "Step 3", Target = TimeSpan.FromMinutes(2) },
            new() { Number = 3, Name = "Switch and start previous version", Runbook = "Docker Rollback", Target = TimeSpan.FromMinutes(2) },
            new() { Number = 4, Name = "Verify deployment", Runbook = "Step 7", Target = TimeSpan.FromMinutes(5) },
        };
        var clock = Stopwatch.StartNew();

        // What there is to go back to: read once for the result, and again under the lock (a deployment may have been running).
        var seen = await ReadAsync(cancellationToken).ConfigureAwait(false);
        var result = new VaultDeploymentResult
        {
            Target = _target, RunId = DeploymentJournal.NewRunId(DateTimeOffset.UtcNow), Kind = "rollback", Source = seen.PreviousImage ?? _names.Previous,
            StartedAt = DateTimeOffset.UtcNow, Steps = steps, ReleaseBefore = seen.CurrentImage, ReleaseAfter = seen.PreviousImage,
        };
        var before = await VersionProbe.GetAsync(_target, _shell, TimeSpan.FromSeconds(3), cancellationToken).ConfigureAwait(false);
        result.VersionBefore = before.Version;
        result.CommitBefore = before.Commit;
        var baseUri = await _shell.GetHttpBaseAsync(_target.Port, cancellationToken).ConfigureAwait(false);
        await using var monitor = DowntimeMonitor.Start(baseUri, _target.HealthPath, TimeSpan.FromMilliseconds(25), _target.HealthyStatusCodes, cancellationToken);
        DeploymentLock? held = null;
        DeploymentJournal? journal = null;
        Containers found = seen;
        try
        {
            await Step(steps[0], journal, async () =>
            {
                held = await DeploymentLock.AcquireAsync(_target, _shell, result.RunId, clearStaleLock, cancellationToken).ConfigureAwait(false);
                journal = new DeploymentJournal(_target, _shell, _redactor, result.RunId);
                result.JournalPath = journal.Path;
                found = await ReadAsync(cancellationToken).ConfigureAwait(false);
                result.ReleaseBefore = found.CurrentImage;
                result.ReleaseAfter = found.PreviousImage;
                await journal.WriteAsync("run", "start", detail: $"rollback to {found.PreviousImage ?? "(none)"} by {Environment.UserName} on {Environment.MachineName}",
                    data: new Newtonsoft.Json.Linq.JObject { ["releaseBefore"] = found.CurrentImage, ["versionBefore"] = before.Version, ["commitBefore"] = before.Commit }).ConfigureAwait(false);
                if (found.PreviousId is null)
                {
                    throw new VaultException("NoPreviousContainer", VaultErrorKind.ObjectNotFound,
                        $"{_target.DisplayName}: there is no container named {_names.Previous} to go back to. Nothing was changed.",
                        "A Docker rollback needs the container an earlier Invoke-VaultDeployment -Image kept; deploy a known good image with Invoke-VaultDeployment -Image instead.");
                }

                return held.Path;
            }, cancellationToken).ConfigureAwait(false);

            await Step(steps[1], journal, async () =>
            {
                if (found.CurrentId is null)
                {
                    return $"no container named {_names.Service}";
                }

                if (!found.CurrentRunning)
                {
                    return "was not running";
                }

                var stop = await BackendControl.StopAsync(_target, _shell, stopTimeout, force: true, cancellationToken).ConfigureAwait(false);
                return $"stopped in {stop.DurationMs:0} ms" + (stop.Forced ? " (killed)" : "");
            }, cancellationToken).ConfigureAwait(false);

            await Step(steps[2], journal, async () =>
            {
                await SwapAsync(found.CurrentId, found.PreviousId!, cancellationToken).ConfigureAwait(false);
                await ServiceManagers.For(_target, _shell).StartAsync(cancellationToken).ConfigureAwait(false);
                return $"started {found.PreviousImage} ({DockerContainers.Short(found.PreviousId!)})" + (found.CurrentImage is null ? "" : $"; {found.CurrentImage} is now {_names.Previous}");
            }, cancellationToken).ConfigureAwait(false);

            await Step(steps[3], journal, async () =>
            {
                var healthy = await HealthWaiter.WaitAsync(_target, _shell, ready: true, healthTimeout, TimeSpan.FromSeconds(1), ProgressId + 1, cancellationToken).ConfigureAwait(false);
                var version = await VersionProbe.GetAsync(_target, _shell, TimeSpan.FromSeconds(5), cancellationToken).ConfigureAwait(false);
                result.VersionAfter = version.Version;
                result.CommitAfter = version.Commit;
                if (found.ExpectedVersion is not null && version.Version != found.ExpectedVersion)
                {
                    throw new VaultException("VersionMismatch", VaultErrorKind.InvalidData,
                        $"{_target.DisplayName}: {_target.VersionPath} reports {version.Version ?? "nothing"}, but {found.PreviousImage} is version {found.ExpectedVersion}.");
                }

                if (found.ExpectedCommit is not null && version.Commit is not null && !string.Equals(version.Commit, found.ExpectedCommit, StringComparison.OrdinalIgnoreCase))
                {
                    throw new VaultException("VersionMismatch", VaultErrorKind.InvalidData,
                        $"{_target.DisplayName}: {_target.VersionPath} reports commit {version.Commit}, but {found.PreviousImage} was built from {found.ExpectedCommit}.");
                }

                return $"healthy after {healthy.WaitedMs:0} ms, version {version.Version} ({version.ShortCommit})";
            }, cancellationToken).ConfigureAwait(false);
            result.Status = DeploymentStatus.Succeeded;
        }
        catch (VaultException ex) when (!cancellationToken.IsCancellationRequested)
        {
            result.Status = DeploymentStatus.Failed;
            result.Error = _redactor.Redact(ex.Message);
            result.ErrorId = ex.ErrorId;
        }
        finally
        {
            await RunEnding.FinishAsync(_target, _shell, _redactor, result, monitor, clock, journal, held, cancellationToken).ConfigureAwait(false);

            Reporting.Current.Progress(ProgressId, $"Rolling back {_target.Name}", "done", 100, completed: true);
        }

        return result;
    }

    private async Task<Containers> ReadAsync(CancellationToken cancellationToken)
    {
        using var docker = DockerContainers.Open(_target, _shell);
        var current = await docker.InspectAsync(_names.Service, cancellationToken).ConfigureAwait(false);
        var previous = await docker.InspectAsync(_names.Previous, cancellationToken).ConfigureAwait(false);
        var previousImage = previous is null ? null : DockerStrategy.ImageOf(previous);
        var labels = previous is null ? null : (await docker.InspectImageAsync(previous.Image, cancellationToken).ConfigureAwait(false))?.Config?.Labels;
        return new Containers(current?.ID, current is null ? null : DockerStrategy.ImageOf(current), current?.State is { Running: true } or { Restarting: true }, previous?.ID, previousImage,
            previousImage is null ? null : DockerImages.VersionOf(labels, previousImage), DockerImages.CommitOf(labels));
    }

    // <name> -> <name>-undo-<id> -> <name>-previous, and <name>-previous -> <name>; a failure half way puts the names back.
    private async Task SwapAsync(string? currentId, string previousId, CancellationToken cancellationToken)
    {
        using var docker = DockerContainers.Open(_target, _shell);
        var aside = _names.UndoSwap(DockerContainerNames.NewId());
        if (currentId is not null)
        {
            await docker.RenameAsync(currentId, aside, cancellationToken).ConfigureAwait(false);
        }

        try
        {
            await docker.RenameAsync(previousId, _names.Service, cancellationToken).ConfigureAwait(false);
        }
        catch (VaultException) when (currentId is not null)
        {
            await docker.RenameAsync(currentId, _names.Service, CancellationToken.None).ConfigureAwait(false);
            throw;
        }

        if (currentId is not null)
        {
            await docker.RenameAsync(currentId, _names.Previous, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task Step(VaultDeploymentStep step, DeploymentJournal? journal, Func<Task<string>> body, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        Reporting.Current.Progress(ProgressId, "Rolling back", $"Step {step.Number}/4: {step.Name}", (step.Number - 1) * 25);
        await (journal?.WriteAsync(step.Name, "start") ?? Task.CompletedTask).ConfigureAwait(false);
        var watch = Stopwatch.StartNew();
        try
        {
            step.Detail = await body().ConfigureAwait(false);
            step.Outcome = StepOutcome.Succeeded;
        }
        catch (Exception ex)
        {
            step.Outcome = StepOutcome.Failed;
            step.Detail = _redactor.Redact(ex.Message);
            throw;
        }
        finally
        {
            step.Duration = watch.Elapsed;
            await (journal?.WriteAsync(step.Name, "end", step.Outcome.ToString(), step.Detail, watch.Elapsed.TotalMilliseconds) ?? Task.CompletedTask).ConfigureAwait(false);
        }
    }

    private sealed record Containers(string? CurrentId, string? CurrentImage, bool CurrentRunning, string? PreviousId, string? PreviousImage, string? ExpectedVersion, string? ExpectedCommit);
}
