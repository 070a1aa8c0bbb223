using System;

namespace YieldVault.Ops;

/// <summary>One slot of a blue-green target: its port, the instance that runs there, and the version it runs.</summary>
public sealed class VaultSlotState
{
    public TrafficSlot Slot { get; init; }

    public int Port { get; init; }

    /// <summary>The PM2 app, systemd unit or container of the slot.</summary>
    public string Instance { get; init; } = "";

    public ServiceStatus Status { get; init; } = ServiceStatus.Unknown;

    /// <summary>nginx sends traffic here.</summary>
    public bool Live { get; init; }

    /// <summary>Running, healthy and not live: a switch back needs no start (runbook: "keep blue running for quick rollback").</summary>
    public bool Warm { get; init; }

    public bool? Healthy { get; init; }

    /// <summary>The release (or image) the slot was last given.</summary>
    public string? Release { get; init; }

    public string? Version { get; init; }

    public string? Commit { get; init; }

    public override string ToString() => $"{Slot} :{Port} {Status}{(Live ? " live" : Warm ? " warm" : "")}";
}

/// <summary>Get-VaultTrafficState: which slot nginx serves, which is warm, and what each runs.</summary>
public sealed class VaultTrafficState
{
    public VaultTarget? Target { get; init; }

    /// <summary>The slot the upstream file sends traffic to; null when there is no upstream file yet (or it names neither port).</summary>
    public TrafficSlot? Live { get; init; }

    public int? LivePort { get; init; }

    public VaultSlotState Blue { get; init; } = new();

    public VaultSlotState Green { get; init; } = new();

    public string UpstreamFile { get; init; } = "";

    /// <summary>The version nginx itself answers with (GET VersionPath through the proxy), when it answers.</summary>
    public string? ServedVersion { get; init; }

    public DateTimeOffset? SwitchedAt { get; init; }

    public VaultSlotState Of(TrafficSlot slot) => slot == TrafficSlot.Blue ? Blue : Green;
}
