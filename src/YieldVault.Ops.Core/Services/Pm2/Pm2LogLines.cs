using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text.RegularExpressions;

namespace YieldVault.Ops.Services;

/// <summary>Merges the tails of PM2's out and error logs by the time each line starts with.</summary>
internal static class Pm2LogLines
{
    // PM2's --time prefix ("2026-04-29T10:00:00: ", log_date_format YYYY-MM-DDTHH:mm:ss, local time) or an ISO time.
    private static readonly Regex Stamp = new(
        @"^(?<date>\d{4}-\d{2}-\d{2})[T ](?<time>\d{2}:\d{2}:\d{2}(?:\.\d{1,7})?)(?<zone>Z|[+-]\d{2}:?\d{2})?",
        RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));

    public static IReadOnlyList<string> Merge(string output, string marker, int tail, DateTimeOffset? since)
    {
        var lines = output.Replace("\r", "").Split('\n');
        var offset = lines.Length > 0 ? ParseOffset(lines[0]) : TimeSpan.Zero;
        var entries = new List<(DateTimeOffset? Time, int File, int Index, string Text)>();
        var files = new List<List<string>>();
        foreach (var line in lines.Skip(1))
        {
            if (line == marker)
            {
                files.Add(new List<string>());
            }
            else if (files.Count > 0)
            {
                files[files.Count - 1].Add(line);
            }
        }

        for (var f = 0; f < files.Count; f++)
        {
            var fileLines = files[f];
            // The script adds a newline after each tail; drop the empty lines it leaves at the end.
            var count = fileLines.Count;
            while (count > 0 && fileLines[count - 1].Length == 0)
            {
                count--;
            }

            DateTimeOffset? current = null;
            for (var i = 0; i < count; i++)
            {
                current = ParseTime(fileLines[i], offset) ?? current;
                entries.Add((current, f, i, fileLines[i]));
            }
        }

        var merged = entries
            .Where(e => since is null || (e.Time is { } time && time >= since.Value))
            .OrderBy(e => e.Time ?? DateTimeOffset.MinValue)
            .ThenBy(e => e.File)
            .ThenBy(e => e.Index)
            .Select(e => e.Text)
            .ToList();
        return merged.Skip(Math.Max(0, merged.Count - tail)).ToList();
    }

    /// <summary>
    /// The time a line starts with. After PM2's prefix (whole seconds, local time) the sample backend and many
    /// loggers write their own ISO time with milliseconds and a zone; that one orders lines of the same second.
    /// </summary>
    internal static DateTimeOffset? ParseTime(string line, TimeSpan hostOffset)
    {
        var match = Stamp.Match(line);
        if (!match.Success)
        {
            return null;
        }

        var rest = line.Substring(match.Length).TrimStart(':', ' ');
        var inner = Stamp.Match(rest);
        if (inner.Success && inner.Groups["zone"].Success)
        {
            match = inner;
        }

        var text = match.Groups["date"].Value + "T" + match.Groups["time"].Value;
        if (!DateTime.TryParseExact(text, new[] { "yyyy-MM-ddTHH:mm:ss", "yyyy-MM-ddTHH:mm:ss.FFFFFFF" }, CultureInfo.InvariantCulture, DateTimeStyles.None, out var local))
        {
            return null;
        }

        var zone = match.Groups["zone"];
        var offset = !zone.Success ? hostOffset : zone.Value == "Z" ? TimeSpan.Zero : ParseOffset(zone.Value);
        return new DateTimeOffset(DateTime.SpecifyKind(local, DateTimeKind.Unspecified), offset);
    }

    /// <summary>"+0200", "-05:30" (date +%z) as an offset; anything else is UTC.</summary>
    internal static TimeSpan ParseOffset(string text)
    {
        var value = text.Trim().Replace(":", "");
        if (value.Length != 5 || (value[0] != '+' && value[0] != '-')
            || !int.TryParse(value.Substring(1, 2), NumberStyles.None, CultureInfo.InvariantCulture, out var hours)
            || !int.TryParse(value.Substring(3, 2), NumberStyles.None, CultureInfo.InvariantCulture, out var minutes)
            || hours > 14 || minutes > 59)
        {
            return TimeSpan.Zero;
        }

        var offset = new TimeSpan(hours, minutes, 0);
        return value[0] == '-' ? -offset : offset;
    }
}
