using System;
using System.Collections.Generic;

namespace YieldVault.Ops;

/// <summary>Runbook 5.1: the env file has every required variable (names only; values are never read out).</summary>
public sealed class VaultEnvironmentCheck
{
    public VaultTarget? Target { get; init; }

    public string EnvFile { get; init; } = "";

    public bool Exists { get; init; }

    public IReadOnlyList<string> Missing { get; init; } = Array.Empty<string>();

    public IReadOnlyList<string> Empty { get; init; } = Array.Empty<string>();

    /// <summary>Variables the new release's .env.example names that the env file lacks.</summary>
    public IReadOnlyList<string> NewInExample { get; init; } = Array.Empty<string>();

    public bool Passed => Exists && Missing.Count == 0 && Empty.Count == 0;
}
