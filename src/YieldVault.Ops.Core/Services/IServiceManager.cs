using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;

namespace YieldVault.Ops.Services;

/// <summary>
/// The backend's supervisor on one target: systemd, PM2 or Docker. Implementations are created per call
/// by <see cref="ServiceManagers.For"/> and must not keep state between calls (a new reading each time).
/// Start/Stop/Restart return when the manager has acted; callers verify the outcome (process gone, port
/// free, health) themselves.
/// </summary>
public interface IServiceManager
{
    ServiceManagerKind Kind { get; }

    Task<ServiceState> GetStateAsync(CancellationToken cancellationToken);

    Task StartAsync(CancellationToken cancellationToken);

    /// <summary>Graceful stop (SIGTERM and the manager's own wait), bounded by <paramref name="timeout"/>.</summary>
    Task StopAsync(TimeSpan timeout, CancellationToken cancellationToken);

    /// <summary>Last resort: SIGKILL the process (runbook 3.2 "If service won't stop").</summary>
    Task KillAsync(CancellationToken cancellationToken);

    Task RestartAsync(CancellationToken cancellationToken);

    /// <summary>
    /// The manager's own log of the service (journald, PM2's out/err files, the container's output), newest
    /// last, at most <paramref name="tail"/> lines, optionally only since a time. Raw lines; parsing is the caller's.
    /// </summary>
    Task<IReadOnlyList<string>> ReadLogAsync(int tail, DateTimeOffset? since, CancellationToken cancellationToken);
}
