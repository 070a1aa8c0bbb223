using System;
using System.Management.Automation;
using System.Management.Automation.Runspaces;
using System.Threading;
using System.Threading.Tasks;
using YieldVault.Ops.Hosts;

namespace YieldVault.Ops.Hosting;

/// <summary>
/// Base of every YieldVault.Ops cmdlet: owns the cancellation that Ctrl+C triggers, runs Core's async
/// work while writing its messages on the pipeline thread, and turns Core failures into error records.
/// </summary>
public abstract class VaultCmdlet : PSCmdlet, IDisposable
{
    private readonly CancellationTokenSource _cancellation = new();
    private bool _disposed;

    protected CancellationToken CancellationToken => _cancellation.Token;

    /// <summary>Secrets this call knows about; every message and error goes through it.</summary>
    internal SecretRedactor Redactor { get; } = new();

    /// <summary>The connections of the current PowerShell session.</summary>
    internal HostShellPool Hosts => VaultSessions.For(Runspace.DefaultRunspace);

    protected override void StopProcessing() => _cancellation.Cancel();

    /// <summary>
    /// Runs <paramref name="work"/> in the background and writes what it reports (and what it outputs
    /// through <see cref="PipelineMessages.Output"/>) here, on the pipeline thread, as it happens.
    /// </summary>
    internal T Run<T>(Func<PipelineMessages, CancellationToken, Task<T>> work)
    {
        using var messages = new PipelineMessages(Redactor);
        var token = _cancellation.Token;
        var task = Task.Run(
            () =>
            {
                Reporting.Use(messages);
                return work(messages, token);
            },
            token);
        using var done = new ManualResetEvent(false);
        task.ContinueWith(_ => done.Set(), TaskScheduler.Default);
        messages.Drain(this, done, token);
        try
        {
            return task.GetAwaiter().GetResult();
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            throw new PipelineStoppedException();
        }
    }

    internal void Run(Func<PipelineMessages, CancellationToken, Task> work) =>
        Run<bool>(async (messages, token) =>
        {
            await work(messages, token).ConfigureAwait(false);
            return true;
        });

    internal ErrorRecord ToErrorRecord(VaultException ex, object? target) => ErrorRecords.From(ex, target, Redactor);

    /// <summary>Writes a Core failure as a non-terminating error: one bad target does not stop the others.</summary>
    internal void WriteVaultError(VaultException ex, object? target) => WriteError(ToErrorRecord(ex, target));

    /// <summary>Stops the cmdlet with a Core failure: the call as a whole cannot work.</summary>
    internal void ThrowVaultError(VaultException ex, object? target) => ThrowTerminatingError(ToErrorRecord(ex, target));

    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    protected virtual void Dispose(bool disposing)
    {
        if (!_disposed && disposing)
        {
            _cancellation.Dispose();
        }

        _disposed = true;
    }
}
