using System;
using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;
using YieldVault.Ops.Hosts;

namespace YieldVault.Ops.Hosting;

/// <summary>
/// Base of the cmdlets that change a target. Targets are handled one at a time, in pipeline order (a
/// rolling change, never all servers at once), each after ShouldProcess on the resolved target; a cmdlet may
/// collect them instead and roll them in batches at the end (<see cref="VaultRollCmdlet"/>).
/// </summary>
public abstract class VaultActionCmdlet : VaultCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNull]
    public VaultTarget Target { get; set; } = null!;

    /// <summary>True when -WhatIf is in effect (parameter or preference).</summary>
    protected bool IsWhatIf =>
        (MyInvocation.BoundParameters.TryGetValue("WhatIf", out var value) && value is SwitchParameter { IsPresent: true })
        || (!MyInvocation.BoundParameters.ContainsKey("WhatIf") && GetVariableValue("WhatIfPreference") is SwitchParameter { IsPresent: true } or true);

    protected override void ProcessRecord()
    {
        var target = Target;
        try
        {
            Validate(target);
            if (IsWhatIf)
            {
                ShouldProcess(target.DisplayName, Action(target));
                WhatIfDetails(target);
                Collect(target);
                return;
            }

            // -Force skips the confirmation (never -WhatIf); an explicit -Confirm still asks.
            var confirmAsked = MyInvocation.BoundParameters.ContainsKey("Confirm");
            if ((!SkipConfirmation || confirmAsked) && !ShouldProcess(target.DisplayName, Action(target)))
            {
                return;
            }

            if (Collect(target))
            {
                return;
            }

            var shell = Hosts.For(target);
            Run((output, token) => TakesDeploymentLock ? WithLockAsync(target, shell, output, token) : ProcessTargetAsync(target, shell, output, token));
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

    /// <summary>Whether this call will show the action to the user (a prompt or -WhatIf): only then must it be described in detail.</summary>
    protected bool WillShowAction => IsWhatIf || !SkipConfirmation || MyInvocation.BoundParameters.ContainsKey("Confirm");

    /// <summary>
    /// Whether the cmdlet changes the backend in a way a deployment must not race with: it then holds the target's
    /// deployment lock while it runs, and is refused while a deployment holds it.
    /// </summary>
    protected virtual bool TakesDeploymentLock => false;

    private async Task WithLockAsync(VaultTarget target, IHostShell shell, PipelineMessages output, CancellationToken cancellationToken)
    {
        var held = await Runbook.DeploymentLock.AcquireForStepAsync(target, shell, MyInvocation.MyCommand.Name, cancellationToken).ConfigureAwait(false);
        try
        {
            await ProcessTargetAsync(target, shell, output, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            if (held is not null)
            {
                await held.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// Keeps a checked and confirmed target to be handled with the others in EndProcessing (a roll over a fleet) instead
    /// of now; returns whether it did.
    /// </summary>
    protected virtual bool Collect(VaultTarget target) => false;

    /// <summary>True when the cmdlet's -Force was given.</summary>
    protected virtual bool SkipConfirmation => false;

    /// <summary>Checks the input before anything is asked or changed (also under -WhatIf).</summary>
    protected virtual void Validate(VaultTarget target)
    {
    }

    /// <summary>The action for ShouldProcess: "Stop yieldvault-backend (Pm2)".</summary>
    protected abstract string Action(VaultTarget target);

    /// <summary>Under -WhatIf: more detail on what would run.</summary>
    protected virtual void WhatIfDetails(VaultTarget target)
    {
    }

    internal abstract Task ProcessTargetAsync(VaultTarget target, IHostShell shell, PipelineMessages output, CancellationToken cancellationToken);
}
