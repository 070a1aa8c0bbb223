using System.Management.Automation;
using YieldVault.Ops.Hosting;
using YieldVault.Ops.Runbook;

namespace YieldVault.Ops.Commands;

/// <summary>
/// Clears a target's deployment lock left by a run that died (stale), closing that run's journal as Abandoned; a lock a
/// live run still holds only with -Force. Asks first (ConfirmImpact High): -Confirm:$false does not ask.
/// </summary>
[Cmdlet(VerbsCommon.Unlock, "VaultDeployment", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
[OutputType(typeof(VaultDeploymentLockInfo))]
public sealed class UnlockVaultDeploymentCommand : VaultCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNull]
    public VaultTarget Target { get; set; } = null!;

    /// <summary>Also clear a lock that a live run holds (that run then stops at its next step with LockLost). The prompt still comes.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override void ProcessRecord()
    {
        var target = Target;
        try
        {
            var shell = Hosts.For(target);
            var held = Run((_, token) => LockInspection.ReadAsync(target, shell, token));
            if (held is null)
            {
                WriteWarning($"{target.Name}: no deployment lock is held ({DeploymentReadiness.LockPath(target)} does not exist); nothing to clear.");
                return;
            }

            if (!held.IsStale && !Force)
            {
                // Refused before anything is asked: a live run's lock needs -Force.
                Run((_, token) => LockInspection.ClearAsync(target, shell, force: false, held, token));
                return;
            }

            var what = held.IsStale
                ? $"Remove the stale deployment lock of {LockInspection.Describe(held)} ({held.StaleReason}) and close its journal as Abandoned"
                : $"Remove the deployment lock of a LIVE run: {LockInspection.Describe(held)}, refreshed {held.Age.TotalSeconds:0} s ago (it stops at its next step)";
            if (!ShouldProcess(target.DisplayName, what))
            {
                return;
            }

            WriteObject(Run((_, token) => LockInspection.ClearAsync(target, shell, Force, held, token)));
        }
        catch (VaultException ex)
        {
            if (ex.IsConnectionFailure)
            {
                Hosts.Close(target);
            }

            WriteVaultError(ex, target);
        }
    }
}
