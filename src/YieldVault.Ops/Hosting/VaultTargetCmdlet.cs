using System;
using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;
using YieldVault.Ops.Hosts;

namespace YieldVault.Ops.Hosting;

/// <summary>
/// Base of the read-only cmdlets that work on targets from the pipeline: each target is handled in the
/// background (in parallel up to the throttle), and what it produces streams out as it finishes. One
/// target's failure is a non-terminating error about that target; the others go on.
/// </summary>
public abstract class VaultTargetCmdlet : VaultCmdlet
{
    private ParallelWork? _work;

    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNull]
    public VaultTarget Target { get; set; } = null!;

    /// <summary>How many targets are handled at once.</summary>
    protected virtual int Throttle => 8;

    protected override void BeginProcessing()
    {
        // SSH.NET holds pool threads blocked per target in flight; without enough of them the first fan-out starves.
        PoolThreads.EnsureFor(Math.Max(1, Throttle));
        _work = new ParallelWork(Redactor, Math.Max(1, Throttle), CancellationToken);
    }

    protected override void ProcessRecord()
    {
        var target = Target;
        // Taken on the pipeline thread: the session's connections are found through its runspace.
        var shell = Hosts.For(target);
        _work!.Start((output, token) => ProcessTargetAsync(target, shell, output, token), ex => ToRecord(ex, target));
        _work.DrainAvailable(this);
    }

    protected override void EndProcessing() => _work?.Complete(this);

    /// <summary>The work for one target. Write results with <c>output.Output</c>, never with WriteObject.</summary>
    internal abstract Task ProcessTargetAsync(VaultTarget target, IHostShell shell, PipelineMessages output, CancellationToken cancellationToken);

    private ErrorRecord ToRecord(Exception ex, VaultTarget target)
    {
        if (ex is VaultException vault)
        {
            if (vault.IsConnectionFailure)
            {
                // A stale or refused connection must not stay in the pool for the next call.
                Hosts.Close(target);
            }

            return ToErrorRecord(vault, target);
        }

        return ErrorRecords.Create(ErrorIds.UnexpectedError, ErrorCategory.NotSpecified,
            Redactor.Redact($"{target.DisplayName}: {ex.GetType().Name}: {ex.Message}"), target,
            "This is a defect in YieldVault.Ops; please report it with the command that caused it.");
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _work?.Dispose();
        }

        base.Dispose(disposing);
    }
}
