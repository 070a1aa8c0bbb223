namespace YieldVault.Ops;

/// <summary>One thing that was checked, and what was found (for reports and drills).</summary>
public sealed class VaultCheckOutcome
{
    public VaultCheckOutcome()
    {
    }

    public VaultCheckOutcome(string name, bool passed, string? detail)
    {
        Name = name;
        Passed = passed;
        Detail = detail;
    }

    public string Name { get; init; } = "";

    public bool Passed { get; init; }

    public string? Detail { get; init; }

    public override string ToString() => (Passed ? "passed: " : "FAILED: ") + Name + (Detail is null ? "" : " (" + Detail + ")");
}
