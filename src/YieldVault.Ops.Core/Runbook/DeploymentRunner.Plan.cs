using System;
using System.Collections.Generic;
using System.Linq;
using YieldVault.Ops.Hosts;

namespace YieldVault.Ops.Runbook;

/// <summary>The plan of a deployment: its ten steps, the runbook section and time target of each, and what each runs.</summary>
public sealed partial class DeploymentRunner
{
    /// <summary>The steps of a deployment with what each runs (what -WhatIf shows). Connects to nothing.</summary>
    public static IReadOnlyList<VaultDeploymentStep> Plan(VaultTarget target, IHostShell shell, DeploymentRequest request) =>
        Plan(target, request, CreateStrategy(target, shell, request, _ => { }));

    private static IDeploymentStrategy CreateStrategy(VaultTarget target, IHostShell shell, DeploymentRequest request, Action<string> detail, string runId = "") =>
        request.Image is null ? new ReleaseStrategy(target, shell, request, detail)
        : target.ServiceManager == ServiceManagerKind.Swarm ? new SwarmStrategy(target, shell, request, detail, runId)
        : new DockerStrategy(target, shell, request, detail);

    private static IReadOnlyList<VaultDeploymentStep> Plan(VaultTarget target, DeploymentRequest request, IDeploymentStrategy strategy)
    {
        var manager = target.ServiceManager;
        var migrate = request.SkipMigrations || (request.MigrationCommand is null && target.MigrationPreset == MigrationPreset.None)
            ? new[] { "(skipped)" }
            : new[] { string.Join(" ", request.MigrationCommand ?? Migrations.CommandFor(target.MigrationPreset, MigrationAction.Deploy)!) + " (in the new release, env file loaded)" };
        var prepare = strategy.PlanPrepare();
        var list = new List<VaultDeploymentStep>
        {
            Step(1, "Assess current state", "Step 1", TimeSpan.FromMinutes(5), $"{manager} state of {target.ServiceName}", $"GET {target.HealthPath}, {target.VersionPath}"),
            Step(2, "Lock and journal", "-", null, $"create {DeploymentReadiness.LockPath(target)}", $"journal in {DeploymentJournal.DirectoryOf(target)}"),
            Step(3, "Back up", "Step 2.1", TimeSpan.FromMinutes(5), $"copy {target.EnvFilePath} (mode 600) and record the running version in {target.BackupPath}"),
            Step(4, "Prepare new version (old one serves)", "Step 4", TimeSpan.FromMinutes(10), prepare),
            Step(5, "Check environment and migrate", "Step 5", TimeSpan.FromMinutes(3), new[] { $"required variables {string.Join(", ", target.RequiredVariables)} in {target.EnvFilePath}" }.Concat(migrate).ToArray()),
            strategy is SwarmStrategy
                ? Step(6, "Stop current service", "Step 3", TimeSpan.FromMinutes(2), $"(the Swarm update stops each task itself: {Services.SwarmServiceSpec.OrderOf(target.SwarmUpdateOrder)})")
                : Step(6, "Stop current service", "Step 3", TimeSpan.FromMinutes(2), $"{manager} stop {target.ServiceName} (graceful, {request.StopTimeout.TotalSeconds:0} s, then kill)", $"verify the process is gone and port {target.Port} is free"),
            strategy is SwarmStrategy swarm
                ? Step(7, "Switch and start new version", "Step 6", TimeSpan.FromMinutes(2), swarm.PlanSwitch())
                : Step(7, "Switch and start new version", "Step 6", TimeSpan.FromMinutes(2), request.Image is null ? $"ln -sfn <new release> {target.AppPath}" : "rename containers (previous kept)", $"{manager} start {target.ServiceName}"),
            Step(8, "Verify deployment", "Step 7", TimeSpan.FromMinutes(5), $"wait for {target.HealthPath} (up to {request.HealthTimeout.TotalSeconds:0} s)", $"{target.ReadyPath} ready", $"{target.VersionPath} == the new version", "log: startup markers, no errors"),
            Step(9, "Smoke tests", "Step 8", TimeSpan.FromMinutes(5), new[] { request.Smoke is null ? "(skipped: -SkipSmoke)" : "the target's smoke checks" + (request.Smoke.IncludeWrite ? ", with the write test" : "") }
                .Concat(request.Watch is { } watch ? new[] { $"watch {watch.TotalSeconds:0} s (runbook 10.1): {Probes.WatchThresholds.Deployment} rolls back" } : Array.Empty<string>()).ToArray()),
            Step(10, "Finish and record", "Steps 9-10", TimeSpan.FromMinutes(3), request.Maintenance ? "remove MAINTENANCE_MODE" : "(no maintenance flag)", $"keep the last {target.KeepReleases} releases", "release the lock"),
        };
        return list;
    }

    // A guided run (Invoke-VaultRunbook) asks before the steps that change something; a backup and the smoke checks may be
    // left out; every step but the switch (a container rename is not idempotent) may run again after it failed.
    private static VaultDeploymentStep Step(int number, string name, string runbook, TimeSpan? target, params string[] commands) =>
        new()
        {
            Number = number, Name = name, Runbook = runbook, Target = target, Commands = commands,
            ChangesState = number is not (1 or 8 or 9), CanSkip = number is 3 or 9, CanRetry = number != 7,
        };
}
