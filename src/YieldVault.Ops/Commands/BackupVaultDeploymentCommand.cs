using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;
using YieldVault.Ops.Hosting;
using YieldVault.Ops.Hosts;
using YieldVault.Ops.Runbook;

namespace YieldVault.Ops.Commands;

/// <summary>Runbook 2.1: records what runs and copies the env file (mode 600); the record feeds Undo-VaultDeployment.</summary>
[Cmdlet(VerbsData.Backup, "VaultDeployment", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
[OutputType(typeof(VaultBackupRecord))]
public sealed class BackupVaultDeploymentCommand : VaultActionCmdlet
{
    protected override bool TakesDeploymentLock => true;

    /// <summary>Also archive node_modules (the runbook's optional quick-rollback aid).</summary>
    [Parameter]
    public SwitchParameter IncludeNodeModules { get; set; }

    protected override string Action(VaultTarget target) =>
        $"Back up {target.EnvFilePath} and the running version to {target.BackupPath}" + (IncludeNodeModules ? " (with node_modules)" : "");

    internal override async Task ProcessTargetAsync(VaultTarget target, IHostShell shell, PipelineMessages output, CancellationToken cancellationToken) =>
        output.Output(await Backups.CreateAsync(target, shell, IncludeNodeModules, cancellationToken).ConfigureAwait(false));
}
