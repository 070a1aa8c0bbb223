using System;

namespace YieldVault.Ops.Services;

/// <summary>PM2's names for a process' state (pm2_env.status).</summary>
internal enum Pm2Status
{
    Unknown,
    Online,
    Stopped,
    Stopping,
    Launching,
    WaitingRestart,
    Errored,
    OneLaunch,
}

/// <summary>One entry of "pm2 jlist" (one instance of an app).</summary>
internal sealed class Pm2Process
{
    public const int DefaultKillTimeoutMs = 1600;

    public string Name { get; init; } = "";

    public int PmId { get; init; }

    public int? Pid { get; init; }

    public string RawStatus { get; init; } = "";

    public Pm2Status Status { get; init; }

    public int RestartTime { get; init; }

    public int UnstableRestarts { get; init; }

    public long? PmUptimeMs { get; init; }

    public int? ExitCode { get; init; }

    public long? MemoryBytes { get; init; }

    public double? Cpu { get; init; }

    /// <summary>The V8 heap in use, from PM2's own metrics (pm2_env.axm_monitor "Used Heap Size"), when PM2 reports it.</summary>
    public long? HeapUsedBytes { get; init; }

    public string? OutLogPath { get; init; }

    public string? ErrorLogPath { get; init; }

    public int? KillTimeoutMs { get; init; }

    /// <summary>The working directory PM2 starts the process in (pm2_env.pm_cwd).</summary>
    public string? Cwd { get; init; }

    /// <summary>The script PM2 starts (pm2_env.pm_exec_path).</summary>
    public string? ExecPath { get; init; }

    /// <summary>A process exists now (PM2 keeps the dead pid while it waits to restart, and 0 when stopped).</summary>
    public bool IsLive => Pid is > 0 && Status is Pm2Status.Online or Pm2Status.Launching or Pm2Status.Stopping;

    public DateTimeOffset? StartedAt => PmUptimeMs is > 0 ? DateTimeOffset.FromUnixTimeMilliseconds(PmUptimeMs.Value) : null;
}
