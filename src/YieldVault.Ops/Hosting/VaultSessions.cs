using System;
using System.Collections.Concurrent;
using System.Management.Automation.Runspaces;
using YieldVault.Ops.Hosts;

namespace YieldVault.Ops.Hosting;

/// <summary>
/// Host connections belong to the PowerShell runspace that opened them: no global variables, and a
/// runspace that closes takes its SSH connections with it.
/// </summary>
internal static class VaultSessions
{
    private static readonly ConcurrentDictionary<Guid, HostShellPool> Pools = new();

    public static HostShellPool For(Runspace? runspace)
    {
        if (runspace is null)
        {
            return Pools.GetOrAdd(Guid.Empty, _ => new HostShellPool());
        }

        return Pools.GetOrAdd(runspace.InstanceId, _ =>
        {
            runspace.StateChanged += OnStateChanged;
            return new HostShellPool();
        });
    }

    public static void CloseAll()
    {
        foreach (var key in Pools.Keys)
        {
            if (Pools.TryRemove(key, out var pool))
            {
                pool.Dispose();
            }
        }
    }

    private static void OnStateChanged(object? sender, RunspaceStateEventArgs e)
    {
        if (sender is Runspace runspace && e.RunspaceStateInfo.State is RunspaceState.Closed or RunspaceState.Broken
            && Pools.TryRemove(runspace.InstanceId, out var pool))
        {
            runspace.StateChanged -= OnStateChanged;
            pool.Dispose();
        }
    }
}
