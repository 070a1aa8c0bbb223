using System;
using System.Collections.Concurrent;

namespace YieldVault.Ops.Hosts;

/// <summary>
/// The host connections of one PowerShell session: one SSH connection per host and account, reused by
/// every cmdlet in that session and closed when the session ends or the module is removed.
/// </summary>
public sealed class HostShellPool : IDisposable
{
    private readonly ConcurrentDictionary<string, Lazy<IHostShell>> _shells = new(StringComparer.Ordinal);
    private bool _disposed;

    public int Count => _shells.Count;

    public IHostShell For(VaultTarget target)
    {
        if (_disposed)
        {
            throw new ObjectDisposedException(nameof(HostShellPool));
        }

        var key = target.Ssh?.ConnectionKey ?? "local";
        return _shells.GetOrAdd(key, _ => new Lazy<IHostShell>(() =>
            target.Ssh is null ? new LocalShell() : new SshShell(target.Ssh))).Value;
    }

    /// <summary>Closes the connection to one host, for example after its key or address changed.</summary>
    public bool Close(VaultTarget target)
    {
        var key = target.Ssh?.ConnectionKey ?? "local";
        if (_shells.TryRemove(key, out var shell) && shell.IsValueCreated)
        {
            shell.Value.Dispose();
            return true;
        }

        return false;
    }

    public void Dispose()
    {
        _disposed = true;
        foreach (var shell in _shells.Values)
        {
            if (shell.IsValueCreated)
            {
                shell.Value.Dispose();
            }
        }

        _shells.Clear();
    }
}
