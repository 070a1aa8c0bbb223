using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text.RegularExpressions;

namespace YieldVault.Ops;

public enum VaultLogLevel
{
    Debug,
    Info,
    Warning,
    Error,
}

/// <summary>One line of the backend's log (runbook 7.4), from the log file, journald, PM2 or Docker.</summary>
public sealed class VaultLogEntry
{
    /// <summary>The target this is about (shown by name; binds to -Target of the next cmdlet).</summary>
    public VaultTarget? Target { get; init; }

    public DateTimeOffset? Time { get; init; }

    public VaultLogLevel Level { get; init; } = VaultLogLevel.Info;

    public string Message { get; init; } = "";

    /// <summary>"file", "journald", "pm2" or "docker".</summary>
    public string Source { get; init; } = "";

    /// <summary>True when the line is (or contains) a stack trace frame.</summary>
    public bool IsStackTrace { get; init; }
}

/// <summary>What the log says about the last start (runbook 7.4 "Look for").</summary>
public sealed class VaultLogVerification
{
    /// <summary>The target this is about (shown by name; binds to -Target of the next cmdlet).</summary>
    public VaultTarget? Target { get; init; }

    public string Source { get; init; } = "";

    /// <summary>True when every startup marker is present and there is no error and no stack trace.</summary>
    public bool Passed => MarkersMissing.Count == 0 && ErrorCount == 0 && StackTraceCount == 0;

    public IReadOnlyList<string> MarkersFound { get; init; } = Array.Empty<string>();

    public IReadOnlyList<string> MarkersMissing { get; init; } = Array.Empty<string>();

    public int ErrorCount { get; init; }

    public int WarningCount { get; init; }

    public int StackTraceCount { get; init; }

    /// <summary>The first error line, if any.</summary>
    public string? FirstError { get; init; }

    /// <summary>How many lines were looked at (from the last start on).</summary>
    public int LinesExamined { get; init; }
}

/// <summary>Parses log lines of every source into entries, and checks the runbook's startup markers.</summary>
public static class LogParser
{
    private const string IsoTime = @"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?";

    // journalctl -o short-iso: "2026-11-26T04:00:00+0000 host node[123]: message"
    private static readonly Regex Journald = new($"^(?<time>{IsoTime}) \\S+ [^:\\s]+(?:\\[\\d+\\])?: (?<rest>.*)$", RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));

    // docker logs --timestamps, pm2 --time: "2026-11-26T04:00:00.123Z message" / "2026-11-26T04:00:00: message"
    private static readonly Regex TimePrefix = new($"^(?<time>{IsoTime}):? (?<rest>.*)$", RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));

    // The backend's own format: "2026-11-26T04:00:00.000Z INFO Server started on port 3000"
    private static readonly Regex Backend = new($"^(?<time>{IsoTime}) (?<level>DEBUG|INFO|WARN|WARNING|ERROR|FATAL) (?<message>.*)$", RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));

    private static readonly Regex ErrorWords = new(@"\b(error|exception|fatal|uncaught|unhandled)\b", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));
    private static readonly Regex WarningWords = new(@"\bwarn(ing)?\b", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));
    private static readonly Regex StackFrame = new(@"(^|\|)\s*at \S.*(\(|:\d+:\d+)", RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));

    /// <summary>The start-up lines a healthy start logs: the target's StartupMarkers, else the runbook backend's; "{Port}" is the port.</summary>
    public static IReadOnlyList<string> DefaultMarkers(VaultTarget target) =>
        (target.StartupMarkers ?? RunbookDefaults.StartupMarkers)
            .Select(m => m.Replace("{Port}", target.Port.ToString(CultureInfo.InvariantCulture)))
            .ToArray();

    public static VaultLogEntry Parse(string line, string source, VaultTarget? target)
    {
        DateTimeOffset? time = null;
        var text = line.TrimEnd('\r');
        var outer = Journald.Match(text);
        if (!outer.Success)
        {
            outer = TimePrefix.Match(text);
        }

        if (outer.Success && !Backend.IsMatch(text))
        {
            time = ParseTime(outer.Groups["time"].Value);
            text = outer.Groups["rest"].Value;
        }

        var inner = Backend.Match(text);
        VaultLogLevel level;
        if (inner.Success)
        {
            time = ParseTime(inner.Groups["time"].Value) ?? time;
            text = inner.Groups["message"].Value;
            level = inner.Groups["level"].Value switch
            {
                "ERROR" or "FATAL" => VaultLogLevel.Error,
                "WARN" or "WARNING" => VaultLogLevel.Warning,
                "DEBUG" => VaultLogLevel.Debug,
                _ => VaultLogLevel.Info,
            };
        }
        else
        {
            level = ErrorWords.IsMatch(text) ? VaultLogLevel.Error : WarningWords.IsMatch(text) ? VaultLogLevel.Warning : VaultLogLevel.Info;
        }

        var stack = StackFrame.IsMatch(text);
        if (stack && level == VaultLogLevel.Info)
        {
            level = VaultLogLevel.Error;
        }

        return new VaultLogEntry { Target = target, Time = time, Level = level, Message = text, Source = source, IsStackTrace = stack };
    }

    public static VaultLogVerification Verify(IReadOnlyList<VaultLogEntry> entries, IReadOnlyList<string> markers, VaultTarget? target, string source)
    {
        // Judge the last start only: earlier runs' errors are history, not this deployment's problem.
        var start = 0;
        for (var i = entries.Count - 1; i >= 0; i--)
        {
            if (entries[i].Message.StartsWith("Starting ", StringComparison.Ordinal))
            {
                start = i;
                break;
            }
        }

        var window = entries.Skip(start).ToList();
        var found = markers.Where(m => window.Any(e => e.Message.IndexOf(m, StringComparison.Ordinal) >= 0)).ToList();
        var errors = window.Where(e => e.Level == VaultLogLevel.Error).ToList();
        return new VaultLogVerification
        {
            Target = target,
            Source = source,
            MarkersFound = found,
            MarkersMissing = markers.Except(found).ToList(),
            ErrorCount = errors.Count,
            WarningCount = window.Count(e => e.Level == VaultLogLevel.Warning),
            StackTraceCount = window.Count(e => e.IsStackTrace),
            FirstError = errors.FirstOrDefault()?.Message,
            LinesExamined = window.Count,
        };
    }

    private static DateTimeOffset? ParseTime(string text)
    {
        var normalized = text.Replace(',', '.');
        if (Regex.IsMatch(normalized, @"[+-]\d{4}$", RegexOptions.None, TimeSpan.FromSeconds(1)))
        {
            normalized = normalized.Insert(normalized.Length - 2, ":");
        }

        // Nanosecond fractions (docker) are longer than DateTimeOffset takes.
        normalized = Regex.Replace(normalized, @"(\.\d{7})\d+", "$1", RegexOptions.None, TimeSpan.FromSeconds(1));
        return DateTimeOffset.TryParse(normalized, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var time)
            ? time
            : null;
    }
}
