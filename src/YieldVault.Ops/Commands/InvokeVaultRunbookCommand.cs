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
public sealed class InvokeVaultRunbookCommand : VaultActionCmdlet, IDeploymentParameters
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
        DeploymentCommand.Validate(this, target, Redactor);

        // Asked before anything runs: a session that cannot prompt changes nothing and leaves no record.
        if (Guided && !IsWhatIf && RunbookStepPrompt.SessionIsNonInteractive(Host))
        {
            throw RunbookStepPrompt.Unavailable();
        }
    }

    protected override string Action(VaultTarget target) =>
        $"Run the runbook for {Request(null).Source} step by step ({target.ServiceManager} {target.ServiceName}"
        + (DeploymentCommand.IsBlueGreen(Request(null), target) ? ", blue-green" : $", {target.AppPath}") + ")";

    protected override void WhatIfDetails(VaultTarget target)
    {
        var plan = DeploymentCommand.Plan(target, Hosts.For(target), Request(null));
        foreach (var step in plan)
        {
            var asks = step.ChangesState || step.CanSkip ? "asks first" + (step.CanSkip ? ", may be skipped" : "") : "runs without asking";
            ShouldProcess($"  Step {step.Number}/{plan.Count} {step.Name} [{step.Runbook}; {asks}{(step.CanRetry ? ", may be retried" : "")}]: {string.Join("; ", step.Commands)}", "", "");
        }
    }

    internal override async Task ProcessTargetAsync(VaultTarget target, IHostShell shell, PipelineMessages output, CancellationToken cancellationToken)
    {
        var request = Request(Guided ? new RunbookStepPrompt(output, Redactor, target.Name) : null);
        var result = await DeploymentCommand.RunAsync(target, shell, request, Redactor, cancellationToken).ConfigureAwait(false);
        if (request.StepGate is not null)
        {
            output.Post(cmdlet => RunbookStepPrompt.ShowEnd(cmdlet, result));
        }

        DeploymentCommand.WriteOutcome(target, request, result, output);
    }

    private DeploymentRequest Request(IRunbookStepGate? gate) => DeploymentCommand.Request(this, Redactor, gate: gate);
}
