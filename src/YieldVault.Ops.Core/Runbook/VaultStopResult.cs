namespace YieldVault.Ops;

/// <summary>The outcome of Stop-VaultBackend (runbook Step 3).</summary>
public sealed class VaultStopResult
{
    public VaultTarget? Target { get; init; }

    public bool Stopped { get; init; }

    /// <summary>True when the graceful stop did not end the process in time and it was killed.</summary>
    public bool Forced { get; init; }

    public int? Pid { get; init; }

    public double DurationMs { get; init; }

    public ServiceStatus StateAfter { get; init; }
}
