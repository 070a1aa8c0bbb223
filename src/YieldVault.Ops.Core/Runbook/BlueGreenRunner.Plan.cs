using System;
using System.Collections.Generic;
using System.Linq;
using YieldVault.Ops.Hosts;
using YieldVault.Ops.Probes;
using YieldVault.Ops.Proxies;
using YieldVault.Ops.Services;

namespace YieldVault.Ops.Runbook;

/// <summary>What a blue-green deployment needs and its plan: its ten steps, the runbook section and time target of each, and what each runs.</summary>
public sealed partial class BlueGreenRunner
{
    /// <summary>What a blue-green deployment on <paramref name="target"/> needs: a proxy, and no maintenance flag.</summary>
    public static void Validate(VaultTarget target, DeploymentRequest request)
    {
        if (target.Proxy == ProxyKind.None)
        {
            throw new VaultException(ErrorIds.ProxyNotConfigured, VaultErrorKind.InvalidArgument,
                $"{target.DisplayName} has no proxy in front of it, so there is nothing to switch between two slots. Nothing was changed.",
                "Give the target Proxy = 'Nginx' (and UpstreamFile, ProxyPort, BluePort/GreenPort), or deploy with -Strategy InPlace.");
        }

        if (request.Maintenance)
        {
            throw new VaultException(ErrorIds.BlueGreenWithMaintenance, VaultErrorKind.InvalidArgument,
                $"{target.DisplayName}: -Maintenance with a blue-green deployment: the old version serves until the switch, so there is no downtime for a maintenance flag to cover. Nothing was changed.",
                "Leave out -Maintenance, or deploy with -Strategy InPlace.");
        }
    }

    /// <summary>The steps of a blue-green deployment with what each runs (what -WhatIf shows). Connects to nothing.</summary>
    public static IReadOnlyList<VaultDeploymentStep> Plan(VaultTarget target, IHostShell shell, DeploymentRequest request)
    {
        var prepare = request.Image is { } image
            ? new[] { $"docker image inspect {image} || docker pull {image}" }
            : new ReleaseStrategy(target, shell, request, _ => { }).PlanPrepare();
        var migrate = request.SkipMigrations || (request.MigrationCommand is null && target.MigrationPreset == MigrationPreset.None)
            ? "(no migrations)"
            : string.Join(" ", request.MigrationCommand ?? Migrations.CommandFor(target.MigrationPreset, MigrationAction.Deploy)!)
                + (request.TimingFor(target) == MigrationTiming.BeforeStop ? " (before the new slot starts; the live one serves)" : " (after the previous slot stopped)");
        var ports = $"blue {target.SlotPort(TrafficSlot.Blue)}, green {target.SlotPort(TrafficSlot.Green)}";
        var instance = target.ServiceManager switch
        {
            ServiceManagerKind.Systemd => $"systemctl start {target.ServiceName}@<idle port> (directory {target.ReleasesDirectory}/slots/<idle port>)",
            ServiceManagerKind.Docker => $"docker create + start {target.ServiceName}-<idle port> (made like the live container, answering on the idle port)",
            _ => $"PORT=<idle port> pm2 start <release>/<entry point> --name {target.ServiceName}-<idle port>",
        };
        return new List<VaultDeploymentStep>
        {
            Step(1, "Assess current state", "Step 1", TimeSpan.FromMinutes(5), $"read {target.UpstreamFilePath}: the live slot ({ports})", $"GET {target.HealthPath}, {target.VersionPath} on the live slot and through nginx (port {target.ProxyPort})"),
            Step(2, "Lock and journal", "-", null, $"create {DeploymentReadiness.LockPath(target)}", $"journal in {DeploymentJournal.DirectoryOf(target)}"),
            Step(3, "Back up", "Step 2.1", TimeSpan.FromMinutes(5), $"copy {target.EnvFilePath} (mode 600) and record the running version in {target.BackupPath}"),
            Step(4, "Prepare new version (live slot serves)", "Step 4", TimeSpan.FromMinutes(10), prepare),
            Step(5, "Check environment and migrate", "Step 5", TimeSpan.FromMinutes(3), $"required variables {string.Join(", ", target.RequiredVariables)} in {target.EnvFilePath}", migrate),
            Step(6, "Start new version in the idle slot", "Blue-Green 1", TimeSpan.FromMinutes(2), "stop what ran in the idle slot before", instance),
            Step(7, "Verify new version on its own port", "Steps 7-8", TimeSpan.FromMinutes(5), $"wait for {target.HealthPath} and {target.ReadyPath} on the idle port (up to {request.HealthTimeout.TotalSeconds:0} s)", $"{target.VersionPath} == the new version", "log: startup markers, no errors", request.Smoke is null ? "(smoke checks skipped)" : "the smoke checks against the idle port"),
            Step(8, "Switch traffic", "Blue-Green 2", TimeSpan.FromMinutes(1), new[]
                {
                    $"write {target.UpstreamFilePath} (server 127.0.0.1:<idle port>) atomically", target.ProxyReload == ProxyReload.Systemctl ? "nginx -t; systemctl reload nginx" : "nginx -t; nginx -s reload",
                    "wait until nginx's old workers have exited", $"verify through nginx: {target.HealthPath} 200 and the new version, 5 answers in a row",
                }.Concat(request.Watch is { } watch ? new[] { $"watch the new slot {watch.TotalSeconds:0} s (runbook 10.1): {WatchThresholds.Deployment} switches back" } : Array.Empty<string>()).ToArray()),
            Step(9, "Drain and stop previous slot", "Blue-Green 3", TimeSpan.FromMinutes(2), request.KeepPrevious ? "keep the previous slot running (warm) for an instant switch back" : $"after {request.Drain.TotalSeconds:0} s, stop the previous slot (kept, stopped, for Undo-VaultDeployment)"),
            Step(10, "Finish and record", "Steps 9-10", TimeSpan.FromMinutes(3), $"record the slots in {TrafficRecord.PathOf(target)}", $"keep the last {target.KeepReleases} releases (never a slot's)", "release the lock"),
        };
    }

    // A guided run (Invoke-VaultRunbook) asks before the steps that change something; a backup may be left out; every step
    // but the traffic switch (its recovery depends on how far it got) may run again after it failed.
    private static VaultDeploymentStep Step(int number, string name, string runbook, TimeSpan? target, params string[] commands) =>
        new()
        {
            Number = number, Name = name, Runbook = runbook, Target = target, Commands = commands,
            ChangesState = number is not (1 or 7), CanSkip = number == 3, CanRetry = number != 8,
        };
}
