using System;
using Newtonsoft.Json.Linq;
using YieldVault.Ops;
using YieldVault.Ops.Probes;
using YieldVault.Ops.Smoke;

namespace YieldVault.Ops.Core.Tests;

public class HealthRulesTests
{
    private static readonly VaultTarget Default = new() { Name = "t" };

    private static HealthVerdict Health(VaultTarget target, int? status, string body)
    {
        JToken? json = null;
        try
        {
            json = body.Length == 0 ? null : JToken.Parse(body);
        }
        catch (Newtonsoft.Json.JsonException)
        {
            // plain text
        }

        return HealthRules.EvaluateHealth(target, status, body, json);
    }

    [Theory]
    [InlineData("{\"status\":\"healthy\"}")]
    [InlineData("{\"status\":\"ok\"}")]
    [InlineData("{\"status\":\"UP\"}")]
    [InlineData("{\"status\":\"pass\"}")]
    [InlineData("{\"status\":\"Ok\",\"checks\":{}}")]
    [InlineData("{\"status\":true}")]
    public void The_default_rules_take_what_node_backends_answer(string body)
    {
        Assert.True(Health(Default, 200, body).Passed);
    }

    [Theory]
    [InlineData(200, "{\"status\":\"unhealthy\"}", "'status' is 'unhealthy'")]
    [InlineData(200, "{\"status\":\"DOWN\"}", "'status' is 'DOWN'")]
    [InlineData(200, "{\"state\":\"ok\"}", "has no 'status'")]
    [InlineData(200, "OK", "not with JSON")]
    [InlineData(200, "", "not with JSON")]
    [InlineData(503, "{\"status\":\"healthy\"}", "status code 503")]
    [InlineData(204, "", "status code 204")]
    public void The_default_rules_refuse_with_the_reason(int status, string body, string reason)
    {
        var verdict = Health(Default, status, body);
        Assert.False(verdict.Passed);
        Assert.Contains(reason, verdict.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void The_status_is_what_the_answer_said()
    {
        Assert.Equal("unhealthy", Health(Default, 503, "{\"status\":\"unhealthy\"}").Status);
        Assert.Null(Health(Default, 200, "plain").Status);
        Assert.Equal("OK", Health(new VaultTarget { Name = "t", HealthResponse = HealthResponseKind.Text }, 200, "OK\n").Status);
    }

    [Fact]
    public void A_target_says_which_codes_values_and_path_count()
    {
        var target = new VaultTarget { Name = "t", HealthyStatusCodes = new[] { 200, 204 }, HealthyValues = new[] { "green" }, HealthJsonPath = "health.state" };
        Assert.True(Health(target, 200, "{\"health\":{\"state\":\"GREEN\"}}").Passed);
        Assert.False(Health(target, 200, "{\"health\":{\"state\":\"ok\"}}").Passed);
        Assert.False(Health(target, 204, "").Passed);
        Assert.True(Health(target, 204, "{\"health\":{\"state\":\"green\"}}").Passed);
    }

    [Theory]
    [InlineData(200, "", true)]
    [InlineData(200, "OK", true)]
    [InlineData(200, " ok \n", true)]
    [InlineData(200, "{\"status\":\"ok\"}", true)]
    [InlineData(200, "starting", false)]
    [InlineData(503, "OK", false)]
    public void A_plain_text_answer_counts_where_the_target_says_so(int status, string body, bool healthy)
    {
        Assert.Equal(healthy, Health(new VaultTarget { Name = "t", HealthResponse = HealthResponseKind.Text }, status, body).Passed);
    }

    [Theory]
    [InlineData(200, "whatever", true)]
    [InlineData(204, "", true)]
    [InlineData(500, "", false)]
    public void Only_the_status_code_counts_where_the_target_says_so(int status, string body, bool healthy)
    {
        var target = new VaultTarget { Name = "t", HealthResponse = HealthResponseKind.StatusCode, HealthyStatusCodes = new[] { 200, 204 } };
        Assert.Equal(healthy, Health(target, status, body).Passed);
    }

    [Theory]
    [InlineData(200, "{\"ready\":true,\"dependencies\":{}}", true)]
    [InlineData(200, "{\"ready\":false}", false)]
    [InlineData(503, "{\"ready\":true}", false)]
    [InlineData(200, "{\"status\":\"UP\"}", true)]
    [InlineData(200, "{\"status\":\"OUT_OF_SERVICE\"}", false)]
    [InlineData(200, null, true)]
    public void Readiness_is_the_ready_flag_else_the_status_else_the_code(int status, string? body, bool ready)
    {
        var json = body is null ? null : JToken.Parse(body);
        Assert.Equal(ready, HealthRules.EvaluateReady(Default, status, json).Passed);
    }

    [Fact]
    public void The_health_smoke_check_follows_the_rules_and_reads_as_before()
    {
        var sample = SmokeChecks.Defaults(Default, includeWrite: false)[2];
        Assert.Equal(SmokeCheckKind.Health, sample.Kind);
        Assert.Equal("healthy", sample.ExpectedValue);
        var healthy = SmokeEvaluation.Evaluate(sample, Answer(200, "{\"status\":\"healthy\"}"));
        Assert.True(healthy.Passed);
        Assert.Equal("200, status = 'healthy'", healthy.Detail);
        Assert.True(SmokeEvaluation.Evaluate(sample, Answer(200, "{\"status\":\"ok\"}")).Passed);
        Assert.Equal("answered 503, expected 200", SmokeEvaluation.Evaluate(sample, Answer(503, "{\"status\":\"unhealthy\"}")).Detail);
        Assert.StartsWith("answered 200, but 'status' is 'down'", SmokeEvaluation.Evaluate(sample, Answer(200, "{\"status\":\"down\"}")).Detail, StringComparison.Ordinal);

        var text = SmokeChecks.Defaults(new VaultTarget { Name = "t", HealthResponse = HealthResponseKind.Text, SmokePreset = SmokePreset.None }, includeWrite: false);
        var only = Assert.Single(text);
        Assert.Null(only.JsonPath);
        var plain = SmokeEvaluation.Evaluate(only, new SmokeResponse { StatusCode = 200, Body = "OK", LatencyMs = 3 });
        Assert.True(plain.Passed);
        Assert.Equal("200, 'OK'", plain.Detail);
    }

    [Fact]
    public void SmokePreset_None_runs_the_health_check_and_the_targets_own()
    {
        var target = new VaultTarget
        {
            Name = "t", SmokePreset = SmokePreset.None, HealthPath = "/healthz",
            SmokeChecks = new[] { new SmokeCheck { Name = "info", Path = "/info", JsonPath = "name" } },
        };
        var checks = SmokeChecks.For(target, includeWrite: false, rateLimitProbe: false);
        Assert.Equal(new[] { "Health", "info" }, System.Linq.Enumerable.Select(checks, c => c.Name));
        Assert.Equal("/healthz", checks[0].Path);
    }

    private static SmokeResponse Answer(int status, string body) => new()
    {
        StatusCode = status, Json = SmokeHttp.ParseJson(body), BodyIsJson = true, Body = body, LatencyMs = 5,
    };
}
