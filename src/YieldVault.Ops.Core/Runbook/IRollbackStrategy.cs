using System.Threading;
using System.Threading.Tasks;

namespace YieldVault.Ops.Runbook;

/// <summary>
/// How a rollback puts the previous version back: a release link switch (and the env file from a backup), or the
/// container kept as <c>&lt;name&gt;-previous</c>. The run around it (lock, journal, stop, start, verification,
/// records) is <see cref="RollbackRunner"/>'s and the same for every strategy.
/// </summary>
internal interface IRollbackStrategy
{
    /// <summary>The runbook section the switch implements ("Rollback", "Docker Rollback").</summary>
    string Runbook { get; }

    /// <summary>
    /// Under the lock: what runs now and what the rollback goes back to (into the result), and what the previous
    /// version must report; a specific error when there is nothing to go back to. Changes nothing.
    /// </summary>
    Task<ExpectedVersion> ResolveAsync(VaultDeploymentResult result, CancellationToken cancellationToken);

    /// <summary>After the stop: makes the previous version the one the service manager starts. Returns the step's detail.</summary>
    Task<string> SwitchAsync(CancellationToken cancellationToken);
}
