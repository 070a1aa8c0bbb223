using System.Threading;
using System.Threading.Tasks;

namespace YieldVault.Ops.Runbook;

/// <summary>What the operator of a guided run decided at a step.</summary>
public enum StepGateDecision
{
    /// <summary>Run the step.</summary>
    Run,

    /// <summary>Leave the step out (only a step whose <see cref="VaultDeploymentStep.CanSkip"/> is set).</summary>
    Skip,

    /// <summary>Run the failed step again (only a step whose <see cref="VaultDeploymentStep.CanRetry"/> is set).</summary>
    Retry,

    /// <summary>Stop the run here: the run's own recovery follows (before the stop nothing to undo; after it, the rollback).</summary>
    RollBack,
}

/// <summary>
/// An operator between the steps of a run (Invoke-VaultRunbook): the engine asks before each step and after a step
/// that failed, and tells when a step ended. Core never talks to the operator itself: the cmdlet answers on its
/// pipeline thread. Without a gate a run asks nobody (Invoke-VaultDeployment).
/// </summary>
public interface IRunbookStepGate
{
    /// <summary>Before <paramref name="step"/> runs (nothing of it has run yet).</summary>
    Task<StepGateDecision> BeforeStepAsync(VaultDeploymentStep step, int stepCount, CancellationToken cancellationToken);

    /// <summary>After <paramref name="step"/> failed with <paramref name="failure"/>: <see cref="StepGateDecision.Retry"/> runs it again, anything else fails the run as usual.</summary>
    Task<StepGateDecision> AfterFailureAsync(VaultDeploymentStep step, VaultException failure, CancellationToken cancellationToken);

    /// <summary>A step ended (its outcome, detail and duration are set); tells, does not ask.</summary>
    void StepEnded(VaultDeploymentStep step);
}
