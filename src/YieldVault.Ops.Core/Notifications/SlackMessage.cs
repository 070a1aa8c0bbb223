using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using System.Text.RegularExpressions;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;

namespace YieldVault.Ops.Notifications;

/// <summary>
/// The runbook's Slack message (10.3 Notify Stakeholders): a <c>text</c> line for notifications and one
/// mrkdwn <c>section</c> block. Everything taken from a deployment goes through the redactor, loses URL
/// query strings (signed artifact links) and is escaped, so a result can neither leak a secret nor ping
/// a channel with "&lt;!channel&gt;".
/// </summary>
public sealed class SlackMessage
{
    /// <summary>Slack's limit for the text of a section block.</summary>
    public const int MaxSectionLength = 3000;

    /// <summary>How much of a deployment's error is shown.</summary>
    public const int MaxErrorLength = 300;

    /// <summary>How much of a value is cleaned of secrets: more than is ever shown, and short enough for the redactor's URL pattern to stay fast.</summary>
    internal const int RedactWindow = MaxSectionLength + 1000;

    internal const string Withheld = "(withheld: the text could not be checked for secrets)";

    private static readonly Regex UrlQuery = new(@"(?<url>[a-zA-Z][a-zA-Z0-9+.-]*://[^\s?#]+)[?#][^\s]*",
        RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));

    public SlackMessage(string text, string section)
    {
        Text = text;
        Section = section;
    }

    /// <summary>The notification line: "✅ Backend deployment completed successfully".</summary>
    public string Text { get; }

    /// <summary>The mrkdwn text of the section block.</summary>
    public string Section { get; }

    /// <summary>The target the message is about, for the result; null for free text.</summary>
    public string? Target { get; private set; }

    /// <summary>The webhook payload: {"text": ..., "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": ...}}]}.</summary>
    public string ToJson() => new JObject
    {
        ["text"] = Text,
        ["blocks"] = new JArray
        {
            new JObject
            {
                ["type"] = "section",
                ["text"] = new JObject { ["type"] = "mrkdwn", ["text"] = Section },
            },
        },
    }.ToString(Formatting.None);

    /// <summary>A free-text message, written by the caller in Slack mrkdwn (it is not escaped, only cleaned of secrets).</summary>
    public static SlackMessage ForText(string message, SecretRedactor redactor)
    {
        if (redactor is null)
        {
            throw new ArgumentNullException(nameof(redactor));
        }

        var clean = Truncate(Sanitize(message, redactor, stripQueries: false).Trim(), MaxSectionLength);
        return new SlackMessage(clean, clean);
    }

    /// <summary>The runbook's message for what Invoke-VaultDeployment or Undo-VaultDeployment did.</summary>
    public static SlackMessage ForDeployment(VaultDeploymentResult result, SecretRedactor redactor)
    {
        if (result is null)
        {
            throw new ArgumentNullException(nameof(result));
        }

        if (redactor is null)
        {
            throw new ArgumentNullException(nameof(redactor));
        }

        var rollback = string.Equals(result.Kind, "rollback", StringComparison.OrdinalIgnoreCase);
        var noun = rollback ? "rollback" : "deployment";
        var title = rollback ? "Rollback" : "Deployment";
        string text;
        string heading;
        string status;
        switch (result.Status)
        {
            case DeploymentStatus.Succeeded:
                text = $"✅ Backend {noun} completed successfully";
                heading = $"Backend {title} Complete";
                status = "All systems operational";
                break;
            case DeploymentStatus.RolledBack:
                text = $"⚠️ Backend {noun} rolled back";
                heading = $"Backend {title} Rolled Back";
                status = "Rolled back: the previous version serves again";
                break;
            default:
                text = $"❌ Backend {noun} failed";
                heading = $"Backend {title} Failed";
                status = $"{char.ToUpperInvariant(noun[0])}{noun.Substring(1)} failed: needs attention";
                break;
        }

        // Cleaned first, then shortened (a cut must never leave half a secret), then escaped.
        string Clean(string? value, int max) => Escape(Shorten(Sanitize(value, redactor, stripQueries: true), max));

        var lines = new List<string>
        {
            $"*{heading}*",
            $"• Version: {VersionLine(result, value => Clean(value, 64))}",
            $"• Downtime: {Downtime(result)}",
            $"• Status: {status}",
        };

        if (result.Target is { } target)
        {
            lines.Add($"• Target: {Clean(target.Name, 64)} ({Clean(target.Environment, 32)})");
        }

        if (result.Status != DeploymentStatus.Succeeded && !string.IsNullOrEmpty(result.Source))
        {
            lines.Add($"• Attempted: {Clean(result.Source, 120)}");
        }

        if (!string.IsNullOrWhiteSpace(result.Incident))
        {
            lines.Add($"• Incident: {Clean(result.Incident, 64)}");
        }

        lines.Add($"• Duration: {Duration(result.Duration)}");
        if (result.Status != DeploymentStatus.Succeeded && (result.Error is not null || result.ErrorId is not null))
        {
            lines.Add($"• Error: {Escape(ShortError(result, redactor))}");
        }

        var message = new SlackMessage(text, Truncate(string.Join("\n", lines), MaxSectionLength))
        {
            Target = result.Target?.Name,
        };
        return message;
    }

    /// <summary>"v1.3.0 (from v1.2.3)", "v1.2.3 serves again", "unknown".</summary>
    private static string VersionLine(VaultDeploymentResult result, Func<string?, string> clean)
    {
        var after = Version(result.VersionAfter, clean);
        var before = Version(result.VersionBefore, clean);
        return result.Status switch
        {
            DeploymentStatus.Succeeded when before is not null && after is not null && before != after => $"{after} (from {before})",
            DeploymentStatus.Succeeded => after ?? "unknown",
            DeploymentStatus.RolledBack => $"{after ?? before ?? "the previous version"} serves again",
            _ => after ?? before ?? "unknown",
        };
    }

    private static string? Version(string? version, Func<string?, string> clean)
    {
        if (string.IsNullOrWhiteSpace(version))
        {
            return null;
        }

        var text = clean(version!.Trim());
        return text.Length > 0 && char.IsDigit(text[0]) ? "v" + text : text;
    }

    /// <summary>The runbook's "Downtime: 5 minutes", from the prober's measurement.</summary>
    public static string Downtime(VaultDeploymentResult result)
    {
        if (result is null)
        {
            throw new ArgumentNullException(nameof(result));
        }

        if (result.DowntimeMs <= 0)
        {
            return result.Probes > 0 ? "none" : "not measured";
        }

        return Duration(TimeSpan.FromMilliseconds(result.DowntimeMs));
    }

    /// <summary>"0.4 s", "42.0 s", "5.2 min", "1.5 h".</summary>
    public static string Duration(TimeSpan value)
    {
        if (value < TimeSpan.Zero)
        {
            value = TimeSpan.Zero;
        }

        if (value.TotalSeconds < 60)
        {
            return value.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture) + " s";
        }

        return value.TotalMinutes < 60
            ? value.TotalMinutes.ToString("0.0", CultureInfo.InvariantCulture) + " min"
            : value.TotalHours.ToString("0.0", CultureInfo.InvariantCulture) + " h";
    }

    /// <summary>"HealthCheckTimeout: /health did not answer ..." on one line, at most <see cref="MaxErrorLength"/> characters.</summary>
    private static string ShortError(VaultDeploymentResult result, SecretRedactor redactor)
    {
        var error = Sanitize(result.Error, redactor, stripQueries: true);
        var firstLine = error.Split(new[] { '\r', '\n' }, StringSplitOptions.RemoveEmptyEntries).FirstOrDefault()?.Trim() ?? "";
        var text = Sanitize(result.ErrorId, redactor, stripQueries: true) is { Length: > 0 } id && !firstLine.StartsWith(id, StringComparison.Ordinal)
            ? (firstLine.Length > 0 ? $"{id}: {firstLine}" : id)
            : firstLine;
        return Shorten(text, MaxErrorLength);
    }

    /// <summary>
    /// Secrets and (with <paramref name="stripQueries"/>) URL query strings removed. Only the first
    /// <see cref="RedactWindow"/> characters are looked at, far more than is ever shown, which keeps the
    /// redactor's URL pattern fast; text it cannot check in time is withheld, never sent unchecked.
    /// </summary>
    internal static string Sanitize(string? value, SecretRedactor redactor, bool stripQueries)
    {
        var text = value ?? "";
        if (text.Length > RedactWindow)
        {
            text = text.Substring(0, RedactWindow);
        }

        try
        {
            var redacted = redactor.Redact(text);
            return stripQueries ? StripQueries(redacted) : redacted;
        }
        catch (RegexMatchTimeoutException)
        {
            return Withheld;
        }
    }

    /// <summary>Slack mrkdwn control characters; everything else shows as it is.</summary>
    public static string Escape(string value) =>
        (value ?? "").Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;");

    /// <summary>"https://cdn.example/app.tgz?X-Amz-Signature=..." -> "https://cdn.example/app.tgz?***": signed links are secrets too.</summary>
    public static string StripQueries(string value) =>
        UrlQuery.Replace(value ?? "", m => m.Groups["url"].Value + "?" + SecretRedactor.Mask);

    private static string Shorten(string value, int max) => Truncate(value, max);

    private static string Truncate(string value, int max)
    {
        if (value.Length <= max)
        {
            return value;
        }

        // Do not cut a surrogate pair (an emoji) in half.
        var cut = max - 1;
        if (char.IsHighSurrogate(value[cut - 1]))
        {
            cut--;
        }

        var builder = new StringBuilder(value, 0, cut, max);
        builder.Append('…');
        return builder.ToString();
    }
}
