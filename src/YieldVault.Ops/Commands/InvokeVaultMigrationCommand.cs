using System;
using System.Linq;
using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;
using YieldVault.Ops.Hosting;
using YieldVault.Ops.Hosts;
using YieldVault.Ops.Runbook;

namespace YieldVault.Ops.Commands;

/// <summary>Runbook 5.2: migration status, deploy or validate, with the env file loaded, in the app (or a release) directory.</summary>
[Cmdlet(VerbsLifecycle.Invoke, "VaultMigration", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, DefaultParameterSetName = StatusSet)]
[OutputType(typeof(VaultMigrationResult))]
public sealed class InvokeVaultMigrationCommand : VaultActionCmdlet
{
    protected override bool TakesDeploymentLock => ActionKind == MigrationAction.Deploy;

    private const string StatusSet = "Status";
    private const string DeploySet = "Deploy";
    private const string ValidateSet = "Validate";

    [Parameter(ParameterSetName = StatusSet)]
    public SwitchParameter Status { get; set; }

    [Parameter(Mandatory = true, ParameterSetName = DeploySet)]
    public SwitchParameter Deploy { get; set; }

    [Parameter(Mandatory = true, ParameterSetName = ValidateSet)]
    [Alias("Validate")]
    public SwitchParameter ValidateSchema { get; set; }

    /// <summary>The tool to use instead of the target's MigrationPreset.</summary>
    [Parameter]
    public MigrationPreset? Preset { get; set; }

    /// <summary>A command of your own (program and arguments), instead of a preset.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string[]? Command { get; set; }

    /// <summary>Where to run (default: the app path).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? Path { get; set; }

    private MigrationAction ActionKind => ParameterSetName switch
    {
        DeploySet => MigrationAction.Deploy,
        ValidateSet => MigrationAction.Validate,
        _ => MigrationAction.Status,
    };

    protected override void Validate(VaultTarget target)
    {
        if (Path is not null)
        {
            Migrations.ValidateDirectory(Path);
        }

        if (Command is null && Migrations.CommandFor(Preset ?? target.MigrationPreset, ActionKind) is null)
        {
            throw new VaultException(ErrorIds.NoMigrationTool, VaultErrorKind.InvalidArgument,
                $"{target.DisplayName} has MigrationPreset None; give -Preset or -Command.");
        }
    }

    protected override string Action(VaultTarget target)
    {
        var command = Command ?? Migrations.CommandFor(Preset ?? target.MigrationPreset, ActionKind)!.ToArray();
        return $"Run '{string.Join(" ", command.Select(ShellQuote.Quote))}' in {Path ?? target.AppPath} with {target.EnvFilePath} loaded";
    }

    internal override async Task ProcessTargetAsync(VaultTarget target, IHostShell shell, PipelineMessages output, CancellationToken cancellationToken)
    {
        var command = Command ?? Migrations.CommandFor(Preset ?? target.MigrationPreset, ActionKind);
        var result = await Migrations.RunAsync(target, shell, Redactor, ActionKind, Path ?? target.AppPath, command, cancellationToken).ConfigureAwait(false);
        if (result is { Succeeded: false })
        {
            output.Error(ErrorRecords.Create(ErrorIds.MigrationFailed, ErrorCategory.InvalidResult,
                $"{target.DisplayName}: {result.Command} failed with exit code {result.ExitCode}:{Environment.NewLine}{result.Output}", target));
        }

        if (result is not null)
        {
            output.Output(result);
        }
    }
}
