using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text.RegularExpressions;
using System.Threading;
using System.Threading.Tasks;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;
using YieldVault.Ops.Hosts;

namespace YieldVault.Ops.Runbook;

/// <summary>
/// Reads runs' journals back from the target's host (Get-VaultDeploymentJournal): the newest runs, or runs by id,
/// in one command, each journal at most 1 MB. A run without an end line is Running while its lock is held and fresh,
/// else Unfinished (it died; clearing its stale lock closes it as Abandoned).
/// </summary>
public static class JournalReader
{
    /// <summary>The most runs one call reads.</summary>
    public const int MaxRuns = 100;

    private const int NoJournalDirectory = 3;
    private const int DirectoryUnreadable = 4;
    private const string RunMarker = "==yv-journal ";
    private const string LockMarker = "==yv-lock";

    // $1 journal directory, $2 lock file, $3 how many of the newest runs (when no run ids follow), $4... run ids.
    private const string Script = @"dir=""$1""; lock=""$2""; last=""$3""; shift 3
[ -d ""$dir"" ] || exit 3
{ [ -r ""$dir"" ] && [ -x ""$dir"" ]; } || exit 4
if [ ""$#"" -eq 0 ]; then
  set -- $(ls -1 -- ""$dir"" | grep -E '^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{6}\.jsonl$' | sort -r | head -n ""$last"" | sed 's/\.jsonl$//')
fi
for run in ""$@""; do
  f=""$dir/$run.jsonl""; printf '==yv-journal %s\n' ""$run""
  if [ ! -f ""$f"" ]; then echo '==yv-missing'; elif [ ! -r ""$f"" ]; then echo '==yv-unreadable'; else head -c 1048576 -- ""$f""; echo; fi
done
printf '==yv-lock\n'
if [ -f ""$lock"" ]; then now=$(date +%s); mtime=$(stat -c %Y -- ""$lock"" 2>/dev/null || echo ""$now""); printf 'age=%s\n' ""$((now - mtime))""; head -c 500 -- ""$lock""; fi";

    private static readonly Regex RunIdPattern = new("^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{6}$", RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));
    private static readonly JsonSerializerSettings ReadSettings = new() { DateParseHandling = DateParseHandling.None, MaxDepth = 8 };

    /// <summary>Whether <paramref name="runId"/> is spelled like a run id (yyyyMMddTHHmmssZ-xxxxxx).</summary>
    public static bool IsRunId(string? runId) => runId is not null && RunIdPattern.IsMatch(runId);

    /// <summary>The journal file of a run.</summary>
    public static string PathOf(VaultTarget target, string runId) => DeploymentJournal.DirectoryOf(target) + "/" + runId + ".jsonl";

    /// <summary>
    /// The journals of <paramref name="runIds"/>, or of the <paramref name="last"/> newest runs when none are named, newest
    /// first; a run named that has no journal is an entry with its error. A target without any journal, or one whose
    /// journal directory cannot be read, throws.
    /// </summary>
    public static async Task<IReadOnlyList<(string RunId, VaultDeploymentJournal? Journal, VaultException? Error)>> ReadAsync(
        VaultTarget target, IHostShell shell, IReadOnlyList<string>? runIds, int last, CancellationToken cancellationToken)
    {
        var ids = runIds ?? Array.Empty<string>();
        if (ids.FirstOrDefault(id => !IsRunId(id)) is { } bad)
        {
            throw new VaultException(ErrorIds.JournalNotFound, VaultErrorKind.InvalidArgument,
                $"'{bad}' is not a run id (yyyyMMddTHHmmssZ-xxxxxx, as a deployment result's RunId or Get-VaultDeploymentHistory shows it).");
        }

        var directory = DeploymentJournal.DirectoryOf(target);
        var arguments = new[] { directory, DeploymentReadiness.LockPath(target), Math.Max(1, Math.Min(last, MaxRuns)).ToString(CultureInfo.InvariantCulture) }
            .Concat(ids.Take(MaxRuns)).ToArray();
        var result = await shell.RunAsync(CommandLine.Script(Script, arguments), TimeSpan.FromSeconds(60), cancellationToken).ConfigureAwait(false);
        if (result.ExitCode == NoJournalDirectory)
        {
            throw new VaultException(ErrorIds.JournalNotFound, VaultErrorKind.ObjectNotFound,
                $"{target.DisplayName}: there is no journal yet ({directory} does not exist): no deployment or rollback by YieldVault.Ops has taken the lock here.",
                "Check the target's StatePath and ServiceName; Get-VaultDeploymentHistory lists the runs that were recorded.");
        }

        if (result.ExitCode == DirectoryUnreadable || !result.Succeeded)
        {
            throw new VaultException(ErrorIds.JournalUnreadable, VaultErrorKind.ResourceUnavailable,
                $"{target.DisplayName}: could not read the journals in {directory}: {result.Tail(2)}",
                $"Check that {target.Ssh?.User ?? Environment.UserName} can read {directory}.");
        }

        var (runs, lockHolder, lockAge) = Split(result.StandardOutput);
        var journals = new List<(string, VaultDeploymentJournal?, VaultException?)>();
        foreach (var (runId, lines) in runs)
        {
            if (lines.Count == 1 && lines[0] is "==yv-missing" or "==yv-unreadable")
            {
                journals.Add((runId, null, lines[0] == "==yv-missing"
                    ? new VaultException(ErrorIds.JournalNotFound, VaultErrorKind.ObjectNotFound,
                        $"{target.DisplayName}: there is no journal of run {runId} in {directory}.",
                        "List the runs with Get-VaultDeploymentHistory (RunId) or Get-VaultDeploymentJournal -Last 10.")
                    : new VaultException(ErrorIds.JournalUnreadable, VaultErrorKind.ResourceUnavailable,
                        $"{target.DisplayName}: the journal {PathOf(target, runId)} cannot be read by this user.", "Check its permissions.")));
                continue;
            }

            var live = lockHolder is not null && lockHolder.IndexOf("run=" + runId + " ", StringComparison.Ordinal) >= 0
                && !DeploymentLock.IsStale(lockHolder, TimeSpan.FromSeconds(lockAge), out _);
            journals.Add((runId, Parse(target, runId, lines, live), null));
        }

        return journals;
    }

    /// <summary>One run's journal from its lines; <paramref name="lockHeld"/>: its lock is held and fresh (it still runs).</summary>
    public static VaultDeploymentJournal Parse(VaultTarget? target, string runId, IReadOnlyList<string> lines, bool lockHeld)
    {
        var steps = new List<(string Step, DateTimeOffset? Start, DateTimeOffset? End, string Outcome, double? Ms, string? Detail, int Attempt)>();
        string? what = null, endDetail = null, outcome = null, rollback = null, versionBefore = null, versionAfter = null;
        DateTimeOffset? started = null, ended = null;
        double? duration = null, downtime = null;
        var bad = 0;
        foreach (var line in lines.Where(l => l.Trim().Length > 0))
        {
            JObject entry;
            try
            {
                entry = JsonConvert.DeserializeObject<JObject>(line, ReadSettings) ?? throw new JsonException("empty");
            }
            catch (JsonException)
            {
                bad++;
                continue;
            }

            var step = Text(entry["step"]);
            var phase = Text(entry["phase"]);
            var time = Time(entry["time"]);
            if (step is null || phase is null)
            {
                bad++;
                continue;
            }

            if (step == "run")
            {
                if (phase == "start")
                {
                    started ??= time;
                    what ??= Text(entry["detail"]);
                }
                else if (phase == "end")
                {
                    // The last end line wins: a run whose lock was forced away still writes its own end after the note.
                    ended = time;
                    outcome = Text(entry["outcome"]);
                    endDetail = Text(entry["detail"]);
                    duration = Number(entry["durationMs"]) ?? duration;
                    versionBefore = Text(entry["data"]?["versionBefore"]) ?? versionBefore;
                    versionAfter = Text(entry["data"]?["versionAfter"]) ?? versionAfter;
                    downtime = Number(entry["data"]?["downtimeMs"]) ?? downtime;
                }

                continue;
            }

            if (phase == "start")
            {
                steps.Add((step, time, null, "", null, null, steps.Count(s => s.Step == step) + 1));
                continue;
            }

            // An end (or any other phase: a lock cleared by hand) closes the newest open entry of that step, else stands alone.
            var open = steps.FindLastIndex(s => s.Step == step && s.End is null && s.Outcome.Length == 0);
            var closed = (step, open >= 0 ? steps[open].Start : null, time, Text(entry["outcome"]) ?? phase, Number(entry["durationMs"]), Text(entry["detail"]),
                open >= 0 ? steps[open].Attempt : steps.Count(s => s.Step == step) + 1);
            if (open >= 0)
            {
                steps[open] = closed;
            }
            else
            {
                steps.Add(closed);
            }

            if (step == "rollback" && phase == "end")
            {
                rollback = Text(entry["outcome"]);
            }
        }

        return new VaultDeploymentJournal
        {
            Target = target,
            RunId = runId,
            Path = target is null ? "" : PathOf(target, runId),
            What = what,
            StartedAt = started,
            EndedAt = ended,
            Outcome = outcome ?? (lockHeld ? "Running" : "Unfinished"),
            Duration = duration is { } ms ? TimeSpan.FromMilliseconds(ms) : started is { } s && ended is { } e ? e - s : null,
            Detail = endDetail,
            Rollback = rollback,
            VersionBefore = versionBefore,
            VersionAfter = versionAfter,
            DowntimeMs = downtime,
            BadLines = bad,
            Steps = steps.Select(s => new VaultJournalStep
            {
                Step = s.Step, StartedAt = s.Start, EndedAt = s.End, Outcome = s.Outcome, Detail = s.Detail, Attempt = s.Attempt,
                Duration = s.Ms is { } d ? TimeSpan.FromMilliseconds(d) : s.Start is { } a && s.End is { } b ? b - a : null,
            }).ToList(),
        };
    }

    private static (List<(string RunId, List<string> Lines)> Runs, string? LockHolder, int LockAge) Split(string output)
    {
        var runs = new List<(string, List<string>)>();
        List<string>? current = null;
        string? holder = null;
        var age = 0;
        var inLock = false;
        foreach (var line in output.Replace("\r", "").Split('\n'))
        {
            if (line.StartsWith(RunMarker, StringComparison.Ordinal))
            {
                current = new List<string>();
                runs.Add((line.Substring(RunMarker.Length).Trim(), current));
            }
            else if (line == LockMarker)
            {
                inLock = true;
                current = null;
            }
            else if (inLock)
            {
                if (line.StartsWith("age=", StringComparison.Ordinal) && holder is null)
                {
                    age = int.TryParse(line.Substring(4), NumberStyles.Integer, CultureInfo.InvariantCulture, out var a) ? a : 0;
                    holder = "";
                }
                else if (holder is not null)
                {
                    holder = (holder + " " + line).Trim();
                }
            }
            else if (current is not null && line.Length > 0)
            {
                current.Add(line);
            }
        }

        return (runs, holder, age);
    }

    private static string? Text(JToken? token) => token is { Type: JTokenType.String } ? (string?)token : token is null || token.Type == JTokenType.Null ? null : token.ToString(Formatting.None);

    private static double? Number(JToken? token) => token?.Type is JTokenType.Float or JTokenType.Integer ? (double)token : null;

    private static DateTimeOffset? Time(JToken? token) =>
        Text(token) is { } text && DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var time) ? time : null;
}
