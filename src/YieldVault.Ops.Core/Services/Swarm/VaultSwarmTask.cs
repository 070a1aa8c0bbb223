using System;

namespace YieldVault.Ops;

/// <summary>One task of a Swarm service (a container the engine scheduled for it), as Get-VaultBackendStatus shows it.</summary>
public sealed class VaultSwarmTask
{
    public string Id { get; init; } = "";

    /// <summary>The replica's slot (1, 2, ...); 0 for a global service.</summary>
    public long Slot { get; init; }

    /// <summary>The node it runs (or ran) on.</summary>
    public string? Node { get; init; }

    /// <summary>The engine's state of the task: running, starting, pending, failed, shutdown, rejected...</summary>
    public string State { get; init; } = "";

    /// <summary>What the engine wants it to be: running, or shutdown for a replaced task.</summary>
    public string DesiredState { get; init; } = "";

    public string? Image { get; init; }

    /// <summary>Why the task failed ("task: non-zero exit (1)", "container unhealthy"), when it did.</summary>
    public string? Error { get; init; }

    /// <summary>The engine's last word on the task ("started", "shutdown").</summary>
    public string? Message { get; init; }

    /// <summary>When the task reached its state.</summary>
    public DateTimeOffset Since { get; init; }

    public long? ExitCode { get; init; }

    public override string ToString() => $"{Id} {State}" + (Error is null ? "" : $" ({Error})");
}
