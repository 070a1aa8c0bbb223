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
public sealed class InvokeVaultDeploymentCommand : VaultRollCmdlet
{
    private const string GitSet = "Git";
    private const string ImageSet = "Image";
    private const string ArtifactSet = "Artifact";
    private static readonly Regex ImageName = new("^[a-z0-9][a-z0-9._/:@-]{0,254}\\z", RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));

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

    protected override void Validate(VaultTarget target)
    {
        switch (ParameterSetName)
        {
            case GitSet when !GitRefs.IsValid(Ref):
                throw new VaultException(ErrorIds.InvalidRef, VaultErrorKind.InvalidArgument,
                    $"'{Ref}' is not a git ref this module deploys: use a tag, branch or commit (letters, digits, '.', '_', '/', '+', '-'; not starting with '-'; no '..'). Nothing was changed.");
            case ImageSet when !ImageName.IsMatch(Image) || Image.Contains("..") || Image.Contains("//"):
                throw new VaultException(ErrorIds.InvalidImage, VaultErrorKind.InvalidArgument,
                    $"'{Image}' is not a Docker image reference (lower-case name[:tag][@sha256:digest]). Nothing was changed.");
            case ArtifactSet:
                ArtifactReleaseSource.Validate(Artifact, Sha256);
                break;
        }

        var runsImages = target.ServiceManager is ServiceManagerKind.Docker or ServiceManagerKind.Swarm;
        if (ParameterSetName == ImageSet && !runsImages)
        {
            throw new VaultException(ErrorIds.ImageNeedsDocker, VaultErrorKind.InvalidArgument,
                $"{target.DisplayName} is run by {target.ServiceManager}; -Image deploys to Docker targets only (ServiceManager Docker or Swarm).");
        }

        if (ParameterSetName != ImageSet && runsImages)
        {
            throw new VaultException(ErrorIds.DockerNeedsImage, VaultErrorKind.InvalidArgument,
                $"{target.DisplayName} is run by {target.ServiceManager}; deploy an image with -Image.");
        }

        if (Request().StrategyFor(target) == DeploymentStrategyKind.BlueGreen)
        {
            BlueGreenRunner.Validate(target, Request());
        }

        if (RegistryCredential is { } registry && (string.IsNullOrEmpty(registry.UserName) || registry.Password is null || registry.Password.Length == 0))
        {
            throw new VaultException(ErrorIds.InvalidRegistryCredential, VaultErrorKind.InvalidArgument,
                "-RegistryCredential needs a user name and a password (or token). Nothing was changed.");
        }

        if (MigrationCommand is { } command && command.Any(word => word.IndexOf('\0') >= 0))
        {
            throw new VaultException(ErrorIds.InvalidMigrationCommand, VaultErrorKind.InvalidArgument, "-MigrationCommand contains a NUL character.");
        }
    }

    protected override string Action(VaultTarget target) =>
        Request().StrategyFor(target) == DeploymentStrategyKind.BlueGreen
            ? $"Deploy {Request().Source} blue-green ({target.ServiceManager} {target.ServiceName}: start it in the idle slot, verify it, switch nginx)"
            : $"Deploy {Request().Source} ({target.ServiceManager} service {target.ServiceName}, {target.AppPath})";

    protected override void WhatIfDetails(VaultTarget target)
    {
        var plan = Request().StrategyFor(target) == DeploymentStrategyKind.BlueGreen
            ? BlueGreenRunner.Plan(target, Hosts.For(target), Request())
            : DeploymentRunner.Plan(target, Hosts.For(target), Request());
        foreach (var step in plan)
        {
            ShouldProcess($"  Step {step.Number}/{plan.Count} {step.Name} [{step.Runbook}]: {string.Join("; ", step.Commands)}", "", "");
        }
    }

    internal override async Task ProcessTargetAsync(VaultTarget target, IHostShell shell, PipelineMessages output, CancellationToken cancellationToken)
    {
        var request = Request();
        var result = request.StrategyFor(target) == DeploymentStrategyKind.BlueGreen
            ? await new BlueGreenRunner(target, shell, request, Redactor).RunAsync(cancellationToken).ConfigureAwait(false)
            : await new DeploymentRunner(target, shell, request, Redactor).RunAsync(cancellationToken).ConfigureAwait(false);
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

        if (result.Status == DeploymentStatus.RolledBack)
        {
            output.Error(ErrorRecords.Create(ErrorIds.DeploymentRolledBack, ErrorCategory.InvalidResult,
                $"{target.DisplayName}: {Request().Source} failed ({result.ErrorId}) and was rolled back; {result.VersionAfter} serves again. {result.Error}", target,
                $"Read the journal {result.JournalPath}."));
        }
        else if (result.Status == DeploymentStatus.Failed)
        {
            var journal = result.JournalPath.Length > 0 ? $"Read the journal {result.JournalPath}." : null;
            output.Error(ErrorRecords.Create(result.ErrorId ?? ErrorIds.DeploymentFailed,
                result.ErrorKind is { } kind ? ErrorRecords.Category(kind) : ErrorCategory.InvalidOperation, result.Error ?? "The deployment failed.", target,
                result.RecommendedAction is null ? journal : result.RecommendedAction + (journal is null ? "" : " " + journal)));
        }

        output.Output(result);
    }

    private DeploymentRequest Request(string? rollId = null) => new()
    {
        RollId = rollId,
        Ref = ParameterSetName == GitSet ? Ref : null,
        Image = ParameterSetName == ImageSet ? Image : null,
        Artifact = ParameterSetName == ArtifactSet ? Artifact : null,
        Sha256 = ParameterSetName == ArtifactSet ? Sha256 : null,
        RegistryCredential = RegistryCredential is { } registry ? new RegistryCredential(registry.UserName, registry.Password) : null,
        Redactor = Redactor,
        Incident = Incident,
        NoRollback = NoRollback,
        ClearStaleLock = Force,
        Force = Force,
        Maintenance = Maintenance,
        BackupNodeModules = BackupNodeModules,
        SkipMigrations = SkipMigration,
        // Not given: the strategy's own default (blue-green migrates before the new slot starts).
        MigrationTiming = MyInvocation.BoundParameters.ContainsKey(nameof(MigrationTiming)) ? MigrationTiming : null,
        Strategy = Strategy,
        MaxDowntime = MyInvocation.BoundParameters.ContainsKey(nameof(MaxDowntimeSec)) ? TimeSpan.FromSeconds(MaxDowntimeSec) : null,
        Drain = TimeSpan.FromSeconds(DrainSec),
        KeepPrevious = KeepPrevious,
        MigrationCommand = MigrationCommand,
        StopTimeout = TimeSpan.FromSeconds(StopTimeoutSec),
        HealthTimeout = TimeSpan.FromSeconds(HealthTimeoutSec),
        Smoke = SkipSmoke ? null : new SmokeOptions { ApiKey = SmokeApiKey, IncludeWrite = SmokeApiKey is not null },
        Watch = MyInvocation.BoundParameters.ContainsKey(nameof(WatchSec)) ? TimeSpan.FromSeconds(WatchSec) : null,
    };
}
