using System;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using System.Security;
using System.Text.RegularExpressions;
using System.Threading;
using System.Threading.Tasks;
using YieldVault.Ops.Hosts;
using YieldVault.Ops.Releases;
using YieldVault.Ops.Runbook;
using YieldVault.Ops.Smoke;

namespace YieldVault.Ops.Hosting;

/// <summary>
/// The parameters Invoke-VaultDeployment and Invoke-VaultRunbook share (declared on each cmdlet, as PowerShell needs
/// them there): what to deploy and how. <see cref="DeploymentCommand"/> turns them into one request, one validation
/// and one outcome, so the guided runbook can never drift from the deployment.
/// </summary>
internal interface IDeploymentParameters
{
    string ParameterSetName { get; }

    InvocationInfo MyInvocation { get; }

    string Ref { get; }

    string Image { get; }

    PSCredential? RegistryCredential { get; }

    string Artifact { get; }

    string Sha256 { get; }

    string? Incident { get; }

    SwitchParameter NoRollback { get; }

    SwitchParameter Maintenance { get; }

    SwitchParameter BackupNodeModules { get; }

    SwitchParameter SkipMigration { get; }

    MigrationTiming MigrationTiming { get; }

    DeploymentStrategyKind Strategy { get; }

    int DrainSec { get; }

    SwitchParameter KeepPrevious { get; }

    int MaxDowntimeSec { get; }

    int WatchSec { get; }

    string[]? MigrationCommand { get; }

    int StopTimeoutSec { get; }

    int HealthTimeoutSec { get; }

    SwitchParameter SkipSmoke { get; }

    SecureString? SmokeApiKey { get; }

    SwitchParameter Force { get; }
}

/// <summary>What Invoke-VaultDeployment and Invoke-VaultRunbook do with their shared parameters.</summary>
internal static class DeploymentCommand
{
    public const string GitSet = "Git";
    public const string ImageSet = "Image";
    public const string ArtifactSet = "Artifact";

    private static readonly Regex ImageName = new("^[a-z0-9][a-z0-9._/:@-]{0,254}\\z", RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));

    public static DeploymentRequest Request(IDeploymentParameters p, SecretRedactor redactor, string? rollId = null, IRunbookStepGate? gate = null)
    {
        var bound = p.MyInvocation.BoundParameters;
        var set = p.ParameterSetName;
        return new DeploymentRequest
        {
            RollId = rollId,
            Ref = set == GitSet ? p.Ref : null,
            Image = set == ImageSet ? p.Image : null,
            Artifact = set == ArtifactSet ? p.Artifact : null,
            Sha256 = set == ArtifactSet ? p.Sha256 : null,
            RegistryCredential = p.RegistryCredential is { } registry ? new RegistryCredential(registry.UserName, registry.Password) : null,
            Redactor = redactor,
            Incident = p.Incident,
            NoRollback = p.NoRollback,
            ClearStaleLock = p.Force,
            Force = p.Force,
            Maintenance = p.Maintenance,
            BackupNodeModules = p.BackupNodeModules,
            SkipMigrations = p.SkipMigration,
            // Not given: the strategy's own default (blue-green migrates before the new slot starts).
            MigrationTiming = bound.ContainsKey(nameof(p.MigrationTiming)) ? p.MigrationTiming : null,
            Strategy = p.Strategy,
            MaxDowntime = bound.ContainsKey(nameof(p.MaxDowntimeSec)) ? TimeSpan.FromSeconds(p.MaxDowntimeSec) : null,
            Drain = TimeSpan.FromSeconds(p.DrainSec),
            KeepPrevious = p.KeepPrevious,
            MigrationCommand = p.MigrationCommand,
            StopTimeout = TimeSpan.FromSeconds(p.StopTimeoutSec),
            HealthTimeout = TimeSpan.FromSeconds(p.HealthTimeoutSec),
            Smoke = p.SkipSmoke ? null : new SmokeOptions { ApiKey = p.SmokeApiKey, IncludeWrite = p.SmokeApiKey is not null },
            Watch = bound.ContainsKey(nameof(p.WatchSec)) ? TimeSpan.FromSeconds(p.WatchSec) : null,
            StepGate = gate,
        };
    }

    /// <summary>Checks the input against the target before anything is asked or changed (also under -WhatIf).</summary>
    public static void Validate(IDeploymentParameters p, VaultTarget target, SecretRedactor redactor)
    {
        switch (p.ParameterSetName)
        {
            case GitSet when !GitRefs.IsValid(p.Ref):
                throw new VaultException(ErrorIds.InvalidRef, VaultErrorKind.InvalidArgument,
                    $"'{p.Ref}' is not a git ref this module deploys: use a tag, branch or commit (letters, digits, '.', '_', '/', '+', '-'; not starting with '-'; no '..'). Nothing was changed.");
            case ImageSet when !ImageName.IsMatch(p.Image) || p.Image.Contains("..") || p.Image.Contains("//"):
                throw new VaultException(ErrorIds.InvalidImage, VaultErrorKind.InvalidArgument,
                    $"'{p.Image}' is not a Docker image reference (lower-case name[:tag][@sha256:digest]). Nothing was changed.");
            case ArtifactSet:
                ArtifactReleaseSource.Validate(p.Artifact, p.Sha256);
                break;
        }

        var runsImages = target.ServiceManager is ServiceManagerKind.Docker or ServiceManagerKind.Swarm;
        if (p.ParameterSetName == ImageSet && !runsImages)
        {
            throw new VaultException(ErrorIds.ImageNeedsDocker, VaultErrorKind.InvalidArgument,
                $"{target.DisplayName} is run by {target.ServiceManager}; -Image deploys to Docker targets only (ServiceManager Docker or Swarm).");
        }

        if (p.ParameterSetName != ImageSet && runsImages)
        {
            throw new VaultException(ErrorIds.DockerNeedsImage, VaultErrorKind.InvalidArgument,
                $"{target.DisplayName} is run by {target.ServiceManager}; deploy an image with -Image.");
        }

        var request = Request(p, redactor);
        if (request.StrategyFor(target) == DeploymentStrategyKind.BlueGreen)
        {
            BlueGreenRunner.Validate(target, request);
        }

        if (p.RegistryCredential is { } registry && (string.IsNullOrEmpty(registry.UserName) || registry.Password is null || registry.Password.Length == 0))
        {
            throw new VaultException(ErrorIds.InvalidRegistryCredential, VaultErrorKind.InvalidArgument,
                "-RegistryCredential needs a user name and a password (or token). Nothing was changed.");
        }

        if (p.MigrationCommand is { } command && command.Any(word => word.IndexOf('\0') >= 0))
        {
            throw new VaultException(ErrorIds.InvalidMigrationCommand, VaultErrorKind.InvalidArgument, "-MigrationCommand contains a NUL character.");
        }
    }

    public static bool IsBlueGreen(DeploymentRequest request, VaultTarget target) => request.StrategyFor(target) == DeploymentStrategyKind.BlueGreen;

    /// <summary>The steps the run would take (the -WhatIf plan, and the steps the guided runbook asks about).</summary>
    public static IReadOnlyList<VaultDeploymentStep> Plan(VaultTarget target, IHostShell shell, DeploymentRequest request) =>
        IsBlueGreen(request, target) ? BlueGreenRunner.Plan(target, shell, request) : DeploymentRunner.Plan(target, shell, request);

    /// <summary>One run on the engine: blue-green for a target with a proxy (or -Strategy BlueGreen), else in place.</summary>
    public static Task<VaultDeploymentResult> RunAsync(VaultTarget target, IHostShell shell, DeploymentRequest request, SecretRedactor redactor,
        CancellationToken cancellationToken) =>
        IsBlueGreen(request, target)
            ? new BlueGreenRunner(target, shell, request, redactor).RunAsync(cancellationToken)
            : new DeploymentRunner(target, shell, request, redactor).RunAsync(cancellationToken);

    /// <summary>A rolled back or failed run as an error (with where its journal is), then the result itself.</summary>
    public static void WriteOutcome(VaultTarget target, DeploymentRequest request, VaultDeploymentResult result, PipelineMessages output)
    {
        var journal = result.JournalPath.Length > 0 ? $"Read the journal {result.JournalPath} (Get-VaultDeploymentJournal -RunId {result.RunId})." : null;
        if (result.Status == DeploymentStatus.RolledBack)
        {
            output.Error(ErrorRecords.Create(ErrorIds.DeploymentRolledBack, ErrorCategory.InvalidResult,
                $"{target.DisplayName}: {request.Source} " + (result.ErrorId == ErrorIds.StoppedByOperator ? "was stopped by the operator" : $"failed ({result.ErrorId})")
                + $" and was rolled back; {result.VersionAfter} serves again. {result.Error}", target, journal));
        }
        else if (result.Status == DeploymentStatus.Failed)
        {
            output.Error(ErrorRecords.Create(result.ErrorId ?? ErrorIds.DeploymentFailed,
                result.ErrorKind is { } kind ? ErrorRecords.Category(kind) : ErrorCategory.InvalidOperation, result.Error ?? "The deployment failed.", target,
                result.RecommendedAction is null ? journal : result.RecommendedAction + (journal is null ? "" : " " + journal)));
        }

        output.Output(result);
    }
}
