namespace YieldVault.Ops;

public enum MigrationTiming
{
    /// <summary>After the old version stopped, before the new one starts (the runbook's order).</summary>
    AfterStop,

    /// <summary>While the old version still serves (for backward-compatible migrations): less downtime.</summary>
    BeforeStop,
}
