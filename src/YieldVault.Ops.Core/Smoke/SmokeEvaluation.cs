using System;
using System.Globalization;
using Newtonsoft.Json.Linq;

namespace YieldVault.Ops.Smoke;

/// <summary>Whether one answer meets a check, and why not.</summary>
public readonly struct SmokeVerdict
{
    public SmokeVerdict(bool passed, string detail, bool maintenance = false)
    {
        Passed = passed;
        Detail = detail;
        Maintenance = maintenance;
    }

    public bool Passed { get; }

    public string Detail { get; }

    /// <summary>The backend refused because of its maintenance flag (503 with "maintenance": true).</summary>
    public bool Maintenance { get; }
}

/// <summary>Checks one answer against a <see cref="SmokeCheck"/>: status, then the JSON at the path, then the latency budget.</summary>
public static class SmokeEvaluation
{
    public static SmokeVerdict Evaluate(SmokeCheck check, SmokeResponse response)
    {
        if (response.Error is { } error || response.StatusCode is not { } status)
        {
            return new SmokeVerdict(false, response.Error ?? "no answer");
        }

        if (check.Kind == SmokeCheckKind.Health && check.HealthRulesOf is { } target)
        {
            return EvaluateHealth(check, target, response, status);
        }

        if (status != check.ExpectedStatus)
        {
            return StatusProblem(check, response, status);
        }

        string? summary = null;
        if (check.JsonPath is not null || check.JsonType is not null)
        {
            if (!response.BodyIsJson || response.Json is null)
            {
                return new SmokeVerdict(false, $"answered {status} but not with JSON");
            }

            var token = response.Json;
            var where = "the answer";
            if (check.JsonPath is { } path)
            {
                token = Select(response.Json, path);
                where = $"'{path}'";
                if (token is null)
                {
                    return new SmokeVerdict(false, $"the answer has no {where}");
                }
            }

            var type = TypeName(token);
            if (check.JsonType is { } expectedType && type != expectedType)
            {
                return new SmokeVerdict(false, $"{Capitalized(where)} is {Article(type)} {type}, expected {Article(expectedType)} {expectedType}");
            }

            if (check.ExpectedValue is { } expected && !Matches(token, expected))
            {
                return new SmokeVerdict(false, $"{Capitalized(where)} is {Show(token)}, expected '{expected}'");
            }

            summary = check.JsonPath is null ? $"JSON {type}" : $"{check.JsonPath} = {Show(token)}";
        }

        if (check.LatencyBudgetMs is { } budget && response.LatencyMs > budget)
        {
            return new SmokeVerdict(false, string.Format(CultureInfo.InvariantCulture, "answered {0} in {1:0} ms, over the budget of {2} ms", status, response.LatencyMs, budget));
        }

        return new SmokeVerdict(true, summary is null ? $"{status}" : $"{status}, {summary}");
    }

    /// <summary>The health check: the target's health rules decide, in the same words as the other checks.</summary>
    private static SmokeVerdict EvaluateHealth(SmokeCheck check, VaultTarget target, SmokeResponse response, int status)
    {
        var verdict = Probes.HealthRules.EvaluateHealth(target, status, response.Body, response.BodyIsJson ? response.Json : null);
        if (!verdict.Passed)
        {
            return Probes.HealthRules.IsHealthyStatusCode(target, status)
                ? new SmokeVerdict(false, $"answered {status}, but {verdict.Problem}")
                : StatusProblem(check, response, status);
        }

        string summary;
        if (response.BodyIsJson && response.Json is { } json && Select(json, target.HealthJsonPath) is { } token && target.HealthResponse != HealthResponseKind.StatusCode)
        {
            summary = $"{status}, {target.HealthJsonPath} = {Show(token)}";
        }
        else
        {
            summary = verdict.Status is { } text ? $"{status}, '{text}'" : $"{status}";
        }

        if (check.LatencyBudgetMs is { } budget && response.LatencyMs > budget)
        {
            return new SmokeVerdict(false, string.Format(CultureInfo.InvariantCulture, "answered {0} in {1:0} ms, over the budget of {2} ms", status, response.LatencyMs, budget));
        }

        return new SmokeVerdict(true, summary);
    }

    /// <summary>Follows a dotted path: names select object members, numbers select list items.</summary>
    public static JToken? Select(JToken root, string path)
    {
        JToken? current = root;
        foreach (var segment in path.Split('.'))
        {
            current = current switch
            {
                JObject obj => obj.TryGetValue(segment, StringComparison.Ordinal, out var member) ? member : null,
                JArray list when int.TryParse(segment, NumberStyles.None, CultureInfo.InvariantCulture, out var index) && index < list.Count => list[index],
                _ => null,
            };
            if (current is null)
            {
                return null;
            }
        }

        return current;
    }

    /// <summary>Compares as text; numbers compare by value (50 matches 50.0), booleans and null ignore case.</summary>
    public static bool Matches(JToken token, string expected)
    {
        switch (token.Type)
        {
            case JTokenType.String:
                return string.Equals((string?)token, expected, StringComparison.Ordinal);
            case JTokenType.Integer or JTokenType.Float:
                return decimal.TryParse(expected, NumberStyles.Float, CultureInfo.InvariantCulture, out var number)
                    && TryDecimal(token, out var actual) && actual == number;
            case JTokenType.Boolean:
                return string.Equals((bool)token ? "true" : "false", expected, StringComparison.OrdinalIgnoreCase);
            case JTokenType.Null:
                return string.Equals("null", expected, StringComparison.OrdinalIgnoreCase);
            default:
                return false;
        }
    }

    public static string TypeName(JToken token) => token.Type switch
    {
        JTokenType.Object => "object",
        JTokenType.Array => "array",
        JTokenType.String or JTokenType.Date or JTokenType.Guid or JTokenType.Uri or JTokenType.TimeSpan => "string",
        JTokenType.Integer or JTokenType.Float => "number",
        JTokenType.Boolean => "boolean",
        JTokenType.Null or JTokenType.Undefined => "null",
        _ => token.Type.ToString().ToLowerInvariant(),
    };

    private static SmokeVerdict StatusProblem(SmokeCheck check, SmokeResponse response, int status)
    {
        var maintenance = status == 503 && response.Json is JObject body && body["maintenance"]?.Type == JTokenType.Boolean && (bool)body["maintenance"]!;
        var text = $"answered {status}, expected {check.ExpectedStatus}";
        if (maintenance)
        {
            text += ": the backend is in maintenance mode (MAINTENANCE_MODE)";
        }
        else if (status == 429)
        {
            text += response.RetryAfter is { } wait
                ? string.Format(CultureInfo.InvariantCulture, ": refused by the rate limiter (Retry-After {0:0} s)", wait.TotalSeconds)
                : ": refused by the rate limiter";
        }
        else if (status is >= 300 and < 400)
        {
            text += " (a redirect; redirects are not followed)";
        }
        else if (response.Json is JObject problem && problem["error"] is JValue { Type: JTokenType.String } message)
        {
            text += ": " + Shorten((string)message!, 120);
        }

        return new SmokeVerdict(false, text, maintenance);
    }

    private static bool TryDecimal(JToken token, out decimal value)
    {
        try
        {
            value = token.Value<decimal>();
            return true;
        }
        catch (OverflowException)
        {
            value = 0;
            return false;
        }
    }

    /// <summary>A value for a message: text quoted and cut, lists and objects by size.</summary>
    private static string Show(JToken token) => token switch
    {
        JArray list => $"a list of {list.Count}",
        JObject obj => $"an object with {obj.Count} member(s)",
        JValue { Type: JTokenType.String } text => "'" + Shorten((string)text!, 60) + "'",
        JValue { Type: JTokenType.Null } => "null",
        JValue { Type: JTokenType.Boolean } flag => (bool)flag ? "true" : "false",
        JValue value => Convert.ToString(value.Value, CultureInfo.InvariantCulture) ?? "",
        _ => token.Type.ToString(),
    };

    private static string Shorten(string text, int max)
    {
        var oneLine = text.Replace('\r', ' ').Replace('\n', ' ');
        return oneLine.Length <= max ? oneLine : oneLine.Substring(0, max - 3) + "...";
    }

    private static string Article(string type) => type is "object" or "array" ? "an" : "a";

    private static string Capitalized(string text) => text.Length == 0 ? text : char.ToUpperInvariant(text[0]) + text.Substring(1);
}
