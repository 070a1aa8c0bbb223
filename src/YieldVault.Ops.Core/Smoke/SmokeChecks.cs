using System;
using System.Collections;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;

namespace YieldVault.Ops;

/// <summary>The runbook's Step 8 checks, and the SmokeChecks setting of a target that adds its own.</summary>
public static class SmokeChecks
{
    public const string VaultSummary = "VaultSummary";
    public const string VaultMetrics = "VaultMetrics";
    public const string Health = "Health";
    public const string RateLimitBurst = "RateLimitBurst";
    public const string DatabaseRead = "DatabaseRead";
    public const string DatabaseWrite = "DatabaseWrite";
    public const string StellarRpc = "StellarRpc";
    public const string RateLimitEnforced = "RateLimitEnforced";

    /// <summary>The most requests a target's check may repeat.</summary>
    public const int MaxRepeat = 20;

    /// <summary>The rate-limit probe's bounds: at most this many requests, within <see cref="RateLimitProbeWindow"/>.</summary>
    public const int RateLimitProbeMaxRequests = 200;

    public static readonly TimeSpan RateLimitProbeWindow = TimeSpan.FromSeconds(15);

    /// <summary>The most checks a target may add.</summary>
    public const int MaxTargetChecks = 50;

    /// <summary>The keys of one check in a targets file.</summary>
    public static IReadOnlyList<string> KnownKeys { get; } = new[]
    {
        "Name", "Method", "Path", "ExpectedStatus", "JsonPath", "ExpectedValue", "JsonType", "LatencyBudgetMs", "Repeat",
    };

    /// <summary>The names of the built-in checks; a target's own check may not reuse them.</summary>
    public static IReadOnlyList<string> ReservedNames { get; } = new[]
    {
        VaultSummary, VaultMetrics, Health, RateLimitBurst, DatabaseRead, DatabaseWrite, StellarRpc, RateLimitEnforced,
    };

    /// <summary>
    /// Runbook 8.1-8.3 in its order: summary, metrics, health, the 5-request burst that must not be refused,
    /// the database read, the write test (optional), the Stellar RPC integration.
    /// </summary>
    public static IReadOnlyList<SmokeCheck> Defaults(VaultTarget target, bool includeWrite)
    {
        // The health check follows the target's health rules; JsonPath, ExpectedValue and ExpectedStatus show the first of them.
        var json = target.HealthResponse == HealthResponseKind.Json;
        var health = new SmokeCheck
        {
            Name = Health, Path = target.HealthPath, Kind = SmokeCheckKind.Health, HealthRulesOf = target, ExpectedStatus = target.HealthyStatusCodes[0],
            JsonPath = json ? target.HealthJsonPath : null, ExpectedValue = json ? target.HealthyValues[0] : null, LatencyBudgetMs = 2000,
        };
        if (target.SmokePreset == SmokePreset.None)
        {
            // Not the runbook's backend: its YieldVault API checks would fail on any other; the target's own checks follow.
            return includeWrite ? new[] { health, WriteTest() } : new[] { health };
        }

        var list = new List<SmokeCheck>
        {
            new() { Name = VaultSummary, Path = "/api/v1/vault/summary", JsonType = "object", LatencyBudgetMs = 2000 },
            new() { Name = VaultMetrics, Path = "/api/v1/vault/metrics", JsonType = "object", LatencyBudgetMs = 2000 },
            health,
            new() { Name = RateLimitBurst, Path = "/api/v1/vault/summary", Repeat = 5, LatencyBudgetMs = 2000 },
            new() { Name = DatabaseRead, Path = "/api/v1/transactions?limit=1", JsonPath = "transactions", JsonType = "array", LatencyBudgetMs = 2000 },
        };
        if (includeWrite)
        {
            list.Add(WriteTest());
        }

        list.Add(new SmokeCheck { Name = StellarRpc, Path = "/api/v1/vault/total-assets", JsonPath = "totalAssets", LatencyBudgetMs = 5000 });
        return list;
    }

    private static SmokeCheck WriteTest() => new()
    {
        Name = DatabaseWrite, Method = "POST", Path = "/admin/test-write", ExpectedStatus = 201, JsonPath = "ok", ExpectedValue = "true",
        LatencyBudgetMs = 2000, SendsApiKey = true,
    };

    /// <summary>The probe that the rate limiter works: a burst until the backend answers 429 (always run last).</summary>
    public static SmokeCheck RateLimitProbe { get; } = new()
    {
        Name = RateLimitEnforced, Path = "/api/v1/vault/summary", ExpectedStatus = 429, Repeat = RateLimitProbeMaxRequests, Kind = SmokeCheckKind.RateLimitProbe,
    };

    /// <summary>What one run checks, in order: the defaults, the target's own checks, and the rate-limit probe last.</summary>
    public static IReadOnlyList<SmokeCheck> For(VaultTarget target, bool includeWrite, bool rateLimitProbe)
    {
        var list = Defaults(target, includeWrite).Concat(target.SmokeChecks).ToList();
        if (rateLimitProbe)
        {
            list.Add(RateLimitProbe);
        }

        return list;
    }

    /// <summary>
    /// Reads the SmokeChecks setting: one hashtable or a list of them, each with <see cref="KnownKeys"/>.
    /// On failure <paramref name="problem"/> names the check and the key.
    /// </summary>
    public static bool TryParse(object? value, out IReadOnlyList<SmokeCheck> checks, out string? problem)
    {
        checks = Array.Empty<SmokeCheck>();
        problem = null;
        if (value is null)
        {
            return true;
        }

        IEnumerable? items = value switch
        {
            IDictionary single => new object[] { single },
            string => null,
            IEnumerable many => many,
            _ => null,
        };
        if (items is null)
        {
            problem = $"expected a list of hashtables such as @( @{{ Name = 'fees'; Path = '/api/v1/vault/fees' }} ) but found {Describe(value)}";
            return false;
        }

        var list = new List<SmokeCheck>();
        var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var index = 0;
        foreach (var item in items)
        {
            index++;
            if (item is not IDictionary settings)
            {
                problem = $"check #{index} is {Describe(item)}, not a hashtable";
                return false;
            }

            if (!TryParseOne(settings, index, out var check, out problem))
            {
                return false;
            }

            if (ReservedNames.Contains(check!.Name, StringComparer.OrdinalIgnoreCase))
            {
                problem = $"check #{index} ('{check.Name}'), key 'Name': '{check.Name}' is the name of a built-in check ({string.Join(", ", ReservedNames)}); choose another";
                return false;
            }

            if (!names.Add(check.Name))
            {
                problem = $"check #{index} ('{check.Name}'), key 'Name': '{check.Name}' is used by more than one check";
                return false;
            }

            list.Add(check);
        }

        if (list.Count > MaxTargetChecks)
        {
            problem = $"{list.Count} checks; a target may have at most {MaxTargetChecks}";
            return false;
        }

        checks = list;
        return true;
    }

    private static bool TryParseOne(IDictionary settings, int index, out SmokeCheck? check, out string? problem)
    {
        check = null;
        problem = null;
        var values = new Dictionary<string, object?>(StringComparer.OrdinalIgnoreCase);
        foreach (DictionaryEntry entry in settings)
        {
            values[Convert.ToString(entry.Key, CultureInfo.InvariantCulture) ?? ""] = entry.Value;
        }

        var label = values.TryGetValue("Name", out var n) && n is string s && s.Length > 0 ? $"check #{index} ('{s}')" : $"check #{index}";
        string Fail(string key, string text) => $"{label}, key '{key}': {text}";

        foreach (var key in values.Keys)
        {
            if (!KnownKeys.Contains(key, StringComparer.OrdinalIgnoreCase))
            {
                problem = Fail(key, "unknown key; valid keys are " + string.Join(", ", KnownKeys));
                return false;
            }
        }

        string? error = null;

        string? Text(string key)
        {
            if (error is not null || !values.TryGetValue(key, out var v) || v is null)
            {
                return null;
            }

            if (v is string text)
            {
                return text;
            }

            error = Fail(key, $"expected text but found {Describe(v)}");
            return null;
        }

        int? Number(string key)
        {
            if (error is not null || !values.TryGetValue(key, out var v) || v is null)
            {
                return null;
            }

            switch (v)
            {
                case int i:
                    return i;
                case long l when l is >= int.MinValue and <= int.MaxValue:
                    return (int)l;
                case string text when int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var parsed):
                    return parsed;
                default:
                    error = Fail(key, $"expected a whole number but found {Describe(v)}");
                    return null;
            }
        }

        // An expected value may be written as text, a number or $true/$false; it is compared as JSON text.
        string? Expected()
        {
            if (error is not null || !values.TryGetValue("ExpectedValue", out var v) || v is null)
            {
                return null;
            }

            switch (v)
            {
                case string text:
                    return text;
                case bool b:
                    return b ? "true" : "false";
                case int or long or double or decimal:
                    return Convert.ToString(v, CultureInfo.InvariantCulture);
                default:
                    error = Fail("ExpectedValue", $"expected text, a number or $true/$false but found {Describe(v)}");
                    return null;
            }
        }

        var name = Text("Name");
        if (error is null && string.IsNullOrEmpty(name))
        {
            error = Fail("Name", "every check needs a Name");
        }

        var path = Text("Path");
        if (error is null && path is null)
        {
            error = Fail("Path", "every check needs a Path such as '/api/v1/vault/fees'");
        }

        var candidate = new SmokeCheck
        {
            Name = name ?? "",
            Method = Text("Method")?.ToUpperInvariant() ?? "GET",
            Path = path ?? "/",
            ExpectedStatus = Number("ExpectedStatus") ?? 200,
            JsonPath = Text("JsonPath"),
            ExpectedValue = Expected(),
            JsonType = Text("JsonType")?.ToLowerInvariant(),
            LatencyBudgetMs = Number("LatencyBudgetMs"),
            Repeat = Number("Repeat") ?? 1,
        };
        if (error is not null)
        {
            problem = error;
            return false;
        }

        if (candidate.FindProblem() is { } found)
        {
            problem = Fail(found.Key, found.Problem);
            return false;
        }

        check = candidate;
        return true;
    }

    private static string Describe(object? value) => value switch
    {
        null => "nothing",
        string s => $"text '{s}'",
        IDictionary => "a hashtable",
        IEnumerable => "a list",
        _ => $"a {value.GetType().Name} ({Convert.ToString(value, CultureInfo.InvariantCulture)})",
    };
}
