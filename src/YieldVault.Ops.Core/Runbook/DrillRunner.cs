using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using YieldVault.Ops.Hosts;
using YieldVault.Ops.Probes;
using YieldVault.Ops.Services;

namespace YieldVault.Ops.Runbook;

/// <summary>What the drill needs from the rest of the module (smoke checks, records, a notification).</summary>
public sealed class DrillOptions
{
    public string Ref { get; init; } = "";

    public string? Incident { get; init; }

    public TimeSpan HealthTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Runbook Step 8 against the target; one outcome per check.</summary>
    public Func<VaultTarget, CancellationToken, Task<IReadOnlyList<VaultCheckOutcome>>>? Smoke { get; init; }

    /// <summary>Appends the drill to the target's records; returns whether it was written.</summary>
    public Func<VaultDrillResult, CancellationToken, Task<bool>>? Record { get; init; }

    /// <summary>Notifies stakeholders; returns whether the message was delivered.</summary>
    public Func<VaultDrillResult, CancellationToken, Task<bool>>? Notify { get; init; }

    public string? ReportPath { get; init; }

    public Action<string>? WriteReport { get; init; }
}

/// <summary>
/// The quarterly drill: assess, checklist, back up, deploy a ref, verify, smoke, roll back, verify again, and
/// report with the date and the measured RTO. Every phase runs even when an earlier check fails, as long
/// as it is safe to (a failed deployment that rolled back is still followed by the rollback checks).
/// </summary>
public sealed class DrillRunner
{
    private const int ProgressId = 3400;
    private readonly VaultTarget _target;
    private readonly IHostShell _shell;
    private readonly SecretRedactor _redactor;

    public DrillRunner(VaultTarget target, IHostShell shell, SecretRedactor redactor)
    {
        _target = target;
        _shell = shell;
        _redactor = redactor;
    }

    public async Task<VaultDrillResult> RunAsync(DrillOptions options, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var drill = new VaultDrillResult { Target = _target, TestedAt = DateTimeOffset.UtcNow, Ref = options.Ref };
        var progress = $"Runbook drill on {_target.Name}";
        try
        {
            Reporting.Current.Progress(ProgressId, progress, "Assess and pre-deployment checklist", 5);
            var before = await BackendStatusReader.ReadAsync(_target, _shell, detailed: false, TimeSpan.FromSeconds(10), cancellationToken).ConfigureAwait(false);
            drill.VersionBefore = before.Version;
            if (before.Healthy != true)
            {
                throw new VaultException("DrillTargetUnhealthy", VaultErrorKind.InvalidOperation,
                    $"{_target.DisplayName} is not healthy before the drill ({before.State}; {string.Join("; ", before.Problems)}). The drill changes nothing on an unhealthy target.",
                    "Fix the target first (Get-VaultBackendStatus), or pick a healthy staging target.");
            }

            foreach (var check in await DeploymentReadiness.CheckAsync(_target, _shell, _redactor, 100, TimeSpan.FromSeconds(30), cancellationToken).ConfigureAwait(false))
            {
                drill.Readiness.Add(new VaultCheckOutcome(check.Check, check.Passed, check.Reason));
            }

            Reporting.Current.Progress(ProgressId, progress, "Back up", 15);
            drill.BackupPath = (await RunbookOperations.BackupAsync(_target, _shell, false, cancellationToken).ConfigureAwait(false)).Path;

            Reporting.Current.Progress(ProgressId, progress, $"Deploy {options.Ref}", 25);
            var request = new DeploymentRequest
            {
                Ref = options.Ref, Incident = options.Incident, HealthTimeout = options.HealthTimeout,
                Smoke = options.Smoke is null ? null : async (t, ct) =>
                {
                    var checks = await options.Smoke(t, ct).ConfigureAwait(false);
                    var failed = checks.Where(c => !c.Passed).Select(c => c.Name).ToList();
                    return failed.Count == 0 ? null : "smoke checks failed: " + string.Join(", ", failed);
                },
            };
            drill.Deployment = await new DeploymentRunner(_target, _shell, request, _redactor).RunAsync(cancellationToken).ConfigureAwait(false);

            Reporting.Current.Progress(ProgressId, progress, "Verify the new version", 55);
            await VerifyAsync(drill.VerifyAfterDeploy, drill.Deployment.Status == DeploymentStatus.Succeeded ? drill.Deployment.VersionAfter : drill.VersionBefore, cancellationToken).ConfigureAwait(false);
            if (options.Smoke is not null)
            {
                Reporting.Current.Progress(ProgressId, progress, "Smoke tests", 65);
                foreach (var check in await options.Smoke(_target, cancellationToken).ConfigureAwait(false))
                {
                    drill.Smoke.Add(check);
                }
            }

            if (drill.Deployment.Status == DeploymentStatus.Succeeded)
            {
                Reporting.Current.Progress(ProgressId, progress, "Roll back", 75);
                var undo = new UndoRunner(_target, _shell, _redactor);
                var (release, current) = await undo.ChooseAsync(null, null, cancellationToken).ConfigureAwait(false);
                drill.Rollback = await undo.RunAsync(release, current, null, false, TimeSpan.FromSeconds(30), options.HealthTimeout, cancellationToken).ConfigureAwait(false);
            }

            Reporting.Current.Progress(ProgressId, progress, "Verify the previous version", 85);
            await VerifyAsync(drill.VerifyAfterRollback, drill.VersionBefore, cancellationToken).ConfigureAwait(false);

            drill.Passed = drill.Deployment.Status == DeploymentStatus.Succeeded
                && drill.Rollback?.Status == DeploymentStatus.Succeeded
                && drill.VerifyAfterDeploy.All(c => c.Passed) && drill.Smoke.All(c => c.Passed) && drill.VerifyAfterRollback.All(c => c.Passed);
        }
        catch (VaultException ex) when (!cancellationToken.IsCancellationRequested)
        {
            drill.Passed = false;
            drill.Error = _redactor.Redact(ex.Message);
        }
        finally
        {
            drill.Duration = clock.Elapsed;
            Reporting.Current.Progress(ProgressId, progress, "done", 100, completed: true);
        }

        if (options.Record is not null)
        {
            drill.Recorded = await options.Record(drill, cancellationToken).ConfigureAwait(false);
        }

        if (options.Notify is not null)
        {
            drill.Notified = await options.Notify(drill, cancellationToken).ConfigureAwait(false);
        }

        if (options.ReportPath is not null && drill.Deployment is not null)
        {
            drill.ReportPath = options.ReportPath;
            options.WriteReport?.Invoke(RunbookReport.ToMarkdown(drill.Deployment, drill));
        }

        return drill;
    }

    private async Task VerifyAsync(IList<VaultCheckOutcome> checks, string? expectedVersion, CancellationToken cancellationToken)
    {
        var state = await ServiceManagers.For(_target, _shell).GetStateAsync(cancellationToken).ConfigureAwait(false);
        checks.Add(new VaultCheckOutcome("Service", state.Status == ServiceStatus.Running, $"{_target.ServiceManager}: {state.Status} (pid {state.Pid})"));
        var health = await HealthProbe.CheckAsync(_target, _shell, checkReady: true, TimeSpan.FromSeconds(10), cancellationToken).ConfigureAwait(false);
        checks.Add(new VaultCheckOutcome("Health", health.StatusCode == 200 && health.Status == "healthy", HealthWaiter.Describe(health)));
        checks.Add(new VaultCheckOutcome("Readiness", health.Ready == true, "ready: " + (health.Ready?.ToString() ?? "no answer")));
        var version = await VersionProbe.GetAsync(_target, _shell, TimeSpan.FromSeconds(5), cancellationToken).ConfigureAwait(false);
        checks.Add(new VaultCheckOutcome("Version", expectedVersion is not null && version.Version == expectedVersion, $"serves {version.Version} ({version.ShortCommit}), expected {expectedVersion}"));
        var (source, entries) = await LogReader.ReadAsync(_target, _shell, VaultLogSource.Auto, 500, null, cancellationToken).ConfigureAwait(false);
        var log = LogParser.Verify(entries, LogParser.DefaultMarkers(_target), _target, source);
        checks.Add(new VaultCheckOutcome("Logs", log.Passed, log.Passed ? $"{source}: startup markers present, no errors" : $"{source}: missing {string.Join(", ", log.MarkersMissing)}; {log.ErrorCount} error(s) {_redactor.Redact(log.FirstError)}"));
        foreach (var dependency in await DependencyProbe.CheckAsync(_target, _shell, _redactor, new[] { DependencyProbe.Database, DependencyProbe.StellarRpc }, TimeSpan.FromSeconds(5), cancellationToken).ConfigureAwait(false))
        {
            checks.Add(new VaultCheckOutcome(dependency.Dependency == DependencyProbe.Database ? "Database" : "StellarRpcDependency", dependency.Healthy,
                dependency.Healthy ? $"{dependency.Endpoint} in {dependency.LatencyMs:0} ms" : $"{dependency.ErrorId}: {dependency.Reason}"));
        }

        checks.Add(new VaultCheckOutcome("Monitoring", state.Status == ServiceStatus.Running && health.StatusCode == 200, "service running and /health 200 at the end of the phase"));
    }
}
