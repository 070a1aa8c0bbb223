using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Security;
using System.Threading;
using System.Threading.Tasks;
using YieldVault.Ops.Hosts;
using YieldVault.Ops.Notifications;
using YieldVault.Ops.Probes;
using YieldVault.Ops.Services;
using YieldVault.Ops.Smoke;

namespace YieldVault.Ops.Runbook;

/// <summary>What the quarterly drill runs and where it reports (Invoke-VaultRunbookTest's parameters, as Core sees them).</summary>
public sealed class DrillOptions
{
    public string Ref { get; init; } = "";

    public string? Incident { get; init; }

    public TimeSpan HealthTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>The smoke checks (runbook Step 8, and 9.2 through the target's public URL); null: none.</summary>
    public SmokeOptions? Smoke { get; init; } = new();

    /// <summary>A Slack incoming webhook to report the drill to (runbook 10.3); null: no notification.</summary>
    public SecureString? WebhookUrl { get; init; }

    /// <summary>Where to write the report on this machine: .html or .htm for HTML, anything else Markdown; null: none.</summary>
    public string? ReportPath { get; init; }
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
                throw new VaultException(ErrorIds.DrillTargetUnhealthy, VaultErrorKind.InvalidOperation,
                    $"{_target.DisplayName} is not healthy before the drill ({before.State}; {string.Join("; ", before.Problems)}). The drill changes nothing on an unhealthy target.",
                    "Fix the target first (Get-VaultBackendStatus), or pick a healthy staging target.");
            }

            foreach (var check in await DeploymentReadiness.CheckAsync(_target, _shell, _redactor, 100, TimeSpan.FromSeconds(30), cancellationToken).ConfigureAwait(false))
            {
                drill.Readiness.Add(new VaultCheckOutcome(check.Check, check.Passed, check.Reason));
            }

            Reporting.Current.Progress(ProgressId, progress, "Back up", 15);
            drill.BackupPath = (await Backups.CreateAsync(_target, _shell, false, cancellationToken).ConfigureAwait(false)).Path;

            Reporting.Current.Progress(ProgressId, progress, $"Deploy {options.Ref}", 25);
            var request = new DeploymentRequest { Ref = options.Ref, Incident = options.Incident, HealthTimeout = options.HealthTimeout, Smoke = options.Smoke };
            drill.Deployment = await new DeploymentRunner(_target, _shell, request, _redactor).RunAsync(cancellationToken).ConfigureAwait(false);

            Reporting.Current.Progress(ProgressId, progress, "Verify the new version", 55);
            await VerifyAsync(drill.VerifyAfterDeploy, drill.Deployment.Status == DeploymentStatus.Succeeded ? drill.Deployment.VersionAfter : drill.VersionBefore, cancellationToken).ConfigureAwait(false);
            if (options.Smoke is not null)
            {
                Reporting.Current.Progress(ProgressId, progress, "Smoke tests", 65);
                foreach (var check in await SmokeAsync(options.Smoke, cancellationToken).ConfigureAwait(false))
                {
                    drill.Smoke.Add(check);
                }
            }

            if (drill.Deployment.Status == DeploymentStatus.Succeeded)
            {
                Reporting.Current.Progress(ProgressId, progress, "Roll back", 75);
                var undo = new RollbackRunner(_target, _shell, _redactor);
                // The drill rolls back what it deployed, migrations or not (on staging): that is what it tests; a warning says so.
                var plan = await undo.PlanAsync(new RollbackRequest { HealthTimeout = options.HealthTimeout, Force = true }, cancellationToken).ConfigureAwait(false);
                drill.Rollback = await undo.RunAsync(plan, cancellationToken).ConfigureAwait(false);
            }

            Reporting.Current.Progress(ProgressId, progress, "Verify the previous version", 85);
            await VerifyAsync(drill.VerifyAfterRollback, drill.VersionBefore, cancellationToken).ConfigureAwait(false);

            drill.Passed = drill.Deployment.Status == DeploymentStatus.Succeeded
                && drill.Rollback?.Status == DeploymentStatus.Succeeded
                && drill.VerifyAfterDeploy.All(c => c.Passed) && drill.Smoke.All(c => c.Passed) && drill.VerifyAfterRollback.All(c => c.Passed);
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            drill.Passed = false;
            drill.Error = _redactor.Redact(RunbookRun.Failure(ex).Message);
        }
        finally
        {
            drill.Duration = clock.Elapsed;
            Reporting.Current.Progress(ProgressId, progress, "done", 100, completed: true);
        }

        drill.Recorded = await DeploymentRecords.AppendDrillAsync(_shell, drill, _redactor, cancellationToken).ConfigureAwait(false);
        if (options.WebhookUrl is not null)
        {
            drill.Notified = await NotifyAsync(drill, options.WebhookUrl, cancellationToken).ConfigureAwait(false);
        }

        if (options.ReportPath is not null && drill.Deployment is not null)
        {
            drill.ReportPath = options.ReportPath;
            RunbookReport.Write(options.ReportPath, drill.Deployment, drill, _redactor);
        }

        return drill;
    }

    /// <summary>Runbook Step 8 on the target, and 9.2 (the same checks through its public URL) when it has one.</summary>
    private async Task<IReadOnlyList<VaultCheckOutcome>> SmokeAsync(SmokeOptions options, CancellationToken cancellationToken)
    {
        var results = await SmokeRunner.RunAsync(_target, _shell, options, _redactor, null, cancellationToken).ConfigureAwait(false);
        var outcomes = results.Select(r => new VaultCheckOutcome(r.Name, r.Passed, r.Detail)).ToList();
        if (_target.PublicUrl is { } publicUrl)
        {
            var external = await SmokeRunner.RunAsync(_target, _shell, new SmokeOptions { BaseUrl = publicUrl }, _redactor, null, cancellationToken).ConfigureAwait(false);
            var failed = external.Where(r => !r.Passed).Select(r => r.Name).ToList();
            outcomes.Add(new VaultCheckOutcome("External", failed.Count == 0,
                failed.Count == 0 ? $"{external.Count} checks passed through {publicUrl.GetLeftPart(UriPartial.Authority)}" : "failed through the public URL: " + string.Join(", ", failed)));
        }

        return outcomes;
    }

    /// <summary>Runbook 10.3: the drill's result to Slack. A failed notification is a warning, never a failed drill.</summary>
    private async Task<bool> NotifyAsync(VaultDrillResult drill, SecureString webhookUrl, CancellationToken cancellationToken)
    {
        try
        {
            var address = WebhookAddress.Parse(SecureStrings.Unprotect(webhookUrl), _redactor);
            var message = drill.Deployment is null
                ? SlackMessage.ForText($"Runbook drill on {_target.Name}: FAILED before the deployment. {drill.Error}", _redactor)
                : SlackMessage.ForDeployment(drill.Deployment, _redactor);
            var result = await WebhookSender.SendAsync(address, message, new WebhookRetryPolicy(), _redactor, Reporting.Current, cancellationToken).ConfigureAwait(false);
            if (!result.Delivered)
            {
                Reporting.Current.Warning($"The drill notification was not delivered: {result.Error}");
            }

            return result.Delivered;
        }
        catch (VaultException ex)
        {
            Reporting.Current.Warning($"The drill notification was not sent: {_redactor.Redact(ex.Message)}");
            return false;
        }
    }

    private async Task VerifyAsync(IList<VaultCheckOutcome> checks, string? expectedVersion, CancellationToken cancellationToken)
    {
        var state = await ServiceManagers.For(_target, _shell).GetStateAsync(cancellationToken).ConfigureAwait(false);
        checks.Add(new VaultCheckOutcome("Service", state.Status == ServiceStatus.Running, $"{_target.ServiceManager}: {state.Status} (pid {state.Pid})"));
        // Health under the target's own rules, then readiness where the target has a ReadyPath (none is not a failure).
        var health = await HealthProbe.CheckAsync(_target, _shell, checkReady: false, TimeSpan.FromSeconds(10), cancellationToken).ConfigureAwait(false);
        checks.Add(new VaultCheckOutcome("Health", health.Healthy, HealthWaiter.Describe(health)));
        var ready = string.IsNullOrEmpty(_target.ReadyPath) ? null : await HealthProbe.CheckAsync(_target, _shell, checkReady: true, TimeSpan.FromSeconds(10), cancellationToken).ConfigureAwait(false);
        checks.Add(new VaultCheckOutcome("Readiness", ready is null || ready.Ready == true, ready is null ? "the target has no readiness endpoint" : "ready: " + (ready.Ready?.ToString() ?? "no answer")));
        var version = await VersionProbe.GetAsync(_target, _shell, TimeSpan.FromSeconds(5), cancellationToken).ConfigureAwait(false);
        var versionProblem = expectedVersion is null ? "no version to expect" : new ExpectedVersion(expectedVersion, null, "the drill").Mismatch(_target, version);
        checks.Add(new VaultCheckOutcome("Version", versionProblem is null, $"serves {version.Version} ({version.ShortCommit}), expected {expectedVersion}"));
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
