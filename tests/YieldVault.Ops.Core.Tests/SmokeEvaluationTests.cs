using System;
using YieldVault.Ops;
using YieldVault.Ops.Smoke;

namespace YieldVault.Ops.Core.Tests;

public class SmokeEvaluationTests
{
    private static SmokeResponse Answer(int status, string? body = null, double ms = 5, TimeSpan? retryAfter = null) => new()
    {
        StatusCode = status,
        Json = body is null ? null : SmokeHttp.ParseJson(body),
        BodyIsJson = body is not null,
        LatencyMs = ms,
        RetryAfter = retryAfter,
    };

    [Fact]
    public void The_expected_status_passes_and_another_fails_naming_both()
    {
        var check = new SmokeCheck { Name = "x", Path = "/api/v1/vault/summary" };
        Assert.True(SmokeEvaluation.Evaluate(check, Answer(200)).Passed);
        var failed = SmokeEvaluation.Evaluate(check, Answer(502, "{\"error\":\"Stellar RPC request failed\"}"));
        Assert.False(failed.Passed);
        Assert.Equal("answered 502, expected 200: Stellar RPC request failed", failed.Detail);
        Assert.False(failed.Maintenance);
    }

    [Fact]
    public void A_429_says_it_was_the_rate_limiter_and_when_to_retry()
    {
        var verdict = SmokeEvaluation.Evaluate(new SmokeCheck { Name = "x" }, Answer(429, "{\"error\":\"Too Many Requests\"}", retryAfter: TimeSpan.FromSeconds(42)));
        Assert.Equal("answered 429, expected 200: refused by the rate limiter (Retry-After 42 s)", verdict.Detail);
    }

    [Fact]
    public void A_503_of_the_maintenance_flag_is_recognised()
    {
        var verdict = SmokeEvaluation.Evaluate(new SmokeCheck { Name = "x" }, Answer(503, "{\"maintenance\":true,\"error\":\"Service in maintenance mode\"}"));
        Assert.False(verdict.Passed);
        Assert.True(verdict.Maintenance);
        Assert.Contains("maintenance mode", verdict.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void A_redirect_is_a_failure_that_says_it_was_not_followed()
    {
        var verdict = SmokeEvaluation.Evaluate(new SmokeCheck { Name = "x" }, Answer(301));
        Assert.Equal("answered 301, expected 200 (a redirect; redirects are not followed)", verdict.Detail);
    }

    [Fact]
    public void No_answer_fails_with_the_reason()
    {
        var verdict = SmokeEvaluation.Evaluate(new SmokeCheck { Name = "x" }, new SmokeResponse { Error = "no answer within 10 s", LatencyMs = 10000 });
        Assert.False(verdict.Passed);
        Assert.Equal("no answer within 10 s", verdict.Detail);
    }

    [Theory]
    [InlineData("status", "healthy", "{\"status\":\"healthy\"}", true)]
    [InlineData("status", "healthy", "{\"status\":\"unhealthy\"}", false)]
    [InlineData("checks.database", "up", "{\"checks\":{\"database\":\"up\"}}", true)]
    [InlineData("feeBps", "50", "{\"feeBps\":50}", true)]
    [InlineData("feeBps", "50", "{\"feeBps\":50.0}", true)]
    [InlineData("feeBps", "50", "{\"feeBps\":\"50\"}", true)]
    [InlineData("feeBps", "51", "{\"feeBps\":50}", false)]
    [InlineData("ok", "true", "{\"ok\":true}", true)]
    [InlineData("ok", "True", "{\"ok\":true}", true)]
    [InlineData("ok", "true", "{\"ok\":\"yes\"}", false)]
    [InlineData("transactions.0.id", "7", "{\"transactions\":[{\"id\":7}]}", true)]
    [InlineData("deleted", "null", "{\"deleted\":null}", true)]
    [InlineData("version", "1.2.3", "{\"version\":\"1.3.0\"}", false)]
    [InlineData("createdAt", "2026-04-24T10:00:00.000Z", "{\"createdAt\":\"2026-04-24T10:00:00.000Z\"}", true)]
    public void The_value_at_a_json_path_is_compared(string path, string expected, string body, bool passes)
    {
        var verdict = SmokeEvaluation.Evaluate(new SmokeCheck { Name = "x", JsonPath = path, ExpectedValue = expected }, Answer(200, body));
        Assert.Equal(passes, verdict.Passed);
    }

    [Fact]
    public void A_mismatch_shows_the_value_found_and_the_one_expected()
    {
        var verdict = SmokeEvaluation.Evaluate(new SmokeCheck { Name = "x", JsonPath = "version", ExpectedValue = "1.2.3" }, Answer(200, "{\"version\":\"1.3.0\"}"));
        Assert.Equal("'version' is '1.3.0', expected '1.2.3'", verdict.Detail);
    }

    [Fact]
    public void A_missing_path_fails_and_a_present_one_without_a_value_passes()
    {
        var check = new SmokeCheck { Name = "fees", JsonPath = "feeBps" };
        Assert.Equal("the answer has no 'feeBps'", SmokeEvaluation.Evaluate(check, Answer(200, "{\"apy\":5.42}")).Detail);
        var passed = SmokeEvaluation.Evaluate(check, Answer(200, "{\"feeBps\":50}"));
        Assert.True(passed.Passed);
        Assert.Equal("200, feeBps = 50", passed.Detail);
    }

    [Fact]
    public void An_index_past_the_end_of_a_list_is_missing()
    {
        var verdict = SmokeEvaluation.Evaluate(new SmokeCheck { Name = "x", JsonPath = "transactions.0" }, Answer(200, "{\"transactions\":[]}"));
        Assert.False(verdict.Passed);
        Assert.Equal("the answer has no 'transactions.0'", verdict.Detail);
    }

    [Fact]
    public void The_json_type_is_checked_at_the_path_or_for_the_whole_answer()
    {
        var list = new SmokeCheck { Name = "db", JsonPath = "transactions", JsonType = "array" };
        var ok = SmokeEvaluation.Evaluate(list, Answer(200, "{\"transactions\":[{\"id\":1}],\"count\":1}"));
        Assert.True(ok.Passed);
        Assert.Equal("200, transactions = a list of 1", ok.Detail);
        Assert.Equal("'transactions' is an object, expected an array",
            SmokeEvaluation.Evaluate(list, Answer(200, "{\"transactions\":{}}")).Detail);

        var whole = new SmokeCheck { Name = "summary", JsonType = "object" };
        Assert.True(SmokeEvaluation.Evaluate(whole, Answer(200, "{\"apy\":5.42}")).Passed);
        Assert.Equal("The answer is an array, expected an object", SmokeEvaluation.Evaluate(whole, Answer(200, "[1]")).Detail);
    }

    [Fact]
    public void A_body_that_is_not_json_fails_a_check_that_reads_it_but_not_one_that_does_not()
    {
        var notJson = new SmokeResponse { StatusCode = 200, BodyIsJson = false, LatencyMs = 3 };
        Assert.Equal("answered 200 but not with JSON", SmokeEvaluation.Evaluate(new SmokeCheck { Name = "x", JsonPath = "status" }, notJson).Detail);
        Assert.True(SmokeEvaluation.Evaluate(new SmokeCheck { Name = "x" }, notJson).Passed);
    }

    [Fact]
    public void An_answer_over_the_latency_budget_fails_after_everything_else_passed()
    {
        var check = new SmokeCheck { Name = "fees", JsonPath = "feeBps", LatencyBudgetMs = 500 };
        Assert.True(SmokeEvaluation.Evaluate(check, Answer(200, "{\"feeBps\":50}", ms: 499.9)).Passed);
        var slow = SmokeEvaluation.Evaluate(check, Answer(200, "{\"feeBps\":50}", ms: 812.4));
        Assert.False(slow.Passed);
        Assert.Equal("answered 200 in 812 ms, over the budget of 500 ms", slow.Detail);
        // A wrong status is the reason that matters, even when it was slow as well.
        Assert.StartsWith("answered 503", SmokeEvaluation.Evaluate(check, Answer(503, "{}", ms: 900)).Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Json_is_read_exactly_dates_stay_text_and_trailing_text_is_refused()
    {
        Assert.Equal(Newtonsoft.Json.Linq.JTokenType.String, SmokeHttp.ParseJson("{\"at\":\"2026-04-24T10:00:00Z\"}")["at"]!.Type);
        Assert.Throws<Newtonsoft.Json.JsonReaderException>(() => SmokeHttp.ParseJson("{\"a\":1} trailing"));
    }

    [Theory]
    [InlineData("https://lb.example", "/health", "https://lb.example/health")]
    [InlineData("https://lb.example/", "/health", "https://lb.example/health")]
    [InlineData("https://lb.example/backend/", "/api/v1/transactions?limit=1", "https://lb.example/backend/api/v1/transactions?limit=1")]
    [InlineData("http://127.0.0.1:40123/", "/health", "http://127.0.0.1:40123/health")]
    public void Paths_are_put_under_the_base_url_keeping_its_prefix(string baseUrl, string path, string expected)
    {
        Assert.Equal(expected, SmokeHttp.Combine(new Uri(baseUrl), path).AbsoluteUri);
    }

    [Theory]
    [InlineData("https://api.yieldvault.finance", true)]
    [InlineData("http://127.0.0.1:3000/prefix", true)]
    [InlineData("https://user:Planted-Pw-1@api.example", false)]
    [InlineData("ftp://api.example", false)]
    [InlineData("https://api.example/?token=1", false)]
    public void A_base_url_must_be_http_without_credentials_or_query(string url, bool ok)
    {
        var problem = SmokeRunner.BaseUrlProblem(new Uri(url));
        Assert.Equal(ok, problem is null);
        if (problem is not null)
        {
            Assert.DoesNotContain("Planted-Pw-1", problem, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("https://api.yieldvault.finance", true)]
    [InlineData("https://10.0.0.1:8443/backend", true)]
    [InlineData("http://127.0.0.1:3000/prefix", true)]
    [InlineData("http://127.0.0.2:3000", true)]
    [InlineData("http://localhost:3000", true)]
    [InlineData("http://[::1]:3000", true)]
    [InlineData("http://api.yieldvault.finance", false)]
    [InlineData("http://10.0.0.1:8080/backend", false)]
    [InlineData("http://localhost.example.invalid", false)]
    [InlineData("http://127.0.0.1.nip.io", false)]
    [InlineData("http://[::2]:3000", false)]
    public void The_admin_key_goes_over_plain_http_only_to_loopback(string url, bool ok)
    {
        Assert.Equal(ok, SmokeRunner.ApiKeyTransportProblem(new Uri(url)) is null);
    }
}
