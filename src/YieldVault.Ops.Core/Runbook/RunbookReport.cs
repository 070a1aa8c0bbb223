using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Net;
using System.Text;

namespace YieldVault.Ops.Runbook;

/// <summary>One line of the runbook's Verification Checklist, ticked from what was actually checked.</summary>
public sealed class ChecklistLine
{
    public string Item { get; init; } = "";

    /// <summary>True: checked and passed; false: checked and failed; null: not checked in this run.</summary>
    public bool? Passed { get; init; }

    public string Evidence { get; init; } = "";
}

/// <summary>One row of the runbook's Metrics to Track table.</summary>
public sealed class MetricRow
{
    public string Metric { get; init; } = "";

    public string Target { get; init; } = "";

    public string Actual { get; init; } = "";

    public bool? Met { get; init; }
}

/// <summary>
/// Turns a deployment or a drill into the runbook's own tables: the Verification Checklist (each line ticked
/// only from a measurement, with the evidence beside it) and Metrics to Track (target vs actual per phase).
/// </summary>
public static class RunbookReport
{
    public static IReadOnlyList<ChecklistLine> Checklist(VaultDeploymentResult deployment, VaultDrillResult? drill = null)
    {
        bool? Step(int number) => deployment.Steps.FirstOrDefault(s => s.Number == number)?.Outcome switch
        {
            StepOutcome.Succeeded => true,
            StepOutcome.Failed => false,
            _ => null,
        };

        VaultCheckOutcome? Find(IEnumerable<VaultCheckOutcome> list, string name) =>
            list.FirstOrDefault(c => string.Equals(c.Name, name, StringComparison.OrdinalIgnoreCase));

        ChecklistLine Line(string item, bool? passed, string evidence) => new() { Item = item, Passed = passed, Evidence = evidence };

        ChecklistLine FromCheck(string item, IEnumerable<VaultCheckOutcome>? list, string name, bool? fallback, string fallbackEvidence)
        {
            var check = list is null ? null : Find(list, name);
            return check is null ? Line(item, fallback, fallbackEvidence) : Line(item, check.Passed, check.Detail ?? name);
        }

        var verify = drill?.VerifyAfterDeploy;
        var smoke = drill?.Smoke;
        var verified = Step(8);
        var smoked = Step(9);
        var verifyDetail = deployment.Steps.FirstOrDefault(s => s.Number == 8)?.Detail ?? "";
        var smokeDetail = deployment.Steps.FirstOrDefault(s => s.Number == 9)?.Detail ?? "";
        var version = deployment.Status == DeploymentStatus.Succeeded ? (bool?)true : verified == false && deployment.ErrorId == ErrorIds.VersionMismatch ? false : verified;
        return new[]
        {
            FromCheck("Service is running", verify, "Service", verified, verifyDetail),
            FromCheck("Health check passes", verify, "Health", verified, verifyDetail),
            FromCheck("Readiness check passes", verify, "Readiness", verified, verifyDetail),
            FromCheck("Correct version deployed", verify, "Version", version, $"{deployment.VersionAfter} ({ShortCommit(deployment.CommitAfter)})"),
            FromCheck("No errors in logs", verify, "Logs", verified, verifyDetail),
            FromCheck("Database connectivity works", smoke, "DatabaseRead", smoked, smokeDetail),
            FromCheck("Stellar RPC connectivity works", smoke, "StellarRpc", smoked, smokeDetail),
            FromCheck("Critical endpoints respond", smoke, "VaultSummary", smoked, smokeDetail),
            FromCheck("Rate limiting works", smoke, "RateLimitBurst", smoked, smokeDetail),
            FromCheck("External access works", smoke, "External", null, "no public URL was checked"),
            FromCheck("Monitoring shows healthy state", verify, "Monitoring", verified, $"prober: {deployment.FailedProbes} of {deployment.Probes} probes failed"),
            Line("Stakeholders notified", drill?.Notified, drill?.Notified is null ? "no webhook given" : drill.Notified == true ? "Slack webhook answered 2xx" : "the notification failed"),
            Line("Deployment documented", drill is null ? null : drill.Recorded, drill is null ? $"journal {deployment.JournalPath}" : drill.Recorded ? "deployments.log and history written" : "records could not be written"),
        };
    }

    public static IReadOnlyList<MetricRow> Metrics(VaultDeploymentResult deployment)
    {
        TimeSpan Sum(params int[] numbers) => TimeSpan.FromTicks(deployment.Steps.Where(s => numbers.Contains(s.Number)).Sum(s => s.Duration.Ticks));
        MetricRow Time(string name, TimeSpan target, TimeSpan actual) => new()
        {
            Metric = name, Target = Minutes(target), Actual = Minutes(actual), Met = actual <= target,
        };

        var errors = deployment.Steps.Count(s => s.Outcome == StepOutcome.Failed);
        var rollback = deployment.Status != DeploymentStatus.Succeeded;
        return new[]
        {
            Time("Stop Service", TimeSpan.FromMinutes(2), Sum(6)),
            Time("Deploy Code", TimeSpan.FromMinutes(10), Sum(4, 5)),
            Time("Start Service", TimeSpan.FromMinutes(2), Sum(7)),
            Time("Verification", TimeSpan.FromMinutes(5), Sum(8, 9)),
            Time("Total RTO", VaultDeploymentResult.RtoTarget, deployment.Duration),
            new MetricRow { Metric = "Errors During Deploy", Target = "0", Actual = errors.ToString(CultureInfo.InvariantCulture), Met = errors == 0 },
            new MetricRow { Metric = "Rollback Required", Target = "No", Actual = rollback ? "Yes (" + deployment.Status + ")" : "No", Met = !rollback },
            new MetricRow { Metric = "Downtime (measured)", Target = "-", Actual = string.Format(CultureInfo.InvariantCulture, "{0:0.###} s ({1} of {2} probes failed)", deployment.DowntimeMs / 1000, deployment.FailedProbes, deployment.Probes), Met = null },
        };
    }

    /// <summary>Writes the report to <paramref name="path"/> on this machine: HTML for .html or .htm, Markdown otherwise; redacted.</summary>
    public static void Write(string path, VaultDeploymentResult deployment, VaultDrillResult? drill, SecretRedactor redactor)
    {
        var html = path.EndsWith(".html", StringComparison.OrdinalIgnoreCase) || path.EndsWith(".htm", StringComparison.OrdinalIgnoreCase);
        System.IO.File.WriteAllText(path, redactor.Redact(html ? ToHtml(deployment, drill) : ToMarkdown(deployment, drill)));
    }

    public static string ToMarkdown(VaultDeploymentResult deployment, VaultDrillResult? drill = null)
    {
        var text = new StringBuilder();
        var target = deployment.Target;
        text.AppendLine(drill is null ? "# Backend redeployment report" : "# Backend redeployment runbook test (drill)");
        text.AppendLine();
        text.AppendLine($"- Target: {target?.Name} ({target?.Environment}, {target?.DisplayName})");
        if (drill is not null)
        {
            text.AppendLine($"- Last Tested: {drill.TestedAt.UtcDateTime.ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture)} — {(drill.Passed ? "passed" : "FAILED")}");
            text.AppendLine($"- Measured RTO: {Minutes(drill.Rto ?? TimeSpan.Zero)} (target 30 min); rollback {Minutes(drill.Rollback?.Duration ?? TimeSpan.Zero)}");
        }

        text.AppendLine($"- {Capitalize(deployment.Kind)} of {deployment.Source}: {deployment.Status}{(deployment.ErrorId is null ? "" : " (" + deployment.ErrorId + ")")}");
        text.AppendLine($"- Version: {deployment.VersionBefore} -> {deployment.VersionAfter} ({ShortCommit(deployment.CommitAfter)})");
        text.AppendLine($"- Started: {deployment.StartedAt.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss 'UTC'", CultureInfo.InvariantCulture)}; incident: {deployment.Incident ?? "-"}; run {deployment.RunId}");
        text.AppendLine($"- Journal: {deployment.JournalPath}");
        if (deployment.Error is not null)
        {
            text.AppendLine($"- Error: {deployment.Error.Replace("\n", " ")}");
        }

        text.AppendLine();
        text.AppendLine("## Verification Checklist");
        text.AppendLine();
        foreach (var line in Checklist(deployment, drill))
        {
            var box = line.Passed switch { true => "[x]", false => "[ ] FAILED:", null => "[ ] not checked:" };
            text.AppendLine($"- {box} {line.Item} — {line.Evidence.Replace("\n", " ")}");
        }

        text.AppendLine();
        text.AppendLine("## Metrics to Track");
        text.AppendLine();
        text.AppendLine("| Metric | Target | Actual | Status |");
        text.AppendLine("|---|---|---|---|");
        foreach (var row in Metrics(deployment))
        {
            text.AppendLine($"| {row.Metric} | {row.Target} | {row.Actual} | {(row.Met switch { true => "✓", false => "✗", null => "-" })} |");
        }

        text.AppendLine();
        text.AppendLine("## Steps");
        text.AppendLine();
        text.AppendLine("| # | Step | Runbook | Outcome | Duration | Detail |");
        text.AppendLine("|---|---|---|---|---|---|");
        foreach (var step in deployment.Steps)
        {
            text.AppendLine($"| {step.Number} | {step.Name} | {step.Runbook} | {step.Outcome} | {step.Duration.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture)} s | {(step.Detail ?? "").Replace("|", "\\|").Replace("\n", " ")} |");
        }

        if (drill is not null)
        {
            Section(text, "Pre-deployment checklist", drill.Readiness);
            Section(text, "After the deployment", drill.VerifyAfterDeploy);
            Section(text, "Smoke tests", drill.Smoke);
            if (drill.Rollback is { } rollback)
            {
                text.AppendLine();
                text.AppendLine($"## Rollback: {rollback.Status} in {rollback.Duration.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture)} s, downtime {(rollback.DowntimeMs / 1000).ToString("0.###", CultureInfo.InvariantCulture)} s");
            }

            Section(text, "After the rollback", drill.VerifyAfterRollback);
        }

        return text.ToString();
    }

    public static string ToHtml(VaultDeploymentResult deployment, VaultDrillResult? drill = null)
    {
        // A small, dependency-free rendering of the same Markdown (headings, lists, tables).
        var html = new StringBuilder("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>YieldVault runbook report</title>\n" +
            "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}table{border-collapse:collapse}td,th{border:1px solid #999;padding:.2em .5em}.fail{color:#b00}</style></head><body>\n");
        var inList = false;
        var inTable = false;
        foreach (var raw in ToMarkdown(deployment, drill).Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            if (inList && !line.StartsWith("- ", StringComparison.Ordinal))
            {
                html.Append("</ul>\n");
                inList = false;
            }

            if (inTable && !line.StartsWith("|", StringComparison.Ordinal))
            {
                html.Append("</table>\n");
                inTable = false;
            }

            if (line.StartsWith("# ", StringComparison.Ordinal))
            {
                html.Append("<h1>").Append(WebUtility.HtmlEncode(line.Substring(2))).Append("</h1>\n");
            }
            else if (line.StartsWith("## ", StringComparison.Ordinal))
            {
                html.Append("<h2>").Append(WebUtility.HtmlEncode(line.Substring(3))).Append("</h2>\n");
            }
            else if (line.StartsWith("- ", StringComparison.Ordinal))
            {
                if (!inList)
                {
                    html.Append("<ul>\n");
                    inList = true;
                }

                var item = line.Substring(2);
                var cls = item.Contains("FAILED") ? " class=\"fail\"" : "";
                item = item.Replace("[x]", "\u2611").Replace("[ ]", "\u2610");
                html.Append("<li").Append(cls).Append('>').Append(WebUtility.HtmlEncode(item)).Append("</li>\n");
            }
            else if (line.StartsWith("|", StringComparison.Ordinal))
            {
                if (line.StartsWith("|---", StringComparison.Ordinal))
                {
                    continue;
                }

                var cells = line.Trim('|').Split('|').Select(c => WebUtility.HtmlEncode(c.Trim()));
                var tag = inTable ? "td" : "th";
                if (!inTable)
                {
                    html.Append("<table>\n");
                    inTable = true;
                }

                html.Append("<tr>").Append(string.Concat(cells.Select(c => $"<{tag}>{c}</{tag}>"))).Append("</tr>\n");
            }
        }

        if (inList)
        {
            html.Append("</ul>\n");
        }

        if (inTable)
        {
            html.Append("</table>\n");
        }

        return html.Append("</body></html>\n").ToString();
    }

    private static void Section(StringBuilder text, string title, IEnumerable<VaultCheckOutcome> checks)
    {
        var list = checks.ToList();
        if (list.Count == 0)
        {
            return;
        }

        text.AppendLine();
        text.AppendLine($"## {title}");
        text.AppendLine();
        foreach (var check in list)
        {
            text.AppendLine($"- {(check.Passed ? "[x]" : "[ ] FAILED:")} {check.Name} — {(check.Detail ?? "").Replace("\n", " ")}");
        }
    }

    private static string Minutes(TimeSpan time) =>
        time.TotalMinutes >= 1
            ? time.TotalMinutes.ToString("0.0", CultureInfo.InvariantCulture) + " min"
            : time.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture) + " s";

    private static string ShortCommit(string? commit) => commit is { Length: > 12 } ? commit.Substring(0, 12) : commit ?? "-";

    private static string Capitalize(string text) => text.Length == 0 ? text : char.ToUpperInvariant(text[0]) + text.Substring(1);
}
