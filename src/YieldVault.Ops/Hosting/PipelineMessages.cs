using System;
using System.Collections.Concurrent;
using System.Management.Automation;
using System.Threading;

namespace YieldVault.Ops.Hosting;

/// <summary>
/// Messages from background work (Core's verbose lines, warnings, progress, results, errors), queued
/// and written later on the pipeline thread: background code never calls Write* or the host.
/// </summary>
internal sealed class PipelineMessages : IVaultReporter, IDisposable
{
    private readonly BlockingCollection<(Action<PSCmdlet> Write, string? Warning)> _queue = new();

    // Set on every message: the pipeline thread wakes for a message or for the end of the work, whichever comes first
    // (a bare timed wait on the queue added up to its whole timeout to every call after the work had ended).
    private readonly AutoResetEvent _posted = new(false);
    private readonly SecretRedactor _redactor;

    public PipelineMessages(SecretRedactor redactor) => _redactor = redactor;

    public void Verbose(string message)
    {
        var text = _redactor.Redact(message);
        Post(c => c.WriteVerbose(text));
    }

    public void Warning(string message)
    {
        var text = _redactor.Redact(message);
        Post(c => c.WriteWarning(text), text);
    }

    public void Progress(int activityId, string activity, string status, int percent, int parentActivityId = -1, bool completed = false)
    {
        var record = new ProgressRecord(activityId, _redactor.Redact(activity), _redactor.Redact(string.IsNullOrEmpty(status) ? " " : status))
        {
            PercentComplete = percent,
            ParentActivityId = parentActivityId,
            RecordType = completed ? ProgressRecordType.Completed : ProgressRecordType.Processing,
        };
        Post(c => c.WriteProgress(record));
    }

    public void Output(object value) => Post(c => c.WriteObject(value));

    public void Error(ErrorRecord record) => Post(c => c.WriteError(record));

    public void Post(Action<PSCmdlet> action) => Post(action, null);

    private void Post(Action<PSCmdlet> action, string? warning)
    {
        if (!_queue.IsAddingCompleted)
        {
            try
            {
                _queue.Add((action, warning));
                _posted.Set();
            }
            catch (InvalidOperationException)
            {
                // The cmdlet finished while background work was still reporting; drop it.
            }
        }
    }

    /// <summary>
    /// Writes queued messages until <paramref name="done"/> is signalled and the queue is empty. After Ctrl+C the
    /// pipeline refuses writes, but the work may still be bringing a serving version back: it is waited for, and its
    /// warnings go straight to the host so the user sees what happens.
    /// </summary>
    public void Drain(PSCmdlet cmdlet, WaitHandle done, CancellationToken cancellationToken)
    {
        var stopped = false;
        var wake = new[] { _posted, done };
        while (true)
        {
            while (_queue.TryTake(out var message))
            {
                stopped = Write(cmdlet, message, stopped || cancellationToken.IsCancellationRequested);
            }

            if (done.WaitOne(0) && _queue.Count == 0)
            {
                return;
            }

            // A message posted since the queue was found empty left _posted set: no wake-up is missed. The timeout is a bound only.
            WaitHandle.WaitAny(wake, 250);
        }
    }

    // Returns whether the pipeline has stopped.
    private static bool Write(PSCmdlet cmdlet, (Action<PSCmdlet> Write, string? Warning) message, bool stopping)
    {
        if (!stopping)
        {
            try
            {
                message.Write(cmdlet);
                return false;
            }
            catch (PipelineStoppedException)
            {
                // Ctrl+C: from here on only warnings are shown, on the host.
            }
        }

        if (message.Warning is { } warning)
        {
            try
            {
                cmdlet.Host.UI.WriteWarningLine(warning);
            }
            catch (Exception ex) when (ex is PipelineStoppedException or InvalidOperationException or NotImplementedException)
            {
                // A host without a UI: nothing more can be shown.
            }
        }

        return true;
    }

    /// <summary>Writes what is queued now, without waiting.</summary>
    public void DrainAvailable(PSCmdlet cmdlet)
    {
        while (_queue.TryTake(out var message))
        {
            message.Write(cmdlet);
        }
    }

    public void Dispose()
    {
        _queue.CompleteAdding();
        _queue.Dispose();
        _posted.Dispose();
    }
}
