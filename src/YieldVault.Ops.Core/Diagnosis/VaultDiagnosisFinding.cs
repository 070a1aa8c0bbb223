using System;
using System.Collections.Generic;

namespace YieldVault.Ops;

/// <summary>The runbook's Troubleshooting issues, which Get-VaultDiagnosis -Symptom checks.</summary>
public enum VaultSymptom
{
    /// <summary>"Service Won't Start": manager state and log, env variables, the port, npm ls, file permissions.</summary>
    WontStart,

    /// <summary>"Database Connection Fails": DATABASE_URL, DNS, TCP from the server, the login and SELECT 1, the local PostgreSQL.</summary>
    Database,

    /// <summary>"High Memory Usage": the RSS and heap trend over a short sample, restarts, out-of-memory in the log.</summary>
    Memory,

    /// <summary>"Slow Response Times": latency of health and read endpoints, the Stellar RPC and the database, CPU, I/O wait.</summary>
    SlowResponses,
}

/// <summary>How a check of Get-VaultDiagnosis came out.</summary>
public enum FindingStatus
{
    /// <summary>Checked and fine: this is not the cause.</summary>
    Ok,

    /// <summary>Not wrong yet, but worth a look (a world-readable env file, memory that is high but steady).</summary>
    Warning,

    /// <summary>Found a cause of the symptom: the evidence says what, Next what to do.</summary>
    Problem,

    /// <summary>Could not be checked (the service does not run, a program is missing on the host); Summary says why.</summary>
    NotChecked,
}

/// <summary>One finding of Get-VaultDiagnosis: a check of the runbook's Troubleshooting section, what it found, and what to run next.</summary>
public sealed class VaultDiagnosisFinding
{
    public VaultTarget? Target { get; init; }

    public VaultSymptom Symptom { get; init; }

    /// <summary>The check's stable name: ServiceState, Environment, Port, Dependencies, Files, DatabaseUrl, DatabaseDns, DatabaseTcp, DatabaseQuery, PostgresService, MemoryTrend, Restarts, HealthLatency, ReadLatency, RpcLatency, DatabaseLatency, Cpu, IoWait.</summary>
    public string Check { get; init; } = "";

    public FindingStatus Status { get; init; }

    /// <summary>One line: what was found.</summary>
    public string Summary { get; init; } = "";

    /// <summary>What was seen: readings, log lines, command output (secrets hidden).</summary>
    public IReadOnlyList<string> Evidence { get; init; } = Array.Empty<string>();

    /// <summary>The next command to run: a cmdlet on $target (this finding's Target), or "on the host: ..." for a shell command there.</summary>
    public string? Next { get; init; }

    /// <summary>The runbook's troubleshooting line this check carries out ("Won't start 3: netstat -tuln | grep :3000").</summary>
    public string Runbook { get; init; } = "";

    public DateTimeOffset Timestamp { get; init; } = DateTimeOffset.UtcNow;
}
