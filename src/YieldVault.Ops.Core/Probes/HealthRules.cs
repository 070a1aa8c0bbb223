using System;
using System.Linq;
using Newtonsoft.Json.Linq;
using YieldVault.Ops.Smoke;

namespace YieldVault.Ops.Probes;

/// <summary>What one health or readiness answer means under a target's health rules.</summary>
public readonly struct HealthVerdict
{
    public HealthVerdict(bool passed, string? status, string? problem)
    {
        Passed = passed;
        Status = status;
        Problem = problem;
    }

    public bool Passed { get; }

    /// <summary>What the answer said: the status field, the plain text, or null.</summary>
    public string? Status { get; }

    /// <summary>Why the answer does not count, for messages; null when it counts (or says so itself).</summary>
    public string? Problem { get; }
}

/// <summary>
/// A target's health rules (HealthyStatusCodes, HealthyValues, HealthJsonPath, HealthResponse) applied to one answer.
/// The defaults accept the runbook backend's 200 {"status":"healthy"} exactly as before, and also what other Node
/// backends answer: "ok", "up"/"UP", "pass".
/// </summary>
public static class HealthRules
{
    /// <summary>The most of a plain-text answer that is shown.</summary>
    private const int ShownText = 64;

    public static bool IsHealthyStatusCode(VaultTarget target, int? statusCode) =>
        statusCode is { } code && target.HealthyStatusCodes.Contains(code);

    public static bool IsHealthyValue(VaultTarget target, string? value) =>
        value is not null && target.HealthyValues.Any(v => string.Equals(v.Trim(), value.Trim(), StringComparison.OrdinalIgnoreCase));

    /// <summary>The health endpoint's answer: the status code, then (as the target says) the JSON status, the text, or nothing more.</summary>
    public static HealthVerdict EvaluateHealth(VaultTarget target, int? statusCode, string body, JToken? json)
    {
        if (statusCode is null)
        {
            return new HealthVerdict(false, null, "no answer");
        }

        var status = StatusOf(target, body, json);
        if (!IsHealthyStatusCode(target, statusCode))
        {
            return new HealthVerdict(false, status, $"status code {statusCode} is not one of {string.Join(", ", target.HealthyStatusCodes)}");
        }

        switch (target.HealthResponse)
        {
            case HealthResponseKind.StatusCode:
                return new HealthVerdict(true, status, null);
            case HealthResponseKind.Text when json is null:
                var text = body.Trim();
                return text.Length == 0 || IsHealthyValue(target, text)
                    ? new HealthVerdict(true, status, null)
                    : new HealthVerdict(false, status, $"the answer '{status}' is not one of {string.Join(", ", target.HealthyValues)}");
        }

        if (json is null)
        {
            return new HealthVerdict(false, status,
                $"answered {statusCode} but not with JSON (set the target's HealthResponse to Text or StatusCode for a plain answer)");
        }

        var token = SmokeEvaluation.Select(json, target.HealthJsonPath);
        if (token is null)
        {
            return new HealthVerdict(false, status, $"the JSON answer has no '{target.HealthJsonPath}' (the target's HealthJsonPath)");
        }

        if (token.Type == JTokenType.Boolean)
        {
            return (bool)token ? new HealthVerdict(true, status, null) : new HealthVerdict(false, status, $"'{target.HealthJsonPath}' is false");
        }

        if (token.Type is JTokenType.Object or JTokenType.Array)
        {
            // A value of another type (a health library's object where a string belongs) is an unhealthy answer, never an exception.
            return new HealthVerdict(false, status, $"'{target.HealthJsonPath}' is a JSON {token.Type}, not a string");
        }

        return token.Type == JTokenType.String && IsHealthyValue(target, (string?)token)
            ? new HealthVerdict(true, status, null)
            : new HealthVerdict(false, status, $"'{target.HealthJsonPath}' is '{status}', not one of {string.Join(", ", target.HealthyValues)}");
    }

    /// <summary>
    /// The readiness endpoint's answer: one of the healthy status codes, and then, when the JSON says, its boolean
    /// "ready" (the runbook's {"ready": true}) or else its status field under the health rules. A plain answer counts by its status code.
    /// </summary>
    public static HealthVerdict EvaluateReady(VaultTarget target, int? statusCode, JToken? json)
    {
        if (statusCode is null)
        {
            return new HealthVerdict(false, null, "no answer");
        }

        if (!IsHealthyStatusCode(target, statusCode))
        {
            return new HealthVerdict(false, null, $"status code {statusCode}");
        }

        if (json is JObject obj && obj["ready"] is { Type: JTokenType.Boolean } ready)
        {
            return (bool)ready ? new HealthVerdict(true, "ready", null) : new HealthVerdict(false, "not ready", "\"ready\" is false");
        }

        if (json is not null && target.HealthResponse != HealthResponseKind.StatusCode && SmokeEvaluation.Select(json, target.HealthJsonPath) is { Type: JTokenType.String } status)
        {
            var text = (string?)status;
            return IsHealthyValue(target, text) ? new HealthVerdict(true, text, null) : new HealthVerdict(false, text, $"'{target.HealthJsonPath}' is '{text}'");
        }

        return new HealthVerdict(true, null, null);
    }

    /// <summary>The status the answer shows: the JSON field at HealthJsonPath as text, or the start of a plain answer.</summary>
    public static string? StatusOf(VaultTarget target, string body, JToken? json)
    {
        if (json is not null)
        {
            return SmokeEvaluation.Select(json, target.HealthJsonPath) switch
            {
                null => null,
                { Type: JTokenType.String } s => (string?)s,
                { Type: JTokenType.Boolean } b => (bool)b ? "true" : "false",
                { Type: JTokenType.Object or JTokenType.Array } => null,
                var other => other.ToString(),
            };
        }

        var text = body.Trim();
        if (text.Length == 0 || target.HealthResponse == HealthResponseKind.Json)
        {
            return null;
        }

        text = new string(text.Select(c => char.IsControl(c) ? ' ' : c).ToArray());
        return text.Length > ShownText ? text.Substring(0, ShownText) + "..." : text;
    }
}
