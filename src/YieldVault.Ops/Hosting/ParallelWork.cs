using System;
using System.Collections.Generic;
using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;

namespace YieldVault.Ops.Hosting;

/// <summary>
/// Per-target work started as targets arrive on the pipeline, at most <c>throttle</c> at a time; results
/// and messages are written on the pipeline thread as each finishes (so 20 servers take about as long as
/// the slowest few, not the sum).
/// </summary>
internal sealed class ParallelWork : IDisposable
{
    private readonly PipelineMessages _messages;
    private readonly SemaphoreSlim _throttle;
    private readonly CancellationToken _cancellation;
    private readonly List<Task> _tasks = new();

    public ParallelWork(SecretRedactor redactor, int throttle, CancellationToken cancellation)
    {
        _messages = new PipelineMessages(redactor);
        _throttle = new SemaphoreSlim(throttle, throttle);
        _cancellation = cancellation;
    }

    public void Start(Func<PipelineMessages, CancellationToken, Task> work, Func<Exception, ErrorRecord?> onError)
    {
        _tasks.Add(Task.Run(
            async () =>
            {
                await _throttle.WaitAsync(_cancellation).ConfigureAwait(false);
                try
                {
                    Reporting.Use(_messages);
                    await work(_messages, _cancellation).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (_cancellation.IsCancellationRequested)
                {
                    // Ctrl+C: the pipeline is stopping; nothing to report.
                }
                catch (Exception ex)
                {
                    if (onError(ex) is { } record)
                    {
                        _messages.Error(record);
                    }
                }
                finally
                {
                    _throttle.Release();
                }
            },
            CancellationToken.None));
    }

    public void DrainAvailable(PSCmdlet cmdlet) => _messages.DrainAvailable(cmdlet);

    /// <summary>Writes everything until all work has finished.</summary>
    public void Complete(PSCmdlet cmdlet)
    {
        var all = Task.WhenAll(_tasks);
        using var done = new ManualResetEvent(false);
        all.ContinueWith(_ => done.Set(), TaskScheduler.Default);
        _messages.Drain(cmdlet, done, _cancellation);
        if (_cancellation.IsCancellationRequested)
        {
            throw new PipelineStoppedException();
        }
    }

    public void Dispose()
    {
        _messages.Dispose();
        _throttle.Dispose();
    }
}
