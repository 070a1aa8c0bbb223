using System;
using System.Threading;

namespace YieldVault.Ops.Hosts;

/// <summary>
/// SSH.NET blocks thread-pool threads: opening a channel waits for the server's confirmation on the caller's thread, and
/// a local port forward serves each connection on a pool thread it holds until the connection closes. With several
/// targets in flight those blocked threads exceed the pool's minimum (the core count, here 2); the pool then adds a
/// thread only about every half second, and the first fan-out of a session over 20 targets took 2.9 s instead of 0.3 s.
/// So work over many targets raises the minimum (never lowers it) to what that many targets can hold.
/// </summary>
public static class PoolThreads
{
    /// <summary>Threads one target in flight may hold blocked at once: a channel being opened and a forwarded connection.</summary>
    public const int PerTarget = 2;

    private const int Ceiling = 256;

    /// <summary>The new minimum of worker threads for <paramref name="concurrentTargets"/> targets at once (the current one if that is enough).</summary>
    public static int MinimumFor(int concurrentTargets, int processors, int current) =>
        Math.Max(current, Math.Min(Ceiling, processors + PerTarget * Math.Max(1, concurrentTargets)));

    /// <summary>Raises the thread pool's minimum of worker threads for <paramref name="concurrentTargets"/> targets at once.</summary>
    public static void EnsureFor(int concurrentTargets)
    {
        ThreadPool.GetMinThreads(out var workers, out var completion);
        var wanted = MinimumFor(concurrentTargets, Environment.ProcessorCount, workers);
        if (wanted > workers)
        {
            ThreadPool.SetMinThreads(wanted, completion);
        }
    }
}
