using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;
using YieldVault.Ops.Hosts;

namespace YieldVault.Ops.Runbook;

/// <summary>
/// The lasting record of every deployment, rollback and drill, kept on the target's host beside what it is about:
/// the runbook's own deployment log (Step 10.2: a <c>Deployment:/Version:/Deployed By:/Incident:/Status:</c> block in
/// <c>deployments.log</c> next to the backend's log file) for people, and one JSON line per run in
/// <c>&lt;StatePath&gt;/&lt;service&gt;/history.jsonl</c> for Get-VaultDeploymentHistory. Every value goes through the
/// redactor before it is written. Writing is best effort: a record that cannot be written is a warning, never a
/// failed run.
/// </summary>
public static class DeploymentRecords
{
    public const string DeployKind = "deploy";
    public const string RollbackKind = "rollback";
    public const string DrillKind = "drill";

    /// <summary>Switch-VaultTraffic: traffic sent to the other slot of a blue-green target.</summary>
    public const string SwitchKind = "switch";

    /// <summary>A roll (a deployment or rollback over many targets in batches): its summary, in each of its targets' history.</summary>
    public const string RollKind = "roll";

    private const int MaxErrorLength = 2000;
    private const int MaxLogValueLength = 200;

    // Exit code of the read script when there is no history yet.
    private const int NoHistory = 3;
    private const string AppendScript = ShellQuote.EnsureParentOfFirstArgument + " && printf '%s' \"$2\" >> \"$1\"";
    private const string ReadScript = "[ -e \"$1\" ] || exit 3; exec cat -- \"$1\"";

    private static readonly TimeSpan WriteTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan ReadTimeout = TimeSpan.FromSeconds(60);

    // The reader keeps timestamps as text: Newtonsoft would otherwise turn them into DateTime and drop the offset.
    private static readonly JsonSerializerSettings ReadSettings = new() { DateParseHandling = DateParseHandling.None, MaxDepth = 8 };

    /// <summary>The JSON history of a target: <c>&lt;StatePath&gt;/&lt;ServiceName&gt;/history.jsonl</c>.</summary>
    public static string HistoryPath(VaultTarget target) => target.StatePath.TrimEnd('/') + "/" + target.ServiceName + "/history.jsonl";

    /// <summary>The runbook's deployment log: <c>deployments.log</c> in the directory of the target's log file.</summary>
    public static string LogPath(VaultTarget target)
    {
        var slash = target.LogPath.LastIndexOf('/');
        return slash < 0 ? "deployments.log" : target.LogPath.Substring(0, slash) + "/deployments.log";
    }

    /// <summary>Who ran this: "user@machine" of the process running the cmdlet.</summary>
    public static string CurrentUser() => Environment.UserName + "@" + Environment.MachineName;

    /// <summary>
    /// Appends the record of a finished run to the target's history and to its deployment log. Call it once, at the
    /// end of the run, while the deployment lock is still held (one writer at a time).
    /// </summary>
    /// <param name="cancellationToken">
    /// The run's token. A run that was stopped is recorded all the same (ErrorId <c>Cancelled</c>): like the journal,
    /// the two appends are not cancelled half-way; each is one short command bounded by its own timeout.
    /// </param>
    public static async Task AppendAsync(VaultTarget target, IHostShell shell, VaultDeploymentResult result, SecretRedactor redactor, CancellationToken cancellationToken)
    {
        var record = Create(target, result, redactor, CurrentUser(), cancelled: cancellationToken.IsCancellationRequested);
        var history = HistoryPath(target);
        var log = LogPath(target);
        var historyWritten = await TryAppendAsync(shell, history, ToHistoryLine(record) + "\n", $"{target.Name}: could not add run {record.RunId} to the deployment history {history}")
            .ConfigureAwait(false);
        await TryAppendAsync(shell, log, ToLogBlock(record),
            $"{target.Name}: could not write to the runbook's deployment log {log}" + (historyWritten ? $" (the run is recorded in {history})" : "")).ConfigureAwait(false);
    }

    /// <summary>
    /// Appends a roll's record to the target's history (only there: the runbook's deployments.log has the block of the
    /// target's own run), under the target's lock so it does not interleave with a run's record. Best effort: a target
    /// that is locked or cannot be written is a warning.
    /// </summary>
    public static async Task AppendRollAsync(VaultTarget target, IHostShell shell, VaultDeploymentResult roll, SecretRedactor redactor)
    {
        var record = Create(target, roll, redactor, CurrentUser());
        var history = HistoryPath(target);
        DeploymentLock? held = null;
        try
        {
            held = await DeploymentLock.AcquireForStepAsync(target, shell, "the roll's record", CancellationToken.None).ConfigureAwait(false);
            await TryAppendAsync(shell, history, ToHistoryLine(record) + "\n", $"{target.Name}: could not add roll {record.RunId} to the deployment history {history}").ConfigureAwait(false);
        }
        catch (VaultException ex)
        {
            Reporting.Current.Warning($"{target.Name}: roll {record.RunId} is not in the deployment history {history}: {redactor.Redact(ex.Message)}");
        }
        finally
        {
            if (held is not null)
            {
                await held.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>Appends the quarterly drill to the target's records (kind "drill"); returns whether it was written.</summary>
    public static async Task<bool> AppendDrillAsync(IHostShell shell, VaultDrillResult drill, SecretRedactor redactor, CancellationToken cancellationToken)
    {
        var record = new VaultDeploymentResult
        {
            Target = drill.Target,
            RunId = (drill.Deployment?.RunId ?? DeploymentJournal.NewRunId(drill.TestedAt)) + "-drill",
            Kind = DrillKind,
            Status = drill.Passed ? DeploymentStatus.Succeeded : DeploymentStatus.Failed,
            Source = drill.Ref,
            Incident = drill.Deployment?.Incident,
            VersionBefore = drill.VersionBefore,
            VersionAfter = drill.Rollback?.VersionAfter ?? drill.Deployment?.VersionAfter,
            CommitAfter = drill.Rollback?.CommitAfter ?? drill.Deployment?.CommitAfter,
            StartedAt = drill.TestedAt,
            Duration = drill.Duration,
            DowntimeMs = (drill.Deployment?.DowntimeMs ?? 0) + (drill.Rollback?.DowntimeMs ?? 0),
            JournalPath = drill.Deployment?.JournalPath ?? "",
            Error = drill.Error,
        };
        try
        {
            await AppendAsync(drill.Target!, shell, record, redactor, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (VaultException ex)
        {
            Reporting.Current.Warning($"The drill could not be recorded: {redactor.Redact(ex.Message)}");
            return false;
        }
    }

    /// <summary>The record of a run, every text redacted.</summary>
    public static VaultDeploymentRecord Create(VaultTarget target, VaultDeploymentResult result, SecretRedactor redactor, string deployedBy, bool cancelled = false)
    {
        string? Clean(string? text) => text is null ? null : redactor.Redact(text);
        var stopped = cancelled && result.Status != DeploymentStatus.Succeeded && result.ErrorId is null;
        var error = stopped ? "stopped by the user (Ctrl+C)" : Clean(result.Error);
        return new VaultDeploymentRecord
        {
            Target = target,
            RunId = result.RunId,
            Kind = result.Kind,
            Status = result.Status,
            Source = Clean(result.Source) ?? "",
            VersionBefore = Clean(result.VersionBefore),
            CommitBefore = Clean(result.CommitBefore),
            ReleaseBefore = Clean(result.ReleaseBefore),
            VersionAfter = Clean(result.VersionAfter),
            CommitAfter = Clean(result.CommitAfter),
            ReleaseAfter = Clean(result.ReleaseAfter),
            StartedAt = result.StartedAt,
            Duration = result.Duration,
            DowntimeMs = result.DowntimeMs,
            FailedProbes = result.FailedProbes,
            Incident = Clean(result.Incident),
            RollId = result.RollId,
            MigrationsApplied = result.MigrationsApplied,
            DeployedBy = Clean(deployedBy) ?? "",
            JournalPath = Clean(result.JournalPath) ?? "",
            ErrorId = stopped ? ErrorIds.Cancelled : result.ErrorId,
            Error = error is { Length: > MaxErrorLength } ? error.Substring(0, MaxErrorLength) + "..." : error,
        };
    }

    /// <summary>What Step 10.2 of the runbook writes for a run: "Success" for a deployment that succeeded, as the runbook has it.</summary>
    public static string RunbookStatus(VaultDeploymentRecord record) => record.Status switch
    {
        DeploymentStatus.Succeeded => record.Kind switch { RollbackKind => "Rollback", SwitchKind => "Switch", RollKind => "Roll", _ => "Success" },
        DeploymentStatus.RolledBack => "RolledBack",
        _ => "Failed",
    };

    /// <summary>
    /// The runbook's block (<c>cat &gt;&gt; deployments.log</c> in Step 10.2), ended by a blank line. The time is when the
    /// run ended, in UTC with its offset, as <c>date -Iseconds</c> prints it on a server in UTC; the version is the
    /// commit that serves afterwards (as <c>git rev-parse HEAD</c>), or its version when no commit is known.
    /// </summary>
    public static string ToLogBlock(VaultDeploymentRecord record)
    {
        var text = new StringBuilder();
        Line("Deployment", record.EndedAt.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:sszzz", CultureInfo.InvariantCulture));
        Line("Version", record.CommitAfter ?? record.VersionAfter ?? "unknown");
        Line("Deployed By", record.DeployedBy);
        Line("Incident", record.Incident ?? "-");
        Line("Status", RunbookStatus(record));
        return text.Append('\n').ToString();

        void Line(string name, string value) => text.Append(name).Append(": ").Append(OneLine(value)).Append('\n');
    }

    /// <summary>One line of history.jsonl (without the newline).</summary>
    public static string ToHistoryLine(VaultDeploymentRecord record)
    {
        var line = new JObject
        {
            ["run"] = record.RunId,
            ["kind"] = record.Kind,
            ["status"] = record.Status.ToString(),
            ["source"] = record.Source,
            ["versionBefore"] = record.VersionBefore,
            ["versionAfter"] = record.VersionAfter,
            ["commitBefore"] = record.CommitBefore,
            ["commitAfter"] = record.CommitAfter,
            ["releaseBefore"] = record.ReleaseBefore,
            ["releaseAfter"] = record.ReleaseAfter,
            ["startedAt"] = record.StartedAt.ToUniversalTime().ToString("o", CultureInfo.InvariantCulture),
            ["durationMs"] = Math.Round(record.Duration.TotalMilliseconds, 1),
            ["downtimeMs"] = Math.Round(record.DowntimeMs, 1),
            ["failedProbes"] = record.FailedProbes,
            ["incident"] = record.Incident,
            ["migrated"] = record.MigrationsApplied,
            ["deployedBy"] = record.DeployedBy,
            ["journal"] = record.JournalPath,
            ["errorId"] = record.ErrorId,
            ["error"] = record.Error,
        };

        // Only runs of a roll carry its id (and a roll's own record, kind "roll").
        if (record.RollId is not null)
        {
            line["roll"] = record.RollId;
        }

        return line.ToString(Formatting.None);
    }

    /// <summary>
    /// Parses history.jsonl, in file order (oldest first). A line that is not a record is reported through
    /// <paramref name="badLine"/> with its 1-based number and skipped; blank lines are ignored.
    /// </summary>
    public static IReadOnlyList<VaultDeploymentRecord> Parse(string text, VaultTarget? target, Action<int, string>? badLine)
    {
        var records = new List<VaultDeploymentRecord>();
        var lines = text.Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i].TrimEnd('\r');
            if (line.Trim().Length == 0)
            {
                continue;
            }

            try
            {
                records.Add(ParseLine(line, target));
            }
            catch (Exception ex) when (ex is JsonException or FormatException or InvalidCastException or ArgumentException or OverflowException)
            {
                badLine?.Invoke(i + 1, ex is JsonException ? "not JSON" : ex.Message);
            }
        }

        return records;
    }

    /// <summary>
    /// The target's history, newest first. No history yet is an empty list; lines that are not records are skipped
    /// with a warning that names the line.
    /// </summary>
    public static async Task<IReadOnlyList<VaultDeploymentRecord>> ReadAsync(VaultTarget target, IHostShell shell, CancellationToken cancellationToken)
    {
        var path = HistoryPath(target);
        var result = await shell.RunAsync(CommandLine.Script(ReadScript, path), ReadTimeout, cancellationToken).ConfigureAwait(false);
        if (result.ExitCode == NoHistory)
        {
            return Array.Empty<VaultDeploymentRecord>();
        }

        if (!result.Succeeded)
        {
            throw new VaultException(ErrorIds.DeploymentHistoryUnreadable, VaultErrorKind.ResourceUnavailable,
                $"{target.DisplayName}: could not read the deployment history {path} (exit code {result.ExitCode}): {result.Tail(2)}",
                $"Check that {target.Ssh?.User ?? Environment.UserName} can read {path}.");
        }

        var records = Parse(result.StandardOutput, target,
            (line, reason) => Reporting.Current.Warning($"{target.Name}: line {line} of {path} is not a deployment record ({reason}); skipped."));
        // Runs append as they end, and only one runs at a time: the file's order is the order of the runs.
        return records.Reverse().ToList();
    }

    private static VaultDeploymentRecord ParseLine(string line, VaultTarget? target)
    {
        var entry = JsonConvert.DeserializeObject<JToken>(line, ReadSettings) as JObject
            ?? throw new FormatException("not a JSON object");
        var status = Required(entry, "status");
        if (!Enum.GetNames(typeof(DeploymentStatus)).Contains(status, StringComparer.Ordinal))
        {
            throw new FormatException($"unknown status '{Shorten(status)}'");
        }

        var startedText = Required(entry, "startedAt");
        if (!DateTimeOffset.TryParse(startedText, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var started))
        {
            throw new FormatException($"startedAt '{Shorten(startedText)}' is not a time");
        }

        return new VaultDeploymentRecord
        {
            Target = target,
            RunId = Required(entry, "run"),
            Kind = Required(entry, "kind"),
            Status = (DeploymentStatus)Enum.Parse(typeof(DeploymentStatus), status),
            Source = Text(entry, "source") ?? "",
            VersionBefore = Text(entry, "versionBefore"),
            VersionAfter = Text(entry, "versionAfter"),
            CommitBefore = Text(entry, "commitBefore"),
            CommitAfter = Text(entry, "commitAfter"),
            ReleaseBefore = Text(entry, "releaseBefore"),
            ReleaseAfter = Text(entry, "releaseAfter"),
            StartedAt = started,
            Duration = TimeSpan.FromMilliseconds(Number(entry, "durationMs", 1e11)),
            DowntimeMs = Number(entry, "downtimeMs", 1e11),
            FailedProbes = (int)Number(entry, "failedProbes", int.MaxValue),
            Incident = Text(entry, "incident"),
            RollId = Text(entry, "roll"),
            MigrationsApplied = entry["migrated"]?.Type == JTokenType.Boolean && (bool)entry["migrated"]!,
            DeployedBy = Text(entry, "deployedBy") ?? "",
            JournalPath = Text(entry, "journal") ?? "",
            ErrorId = Text(entry, "errorId"),
            Error = Text(entry, "error"),
        };
    }

    private static string Required(JObject entry, string name) =>
        Text(entry, name) is { Length: > 0 } value ? value : throw new FormatException($"no {name}");

    private static string? Text(JObject entry, string name) => entry[name] switch
    {
        null => null,
        { Type: JTokenType.Null } => null,
        { Type: JTokenType.String } token => (string?)token,
        _ => throw new FormatException($"{name} is not text"),
    };

    private static double Number(JObject entry, string name, double max) => entry[name] switch
    {
        null => 0,
        { Type: JTokenType.Null } => 0,
        { Type: JTokenType.Integer or JTokenType.Float } token when (double)token is var value && value >= 0 && value <= max => value,
        _ => throw new FormatException($"{name} is not a count or a number of milliseconds"),
    };

    private static string Shorten(string text) => text.Length <= 40 ? text : text.Substring(0, 40) + "...";

    // A value from a version endpoint or a user must not start a line of its own in the runbook's log.
    private static string OneLine(string value)
    {
        var text = new string(value.Select(c => char.IsControl(c) || c is '\u2028' or '\u2029' ? ' ' : c).ToArray()).Trim();
        text = text.Length > MaxLogValueLength ? text.Substring(0, MaxLogValueLength) + "..." : text;
        return text.Length == 0 ? "-" : text;
    }

    private static async Task<bool> TryAppendAsync(IHostShell shell, string path, string text, string failure)
    {
        try
        {
            // Never cancelled half-way: a stopped run is still recorded (see AppendAsync).
            var result = await shell.RunAsync(CommandLine.Script(AppendScript, path, text), WriteTimeout, CancellationToken.None).ConfigureAwait(false);
            if (result.Succeeded)
            {
                return true;
            }

            Reporting.Current.Warning($"{failure}: {result.Tail(2)}");
        }
        catch (Exception ex)
        {
            // The record is the last thing a run does: nothing here may turn a finished run into an exception.
            Reporting.Current.Warning($"{failure}: {ex.Message}");
        }

        return false;
    }
}
