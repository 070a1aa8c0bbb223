using System;
using System.Linq;
using System.Text.RegularExpressions;

namespace YieldVault.Ops;

public enum SmokeCheckKind
{
    /// <summary>One request (or <see cref="SmokeCheck.Repeat"/> requests), each of which must meet the expectations.</summary>
    Request,

    /// <summary>Requests until one answers <see cref="SmokeCheck.ExpectedStatus"/> (429), at most <see cref="SmokeCheck.Repeat"/> within a time limit.</summary>
    RateLimitProbe,

    /// <summary>The health endpoint under the target's health rules (its status codes, values and response kind).</summary>
    Health,
}

/// <summary>
/// One smoke check of runbook Step 8, as data: a request and what its answer must look like. The runbook's
/// own checks are <see cref="SmokeChecks.Defaults"/>; a target adds its own with the SmokeChecks setting.
/// </summary>
public sealed class SmokeCheck
{
    private static readonly Regex NamePattern = new("^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$", RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));

    private static readonly Regex JsonPathPattern = new(@"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+){0,15}$", RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));

    /// <summary>The methods a check may use. A POST is sent without a body.</summary>
    public static readonly string[] Methods = { "GET", "HEAD", "POST" };

    /// <summary>The JSON types <see cref="JsonType"/> accepts.</summary>
    public static readonly string[] JsonTypes = { "object", "array", "string", "number", "boolean", "null" };

    public string Name { get; init; } = "";

    public string Method { get; init; } = "GET";

    /// <summary>The URL path with its query, such as /api/v1/transactions?limit=1.</summary>
    public string Path { get; init; } = "/";

    public int ExpectedStatus { get; init; } = 200;

    /// <summary>A dotted path into the JSON answer (checks.database, transactions.0.id); null: the answer is not read.</summary>
    public string? JsonPath { get; init; }

    /// <summary>The value at <see cref="JsonPath"/>, compared as text (numbers by value); null: the value must only exist.</summary>
    public string? ExpectedValue { get; init; }

    /// <summary>The JSON type at <see cref="JsonPath"/> (or of the whole answer without a path): object, array, string, number, boolean, null.</summary>
    public string? JsonType { get; init; }

    /// <summary>The slowest answer allowed, in milliseconds; null: no budget.</summary>
    public int? LatencyBudgetMs { get; init; }

    /// <summary>How many requests (a burst that must all pass); for a rate-limit probe, the most it sends.</summary>
    public int Repeat { get; init; } = 1;

    public SmokeCheckKind Kind { get; init; } = SmokeCheckKind.Request;

    /// <summary>Send <c>Authorization: ApiKey &lt;key&gt;</c> (the admin API key); only the built-in write test does.</summary>
    public bool SendsApiKey { get; init; }

    /// <summary>For <see cref="SmokeCheckKind.Health"/>: the target whose health rules judge the answer.</summary>
    internal VaultTarget? HealthRulesOf { get; init; }

    public override string ToString() => $"{Name} ({Method} {Path})";

    public static bool IsValidName(string? name) => name is not null && NamePattern.IsMatch(name);

    public static bool IsValidJsonPath(string? path) => path is not null && path.Length <= 200 && JsonPathPattern.IsMatch(path);

    /// <summary>A URL path this module sends: absolute, no scheme or host ("//host" would leave the target), no spaces or control characters.</summary>
    public static bool IsValidPath(string? path) =>
        path is not null && path.Length is > 0 and <= 2000 && path[0] == '/' && !path.StartsWith("//", StringComparison.Ordinal)
        && !path.Any(c => char.IsWhiteSpace(c) || char.IsControl(c) || c == '\\' || c == '#');

    /// <summary>The first setting that cannot work, as (setting, problem), or null.</summary>
    public (string Key, string Problem)? FindProblem()
    {
        if (!IsValidName(Name))
        {
            return ("Name", $"'{Name}' is not a valid check name (letters, digits, '.', '_' and '-', 1-64 characters, starting with a letter or digit)");
        }

        if (!Methods.Contains(Method, StringComparer.Ordinal))
        {
            return ("Method", $"'{Method}' is not one of {string.Join(", ", Methods)}");
        }

        if (!IsValidPath(Path))
        {
            return ("Path", $"'{Path}' is not a URL path: it must start with a single '/' and hold no spaces, control characters, '\\' or '#'");
        }

        if (ExpectedStatus is < 100 or > 599)
        {
            return ("ExpectedStatus", $"{ExpectedStatus} is outside 100-599");
        }

        if (JsonPath is not null && !IsValidJsonPath(JsonPath))
        {
            return ("JsonPath", $"'{JsonPath}' is not a dotted path such as 'status', 'checks.database' or 'transactions.0.id'");
        }

        if (ExpectedValue is not null && JsonPath is null)
        {
            return ("ExpectedValue", "needs a JsonPath that says where the value is");
        }

        if (JsonType is not null && !JsonTypes.Contains(JsonType, StringComparer.Ordinal))
        {
            return ("JsonType", $"'{JsonType}' is not one of {string.Join(", ", JsonTypes)}");
        }

        if (Method == "HEAD" && (JsonPath is not null || JsonType is not null))
        {
            return ("Method", "a HEAD answer has no body to read; use GET with JsonPath or JsonType");
        }

        if (LatencyBudgetMs is < 1 or > 600_000)
        {
            return ("LatencyBudgetMs", $"{LatencyBudgetMs} is outside 1-600000");
        }

        var maxRepeat = Kind == SmokeCheckKind.RateLimitProbe ? SmokeChecks.RateLimitProbeMaxRequests : SmokeChecks.MaxRepeat;
        if (Repeat < 1 || Repeat > maxRepeat)
        {
            return ("Repeat", $"{Repeat} is outside 1-{maxRepeat}");
        }

        return null;
    }
}
