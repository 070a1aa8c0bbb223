using System;
using System.Collections.Generic;

namespace YieldVault.Ops;

/// <summary>
/// The quarterly runbook drill (Invoke-VaultRunbookTest): every phase of the runbook run against a staging
/// target, with what was measured at each one. The runbook's "Last Tested: Never" becomes a date and numbers.
/// </summary>
public sealed class VaultDrillResult
{
    public VaultTarget? Target { get; init; }

    public DateTimeOffset TestedAt { get; init; }

    /// <summary>The ref deployed during the drill.</summary>
    public string Ref { get; init; } = "";

    public bool Passed { get; set; }

    public string? VersionBefore { get; set; }

    /// <summary>Pre-deployment checklist (Test-VaultDeploymentReadiness).</summary>
    public IList<VaultCheckOutcome> Readiness { get; init; } = new List<VaultCheckOutcome>();

    public string? BackupPath { get; set; }

    public VaultDeploymentResult? Deployment { get; set; }

    /// <summary>Step 7 after the deployment: service, health, readiness, version, logs, dependencies.</summary>
    public IList<VaultCheckOutcome> VerifyAfterDeploy { get; init; } = new List<VaultCheckOutcome>();

    /// <summary>Step 8 after the deployment.</summary>
    public IList<VaultCheckOutcome> Smoke { get; init; } = new List<VaultCheckOutcome>();

    public VaultDeploymentResult? Rollback { get; set; }

    /// <summary>After the rollback: the previous version serves again.</summary>
    public IList<VaultCheckOutcome> VerifyAfterRollback { get; init; } = new List<VaultCheckOutcome>();

    /// <summary>Runbook 10.3, when a webhook was given.</summary>
    public bool? Notified { get; set; }

    /// <summary>Runbook 10.2: the drill's deployment, rollback and drill records were written.</summary>
    public bool Recorded { get; set; }

    /// <summary>Measured RTO: from the start of the deployment until the new version was verified healthy.</summary>
    public TimeSpan? Rto => Deployment?.Duration;

    public TimeSpan Duration { get; set; }

    public string? ReportPath { get; set; }

    public string? Error { get; set; }
}
