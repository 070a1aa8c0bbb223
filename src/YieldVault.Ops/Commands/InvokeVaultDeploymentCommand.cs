using System;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using System.Security;
using System.Text.RegularExpressions;
using System.Threading;
using System.Threading.Tasks;
using YieldVault.Ops.Hosting;
using YieldVault.Ops.Hosts;
using YieldVault.Ops.Releases;
using YieldVault.Ops.Runbook;
using YieldVault.Ops.Smoke;

namespace YieldVault.Ops.Commands;

/// <summary>Runbook Steps 1-10 with automatic rollback: a git ref, a Docker image or an artifact.</summary>
[Cmdlet(VerbsLifecycle.Invoke, "VaultDeployment", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High, DefaultParameterSetName = GitSet)]
[OutputType(typeof(VaultDeploymentResult), typeof(VaultRollResult))]
public sealed class InvokeVaultDeploymentCommand : VaultRollCmdlet, IDeploymentParameters
{
    private const string GitSet = DeploymentCommand.GitSet;
    private const string ImageSet = DeploymentCommand.ImageSet;
    private const string ArtifactSet = DeploymentCommand.ArtifactSet;

    [Parameter(Mandatory = true, ParameterSetName = GitSet)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(DeploymentSourceCompleter))]
    public string Ref { get; set; } = "";

    [Parameter(Mandatory = true, ParameterSetName = ImageSet)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(DeploymentSourceCompleter))]
    public string Image { get; set; } = "";

    /// <summary>The registry's user and password (or token) for pulling a private -Image; else the host's ~/.docker/config.json auth.</summary>
    [Parameter(ParameterSetName = ImageSet)]
    [Credential]
    [ValidateNotNull]
    public PSCredential? RegistryCredential { get; set; }

    [Parameter(Mandatory = true, ParameterSetName = ArtifactSet)]
    [ValidateNotNullOrEmpty]
    public string Artifact { get; set; } = "";

    [Parameter(Mandatory = true, ParameterSetName = ArtifactSet)]
    [ValidateNotNullOrEmpty]
    public string Sha256 { get; set; } = "";

    [Parameter]
    [ValidatePattern("^[A-Za-z0-9][A-Za-z0-9._-]{0,63}\\z")]
    public string? Incident { get; set; }

    [Parameter]
    public SwitchParameter NoRollback { get; set; }

    [Parameter]
    public SwitchParameter Maintenance { get; set; }

    [Parameter]
    public SwitchParameter BackupNodeModules { get; set; }

    [Parameter]
    public SwitchParameter SkipMigration { get; set; }

    /// <summary>When migrations run (default: after the stop in place; before the new slot starts with blue-green).</summary>
    [Parameter]
    public MigrationTiming MigrationTiming { get; set; } = MigrationTiming.AfterStop;

    /// <summary>In place: the longest the backend may be down (from the stop until the new version is verified); an overrun rolls back.</summary>
    [Parameter]
    [ValidateRange(1, 3600)]
    public int MaxDowntimeSec { get; set; }

    /// <summary>InPlace, or BlueGreen (the default for targets with a proxy).</summary>
    [Parameter]
    public DeploymentStrategyKind Strategy { get; set; } = DeploymentStrategyKind.Default;

    /// <summary>Blue-green: seconds the previous slot keeps running after the switch (and its nginx workers are gone) before it stops.</summary>
    [Parameter]
    [ValidateRange(0, 3600)]
    public int DrainSec { get; set; } = 2;

    /// <summary>Blue-green: keep the previous slot running (warm) for an instant switch back.</summary>
    [Parameter]
    public SwitchParameter KeepPrevious { get; set; }

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string[]? MigrationCommand { get; set; }

    [Parameter]
    [ValidateRange(1, 600)]
    public int StopTimeoutSec { get; set; } = 30;

    [Parameter]
    [ValidateRange(1, 3600)]
    public int HealthTimeoutSec { get; set; } = 60;

    /// <summary>Step 9 runs no smoke checks (they run by default; a failing one rolls back).</summary>
    [Parameter]
    public SwitchParameter SkipSmoke { get; set; }

    /// <summary>The admin API key: step 9 also runs the write test (POST /admin/test-write).</summary>
    [Parameter]
    [ValidateNotNull]
    public SecureString? SmokeApiKey { get; set; }

    /// <summary>After verification, watch the new version this long (runbook 10.1); a failed health check, a restart or an error line rolls back.</summary>
    [Parameter]
    [ValidateRange(5, 3600)]
    public int WatchSec { get; set; }

    /// <summary>Clears a stale lock left by a dead run, and skips the confirmation.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    /// <summary>In a roll: when it stops, roll back the targets it already deployed (they go back to what they ran).</summary>
    [Parameter]
    public SwitchParameter RollbackAllOnFailure { get; set; }

    protected override bool SkipConfirmation => Force;

    protected override bool RollbackAll => RollbackAllOnFailure;

    protected override IEnumerable<string> RollParameters => base.RollParameters.Concat(new[] { nameof(RollbackAllOnFailure) });

    protected override void Validate(VaultTarget target) => DeploymentCommand.Validate(this, target, Redactor);

    protected override string Action(VaultTarget target) =>
        Request().StrategyFor(target) == DeploymentStrategyKind.BlueGreen
            ? $"Deploy {Request().Source} blue-green ({target.ServiceManager} {target.ServiceName}: start it in the idle slot, verify it, switch nginx)"
            : $"Deploy {Request().Source} ({target.ServiceManager} service {target.ServiceName}, {target.AppPath})";

    protected override void WhatIfDetails(VaultTarget target)
    {
        var plan = DeploymentCommand.Plan(target, Hosts.For(target), Request());
        foreach (var step in plan)
        {
            ShouldProcess($"  Step {step.Number}/{plan.Count} {step.Name} [{step.Runbook}]: {string.Join("; ", step.Commands)}", "", "");
        }
    }

    internal override async Task ProcessTargetAsync(VaultTarget target, IHostShell shell, PipelineMessages output, CancellationToken cancellationToken)
    {
        var result = await DeploymentCommand.RunAsync(target, shell, Request(), Redactor, cancellationToken).ConfigureAwait(false);
        WriteOutcome(target, result, output);
    }

    internal override Task<VaultRollResult> RollAsync(FleetRoll roll, IReadOnlyList<VaultTarget> targets, CancellationToken cancellationToken) =>
        roll.DeployAsync(targets, Request(roll.RollId), cancellationToken);

    internal override void WriteOutcome(VaultTarget target, VaultDeploymentResult result, PipelineMessages output)
    {
        if (result.Kind == DeploymentRecords.RollbackKind)
        {
            // -RollbackAllOnFailure: a target the roll had deployed, rolled back.
            UndoVaultDeploymentCommand.WriteRollbackOutcome(target, result, output);
            return;
        }

        DeploymentCommand.WriteOutcome(target, Request(), result, output);
    }

    private DeploymentRequest Request(string? rollId = null) => DeploymentCommand.Request(this, Redactor, rollId);
}
