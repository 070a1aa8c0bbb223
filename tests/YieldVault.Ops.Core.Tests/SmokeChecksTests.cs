using System;
using System.Collections;
using System.Linq;
using YieldVault.Ops;

namespace YieldVault.Ops.Core.Tests;

public class SmokeChecksTests
{
    private static VaultTarget Build(object? smokeChecks) =>
        TargetBuilder.Build(new Hashtable { ["Name"] = "prod-1", ["SmokeChecks"] = smokeChecks }, "/etc/yv/targets.psd1");

    private static VaultException Refused(object? smokeChecks) => Assert.Throws<VaultException>(() => Build(smokeChecks));

    [Fact]
    public void The_defaults_are_the_runbook_step_8_checks_in_its_order()
    {
        var target = TargetBuilder.Build(new Hashtable { ["Name"] = "local-1", ["HealthPath"] = "/healthz" }, "test");
        var checks = SmokeChecks.For(target, includeWrite: false, rateLimitProbe: false);
        Assert.Equal(new[] { "VaultSummary", "VaultMetrics", "Health", "RateLimitBurst", "DatabaseRead", "StellarRpc" }, checks.Select(c => c.Name));
        Assert.Equal("/healthz", checks[2].Path);
        Assert.Equal("healthy", checks[2].ExpectedValue);
        Assert.Equal(5, checks[3].Repeat);
        Assert.Equal("/api/v1/transactions?limit=1", checks[4].Path);
        Assert.Equal("array", checks[4].JsonType);
        Assert.Equal("/api/v1/vault/total-assets", checks[5].Path);
        Assert.All(checks, c => Assert.Null(c.FindProblem()));
    }

    [Fact]
    public void The_write_test_comes_after_the_read_and_the_rate_limit_probe_comes_last_after_the_targets_own()
    {
        var target = Build(new Hashtable { ["Name"] = "fees", ["Path"] = "/api/v1/vault/fees" });
        var checks = SmokeChecks.For(target, includeWrite: true, rateLimitProbe: true);
        Assert.Equal(new[] { "VaultSummary", "VaultMetrics", "Health", "RateLimitBurst", "DatabaseRead", "DatabaseWrite", "StellarRpc", "fees", "RateLimitEnforced" },
            checks.Select(c => c.Name));
        var write = checks[5];
        Assert.Equal("POST", write.Method);
        Assert.Equal("/admin/test-write", write.Path);
        Assert.True(write.SendsApiKey);
        Assert.Equal(SmokeCheckKind.RateLimitProbe, checks[^1].Kind);
        Assert.Equal(429, checks[^1].ExpectedStatus);
        Assert.True(checks[^1].Repeat <= 200);
    }

    [Fact]
    public void A_targets_own_checks_are_read_with_every_key()
    {
        var target = Build(new object[]
        {
            new Hashtable { ["Name"] = "fees", ["Path"] = "/api/v1/vault/fees", ["ExpectedStatus"] = 200, ["JsonPath"] = "feeBps", ["LatencyBudgetMs"] = 500 },
            new Hashtable
            {
                ["name"] = "v123", ["method"] = "get", ["path"] = "/api/v1/version", ["jsonpath"] = "version", ["expectedvalue"] = "1.2.3",
                ["JsonType"] = "String", ["Repeat"] = 3,
            },
            new Hashtable { ["Name"] = "deposits", ["Path"] = "/api/v1/vault/summary", ["JsonPath"] = "depositsEnabled", ["ExpectedValue"] = true },
            new Hashtable { ["Name"] = "decimals", ["Path"] = "/api/v1/vault/summary", ["JsonPath"] = "decimals", ["ExpectedValue"] = 7L },
        });
        Assert.Equal(4, target.SmokeChecks.Count);
        var fees = target.SmokeChecks[0];
        Assert.Equal(("fees", "GET", "/api/v1/vault/fees", 200, "feeBps", (string?)null, 500), (fees.Name, fees.Method, fees.Path, fees.ExpectedStatus, fees.JsonPath, fees.ExpectedValue, fees.LatencyBudgetMs));
        var version = target.SmokeChecks[1];
        Assert.Equal(("GET", "1.2.3", "string", 3), (version.Method, version.ExpectedValue, version.JsonType, version.Repeat));
        Assert.Equal("true", target.SmokeChecks[2].ExpectedValue);
        Assert.Equal("7", target.SmokeChecks[3].ExpectedValue);
        Assert.DoesNotContain(target.SmokeChecks, c => c.SendsApiKey);
    }

    [Fact]
    public void One_hashtable_is_a_list_of_one_and_no_setting_is_no_checks()
    {
        Assert.Single(Build(new Hashtable { ["Name"] = "fees", ["Path"] = "/api/v1/vault/fees" }).SmokeChecks);
        Assert.Empty(Build(null).SmokeChecks);
        Assert.Empty(Build(Array.Empty<object>()).SmokeChecks);
    }

    [Theory]
    [InlineData("Pathh", "/x", "key 'Pathh': unknown key")]
    [InlineData("ExpectedStatus", 700, "key 'ExpectedStatus': 700 is outside 100-599")]
    [InlineData("ExpectedStatus", "OK", "key 'ExpectedStatus': expected a whole number but found text 'OK'")]
    [InlineData("LatencyBudgetMs", 0, "key 'LatencyBudgetMs': 0 is outside 1-600000")]
    [InlineData("Method", "DELETE", "key 'Method': 'DELETE' is not one of GET, HEAD, POST")]
    [InlineData("JsonPath", "a..b", "key 'JsonPath': 'a..b' is not a dotted path")]
    [InlineData("JsonPath", "$.status", "key 'JsonPath': '$.status' is not a dotted path")]
    [InlineData("JsonType", "list", "key 'JsonType': 'list' is not one of object, array")]
    [InlineData("Repeat", 21, "key 'Repeat': 21 is outside 1-20")]
    [InlineData("ExpectedValue", "x", "key 'ExpectedValue': needs a JsonPath")]
    public void A_bad_key_of_a_check_names_the_file_the_target_the_check_and_the_key(string key, object value, string expected)
    {
        var check = new Hashtable { ["Name"] = "fees", ["Path"] = "/api/v1/vault/fees", [key] = value };
        var ex = Refused(new object[] { new Hashtable { ["Name"] = "ok", ["Path"] = "/ok" }, check });
        Assert.Equal("TargetConfigInvalid", ex.ErrorId);
        Assert.StartsWith("/etc/yv/targets.psd1: target 'prod-1', key 'SmokeChecks': check #2 ('fees'), ", ex.Message, StringComparison.Ordinal);
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
        Assert.Contains("Fix key 'SmokeChecks' of target 'prod-1'", ex.RecommendedAction, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("api/v1/vault/fees")]
    [InlineData("//evil.example/steal")]
    [InlineData("/api/v1 /fees")]
    [InlineData("/api/v1/fees#frag")]
    [InlineData("/\\evil.example")]
    [InlineData("https://evil.example/x")]
    public void A_path_must_stay_on_the_target(string path)
    {
        var ex = Refused(new Hashtable { ["Name"] = "fees", ["Path"] = path });
        Assert.Contains("key 'Path'", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_check_needs_a_name_and_a_path()
    {
        Assert.Contains("check #1, key 'Name': every check needs a Name", Refused(new Hashtable { ["Path"] = "/x" }).Message, StringComparison.Ordinal);
        Assert.Contains("check #1 ('fees'), key 'Path': every check needs a Path", Refused(new Hashtable { ["Name"] = "fees" }).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_name_may_not_repeat_or_take_a_built_in_checks_name()
    {
        var twice = Refused(new object[] { new Hashtable { ["Name"] = "fees", ["Path"] = "/a" }, new Hashtable { ["Name"] = "FEES", ["Path"] = "/b" } });
        Assert.Contains("check #2 ('FEES'), key 'Name': 'FEES' is used by more than one check", twice.Message, StringComparison.Ordinal);
        var builtIn = Refused(new Hashtable { ["Name"] = "health", ["Path"] = "/a" });
        Assert.Contains("'health' is the name of a built-in check", builtIn.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_head_check_cannot_read_json()
    {
        var ex = Refused(new Hashtable { ["Name"] = "ping", ["Method"] = "HEAD", ["Path"] = "/health", ["JsonPath"] = "status" });
        Assert.Contains("key 'Method': a HEAD answer has no body", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("fees")]
    [InlineData(42)]
    public void The_setting_must_be_hashtables(object value)
    {
        var ex = Refused(value);
        Assert.Contains("key 'SmokeChecks': expected a list of hashtables", ex.Message, StringComparison.Ordinal);
        var inList = Refused(new object[] { "fees" });
        Assert.Contains("check #1 is text 'fees', not a hashtable", inList.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Checks_come_from_the_defaults_of_a_targets_file_and_a_target_replaces_them()
    {
        var document = new Hashtable
        {
            ["Defaults"] = new Hashtable { ["SmokeChecks"] = new object[] { new Hashtable { ["Name"] = "fees", ["Path"] = "/api/v1/vault/fees" } } },
            ["Targets"] = new object[]
            {
                new Hashtable { ["Name"] = "a" },
                new Hashtable { ["Name"] = "b", ["SmokeChecks"] = new object[] { new Hashtable { ["Name"] = "other", ["Path"] = "/other" } } },
            },
        };
        var targets = TargetConfigFile.Read(document, "/tmp/targets.psd1");
        Assert.Equal("fees", Assert.Single(targets[0].SmokeChecks).Name);
        Assert.Equal("other", Assert.Single(targets[1].SmokeChecks).Name);
    }

    [Fact]
    public void A_target_built_in_code_with_a_bad_check_is_refused_by_validation()
    {
        var target = new VaultTarget { Name = "x", SmokeChecks = new[] { new SmokeCheck { Name = "bad", Path = "nope" } } };
        var ex = Assert.Throws<VaultException>(target.Validate);
        Assert.Equal("TargetInvalid", ex.ErrorId);
        Assert.Contains("check 'bad', key 'Path'", ex.Message, StringComparison.Ordinal);
    }
}
