using System;
using System.Collections.Concurrent;
using System.Threading;
using System.Threading.Tasks;

namespace YieldVault.Ops.Hosts;

/// <summary>
/// A host shell for one read-only cmdlet call over many targets: a command identical to one already run (or running)
/// through it on the same connection (the same command line, environment and working directory: for example the same
/// <c>pm2 jlist</c> for several apps of one PM2_HOME, or the same <c>ss</c> for several targets of one port) runs once,
/// and every caller gets that one result. Only for commands that read: nothing is coalesced that changes the host.
/// A command that throws (a lost connection, a timeout) is not kept: its callers get the exception, later ones run it
/// again. HTTP and TCP forwards go straight to the inner shell, which is not owned (not disposed here).
/// </summary>
public sealed class CoalescingShell : IHostShell
{
    private readonly IHostShell _inner;
    private readonly ConcurrentDictionary<string, Lazy<Task<CommandResult>>> _results = new(StringComparer.Ordinal);

    public CoalescingShell(IHostShell inner)
    {
        _inner = inner ?? throw new ArgumentNullException(nameof(inner));
    }

    public string Description => _inner.Description;

    /// <summary>The shell commands really run on.</summary>
    public IHostShell Inner => _inner;

    /// <summary>The shell under any coalescing wrapper: for code that needs the connection itself (a Docker engine over SSH).</summary>
    public static IHostShell Unwrap(IHostShell shell) => shell is CoalescingShell coalescing ? coalescing.Inner : shell;

    /// <summary>How many commands really ran through this shell (for tests and profiling).</summary>
    public int Executed => _results.Count;

    public Task<CommandResult> RunAsync(CommandLine command, TimeSpan? timeout, CancellationToken cancellationToken)
    {
        // ToShellString holds the working directory, the environment and every argument, quoted: equal strings are
        // the same command on the same host.
        var key = command.ToShellString();
        var entry = _results.GetOrAdd(key, _ => new Lazy<Task<CommandResult>>(() => RunOnceAsync(key, command, timeout, cancellationToken)));
        return entry.Value;
    }

    private async Task<CommandResult> RunOnceAsync(string key, CommandLine command, TimeSpan? timeout, CancellationToken cancellationToken)
    {
        try
        {
            return await _inner.RunAsync(command, timeout, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            _results.TryRemove(key, out _);
            throw;
        }
    }

    public Task<Uri> GetHttpBaseAsync(int port, CancellationToken cancellationToken) => _inner.GetHttpBaseAsync(port, cancellationToken);

    public Task<(string Host, int Port)> ForwardTcpAsync(string host, int port, CancellationToken cancellationToken) =>
        _inner.ForwardTcpAsync(host, port, cancellationToken);

    public void Dispose()
    {
        // The inner shell belongs to the session's pool.
    }
}
