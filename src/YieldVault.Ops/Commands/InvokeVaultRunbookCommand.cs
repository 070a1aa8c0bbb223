using System;
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

/// <summary>
/// The runbook step by step in an interactive session: the same plan and run as Invoke-VaultDeployment (journal, lock,
/// records, rollback), with each step shown before it runs and its result after, and a question before each step that
/// changes the target. -Confirm:$false asks nothing: it is then Invoke-VaultDeployment.
/// </summary>
[Cmdlet(VerbsLifecycle.Invoke, "VaultRunbook", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low, DefaultParameterSetName = GitSet)]
[OutputType(typeof(VaultDeploymentResult))]
public sealed class InvokeVaultRunbookCommand : VaultActionCmdlet
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

    [Parameter]
    public MigrationTiming MigrationTiming { get; set; } = MigrationTiming.AfterStop;

    [Parameter]
    [ValidateRange(1, 3600)]
    public int MaxDowntimeSec { get; set; }

    [Parameter]
    public DeploymentStrategyKind Strategy { get; set; } = DeploymentStrategyKind.Default;

    [Parameter]
    [ValidateRange(0, 3600)]
    public int DrainSec { get; set; } = 2;

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

    [Parameter]
    public SwitchParameter SkipSmoke { get; set; }

    [Parameter]
    [ValidateNotNull]
    public SecureString? SmokeApiKey { get; set; }

    /// <summary>After verification, watch the new version this long (runbook 10.1); a failed health check, a restart or an error line rolls back.</summary>
    [Parameter]
    [ValidateRange(5, 3600)]
    public int WatchSec { get; set; }

    /// <summary>Clears a stale lock left by a dead run and deploys although rollback readiness fails; the steps are still asked.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override bool SkipConfirmation => Force;

    /// <summary>Steps are asked unless -Confirm:$false (or $ConfirmPreference 'None' without -Confirm).</summary>
    private bool Guided =>
        MyInvocation.BoundParameters.TryGetValue("Confirm", out var confirm)
            ? confirm is SwitchParameter { IsPresent: true }
            : !string.Equals(GetVariableValue("ConfirmPreference")?.ToString(), "None", StringComparison.OrdinalIgnoreCase);

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

        if (ParameterSetName == ImageSet && target.ServiceManager != ServiceManagerKind.Docker)
        {
            throw new VaultException(ErrorIds.ImageNeedsDocker, VaultErrorKind.InvalidArgument,
                $"{target.DisplayName} is run by {target.ServiceManager}; -Image deploys to Docker targets only (ServiceManager Docker).");
        }

        if (ParameterSetName != ImageSet && target.ServiceManager == ServiceManagerKind.Docker)
        {
            throw new VaultException(ErrorIds.DockerNeedsImage, VaultErrorKind.InvalidArgument, $"{target.DisplayName} is run by Docker; deploy an image with -Image.");
        }

        if (Request(null).StrategyFor(target) == DeploymentStrategyKind.BlueGreen)
        {
            BlueGreenRunner.Validate(target, Request(null));
        }

        if (RegistryCredential is { } registry && (string.IsNullOrEmpty(registry.UserName) || registry.Password is null || registry.Password.Length == 0))
        {
            throw new VaultException(ErrorIds.InvalidRegistryCredential, VaultErrorKind.InvalidArgument, "-RegistryCredential needs a user name and a password (or token). Nothing was changed.");
        }

        if (MigrationCommand is { } command && command.Any(word => word.IndexOf('\0') >= 0))
        {
            throw new VaultException(ErrorIds.InvalidMigrationCommand, VaultErrorKind.InvalidArgument, "-MigrationCommand contains a NUL character.");
        }

        // Asked before anything runs: a session that cannot prompt changes nothing and leaves no record.
        if (Guided && !IsWhatIf && RunbookStepPrompt.SessionIsNonInteractive(Host))
        {
            throw RunbookStepPrompt.Unavailable();
        }
    }

    protected override string Action(VaultTarget target) =>
        $"Run the runbook for {Request(null).Source} step by step ({target.ServiceManager} {target.ServiceName}"
        + (Request(null).StrategyFor(target) == DeploymentStrategyKind.BlueGreen ? ", blue-green" : $", {target.AppPath}") + ")";

    protected override void WhatIfDetails(VaultTarget target)
    {
        var plan = Request(null).StrategyFor(target) == DeploymentStrategyKind.BlueGreen
            ? BlueGreenRunner.Plan(target, Hosts.For(target), Request(null))
            : DeploymentRunner.Plan(target, Hosts.For(target), Request(null));
        foreach (var step in plan)
        {
            var asks = step.ChangesState || step.CanSkip ? "asks first" + (step.CanSkip ? ", may be skipped" : "") : "runs without asking";
            ShouldProcess($"  Step {step.Number}/{plan.Count} {step.Name} [{step.Runbook}; {asks}{(step.CanRetry ? ", may be retried" : "")}]: {string.Join("; ", step.Commands)}", "", "");
        }
    }

    internal override async Task ProcessTargetAsync(VaultTarget target, IHostShell shell, PipelineMessages output, CancellationToken cancellationToken)
    {
        var request = Request(Guided ? new RunbookStepPrompt(output, Redactor, target.Name) : null);
        var result = request.StrategyFor(target) == DeploymentStrategyKind.BlueGreen
            ? await new BlueGreenRunner(target, shell, request, Redactor).RunAsync(cancellationToken).ConfigureAwait(false)
            : await new DeploymentRunner(target, shell, request, Redactor).RunAsync(cancellationToken).ConfigureAwait(false);
        if (request.StepGate is not null)
        {
            output.Post(cmdlet => RunbookStepPrompt.ShowEnd(cmdlet, result));
        }

        if (result.Status == DeploymentStatus.RolledBack)
        {
            output.Error(ErrorRecords.Create(ErrorIds.DeploymentRolledBack, ErrorCategory.InvalidResult,
                $"{target.DisplayName}: {request.Source} " + (result.ErrorId == ErrorIds.StoppedByOperator ? "was stopped by the operator" : $"failed ({result.ErrorId})")
                + $" and was rolled back; {result.VersionAfter} serves again. {result.Error}", target,
                $"Read the journal {result.JournalPath} (Get-VaultDeploymentJournal -RunId {result.RunId})."));
        }
        else if (result.Status == DeploymentStatus.Failed)
        {
            var journal = result.JournalPath.Length > 0 ? $"Read the journal {result.JournalPath} (Get-VaultDeploymentJournal -RunId {result.RunId})." : null;
            output.Error(ErrorRecords.Create(result.ErrorId ?? ErrorIds.DeploymentFailed,
                result.ErrorKind is { } kind ? ErrorRecords.Category(kind) : ErrorCategory.InvalidOperation, result.Error ?? "The deployment failed.", target,
                result.RecommendedAction is null ? journal : result.RecommendedAction + (journal is null ? "" : " " + journal)));
        }

        output.Output(result);
    }

    private DeploymentRequest Request(IRunbookStepGate? gate) => new()
    {
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
        StepGate = gate,
    };
}
