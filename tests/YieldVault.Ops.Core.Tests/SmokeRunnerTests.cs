using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Linq;
using System.Net;
using System.Security;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using YieldVault.Ops;
using YieldVault.Ops.Hosts;
using YieldVault.Ops.Smoke;

namespace YieldVault.Ops.Core.Tests;

/// <summary>The runner against a small HTTP server in the test: order, bursts, the probe, Retry-After, the API key.</summary>
public sealed class SmokeRunnerTests : IDisposable
{
    private const string Key = "Planted-Admin-Key-8f3a";
    private readonly HttpListener _listener = new();
    private readonly int _port;
    private readonly ConcurrentQueue<string> _requests = new();
    private readonly CancellationTokenSource _stop = new();
    private Func<HttpListenerRequest, (int Status, string Body, string? RetryAfter)> _handler = Healthy;

    public SmokeRunnerTests()
    {
        _port = TestPorts.Free();
        _listener.Prefixes.Add($"http://127.0.0.1:{_port}/");
        _listener.Start();
        _ = Task.Run(ServeAsync);
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Close();
        _stop.Dispose();
    }

    private static (int, string, string?) Healthy(HttpListenerRequest request) => request.Url!.AbsolutePath switch
    {
        "/health" => (200, "{\"status\":\"healthy\"}", null),
        "/api/v1/vault/summary" => (200, "{\"apy\":5.42}", null),
        "/api/v1/vault/metrics" => (200, "{\"transactionCount\":3}", null),
        "/api/v1/transactions" => (200, "{\"transactions\":[{\"id\":1}],\"count\":1}", null),
        "/api/v1/vault/total-assets" => (200, "{\"totalAssets\":\"1250000.0000000\"}", null),
        "/admin/test-write" when request.Headers["Authorization"] == "ApiKey " + Key => (201, "{\"ok\":true,\"id\":9}", null),
        "/admin/test-write" => (401, "{\"error\":\"Invalid API key\"}", null),
        _ => (404, "{\"error\":\"Not Found\"}", null),
    };

    private async Task ServeAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            _requests.Enqueue($"{context.Request.HttpMethod} {context.Request.Url!.PathAndQuery}");
            var (status, body, retryAfter) = _handler(context.Request);
            context.Response.StatusCode = status;
            context.Response.ContentType = "application/json";
            if (retryAfter is not null)
            {
                context.Response.Headers["Retry-After"] = retryAfter;
            }

            try
            {
                var bytes = Encoding.UTF8.GetBytes(body);
                await context.Response.OutputStream.WriteAsync(bytes);
                context.Response.Close();
            }
            catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException or System.IO.IOException)
            {
                // The client gave up (a timeout test); serve the next one.
            }
        }
    }

    private Task<IReadOnlyList<VaultSmokeResult>> RunAsync(VaultTarget target, SmokeOptions options, SecretRedactor? redactor = null, string envFile = "") =>
        SmokeRunner.RunAsync(target, new FakeShell(_port, envFile), options, redactor ?? new SecretRedactor(), null, CancellationToken.None);

    private static VaultTarget Target(params SmokeCheck[] own) => new() { Name = "t1", AppPath = "/srv/app", SmokeChecks = own };

    [Fact]
    public async Task Every_default_check_passes_in_the_runbooks_order_with_five_summary_requests_for_the_burst()
    {
        var results = await RunAsync(Target(), new SmokeOptions());
        Assert.Equal(new[] { "VaultSummary", "VaultMetrics", "Health", "RateLimitBurst", "DatabaseRead", "StellarRpc" }, results.Select(r => r.Name));
        Assert.All(results, r => Assert.True(r.Passed, r.Name + ": " + r.Detail));
        Assert.Equal("5 of 5 answered 200, none refused", results[3].Detail.Split(" (")[0]);
        Assert.Equal("/api/v1/transactions?limit=1", results[4].Url);
        Assert.Equal(6, _requests.Count(r => r == "GET /api/v1/vault/summary"));
        Assert.All(results, r => Assert.Same(r.Target, results[0].Target));
    }

    [Fact]
    public async Task A_refusal_inside_the_burst_fails_it_and_names_the_request()
    {
        var summaries = 0;
        _handler = request => request.Url!.AbsolutePath == "/api/v1/vault/summary" && Interlocked.Increment(ref summaries) == 4
            ? (429, "{\"error\":\"Too Many Requests\"}", "50")
            : Healthy(request);
        var burst = (await RunAsync(Target(), new SmokeOptions())).Single(r => r.Name == SmokeChecks.RateLimitBurst);
        Assert.False(burst.Passed);
        Assert.Equal(429, burst.StatusCode);
        Assert.StartsWith("request 3 of 5: answered 429, expected 200: refused by the rate limiter", burst.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_single_check_refused_with_429_asks_again_after_retry_after()
    {
        var first = true;
        _handler = request =>
        {
            if (request.Url!.AbsolutePath == "/api/v1/vault/metrics" && first)
            {
                first = false;
                return (429, "{\"error\":\"Too Many Requests\"}", "1");
            }

            return Healthy(request);
        };
        var metrics = (await RunAsync(Target(), new SmokeOptions())).Single(r => r.Name == SmokeChecks.VaultMetrics);
        Assert.True(metrics.Passed, metrics.Detail);
        Assert.Contains("asked again after a 429 and Retry-After 1 s", metrics.Detail, StringComparison.Ordinal);
        Assert.Equal(2, _requests.Count(r => r == "GET /api/v1/vault/metrics"));
    }

    [Fact]
    public async Task A_retry_after_longer_than_the_limit_is_not_waited_for()
    {
        _handler = request => request.Url!.AbsolutePath == "/api/v1/vault/metrics" ? (429, "{}", "120") : Healthy(request);
        var metrics = (await RunAsync(Target(), new SmokeOptions())).Single(r => r.Name == SmokeChecks.VaultMetrics);
        Assert.False(metrics.Passed);
        Assert.Single(_requests, r => r == "GET /api/v1/vault/metrics");
    }

    [Fact]
    public async Task The_rate_limit_probe_runs_last_and_passes_at_the_first_429()
    {
        var summaries = 0;
        _handler = request => request.Url!.AbsolutePath == "/api/v1/vault/summary" && Interlocked.Increment(ref summaries) > 20
            ? (429, "{\"error\":\"Too Many Requests\"}", "7")
            : Healthy(request);
        var own = new SmokeCheck { Name = "own", Path = "/health" };
        var results = await RunAsync(Target(own), new SmokeOptions { RateLimitProbe = true });
        Assert.Equal(new[] { "own", "RateLimitEnforced" }, results.Select(r => r.Name).TakeLast(2));
        var probe = results[^1];
        Assert.True(probe.Passed, probe.Detail);
        Assert.Equal(429, probe.StatusCode);
        // 6 summaries before the probe (the check and the burst), so the 21st is request 15 of the probe.
        Assert.StartsWith("429 after 15 requests in ", probe.Detail, StringComparison.Ordinal);
        Assert.EndsWith("; Retry-After 7 s", probe.Detail, StringComparison.Ordinal);
        Assert.Equal("GET /api/v1/vault/summary", _requests.Last());
    }

    [Fact]
    public async Task The_rate_limit_probe_stops_at_its_bound_and_fails_when_nothing_is_refused()
    {
        var probe = (await RunAsync(Target(), new SmokeOptions { RateLimitProbe = true }))[^1];
        Assert.False(probe.Passed);
        Assert.StartsWith("no 429 after 200 requests", probe.Detail, StringComparison.Ordinal);
        Assert.Equal(6 + 200, _requests.Count(r => r == "GET /api/v1/vault/summary"));
    }

    [Fact]
    public async Task The_write_test_sends_the_key_from_the_env_file_and_never_shows_it()
    {
        var redactor = new SecretRedactor();
        var results = await RunAsync(Target(), new SmokeOptions { IncludeWrite = true }, redactor, $"DATABASE_URL=postgres://u:p@db/x\nADMIN_API_KEY={Key}\n");
        var write = results.Single(r => r.Name == SmokeChecks.DatabaseWrite);
        Assert.True(write.Passed, write.Detail);
        Assert.Equal(201, write.StatusCode);
        Assert.Equal("201, ok = true", write.Detail);
        Assert.Equal(SecretRedactor.Mask, redactor.Redact(Key));
        Assert.Equal(new[] { "DatabaseRead", "DatabaseWrite", "StellarRpc" }, results.Select(r => r.Name).Skip(4));
    }

    [Fact]
    public async Task A_wrong_key_from_the_parameter_fails_with_401_and_a_missing_key_is_said_without_a_request()
    {
        using var wrong = new SecureString();
        foreach (var c in "Planted-Wrong-Key-1")
        {
            wrong.AppendChar(c);
        }

        var redactor = new SecretRedactor();
        var write = (await RunAsync(Target(), new SmokeOptions { ApiKey = wrong, IncludeWrite = true }, redactor)).Single(r => r.Name == SmokeChecks.DatabaseWrite);
        Assert.False(write.Passed);
        Assert.Equal(401, write.StatusCode);
        Assert.Equal("answered 401, expected 201: Invalid API key", write.Detail);
        Assert.Equal(SecretRedactor.Mask, redactor.Redact("Planted-Wrong-Key-1"));

        while (_requests.TryDequeue(out _))
        {
        }

        var missing = (await RunAsync(Target(), new SmokeOptions { IncludeWrite = true }, envFile: "NODE_ENV=production\n")).Single(r => r.Name == SmokeChecks.DatabaseWrite);
        Assert.False(missing.Passed);
        Assert.Null(missing.StatusCode);
        Assert.Equal("no API key: ADMIN_API_KEY is not set in /srv/app/.env; give the key with -ApiKey", missing.Detail);
        Assert.DoesNotContain(_requests, r => r.StartsWith("POST", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Failures_of_a_deployment_are_named_and_maintenance_answers_are_not_failures_under_maintenance()
    {
        _handler = request => request.Url!.AbsolutePath.StartsWith("/api/", StringComparison.Ordinal)
            ? (503, "{\"maintenance\":true,\"error\":\"Service in maintenance mode\"}", "60")
            : Healthy(request);
        var results = await RunAsync(Target(), new SmokeOptions());
        Assert.Equal(new[] { "Health" }, results.Where(r => r.Passed).Select(r => r.Name));
        var text = SmokeRunner.FailureText(results, ignoreMaintenance: false)!;
        Assert.StartsWith("5 smoke checks failed: VaultSummary (answered 503, expected 200: the backend is in maintenance mode", text, StringComparison.Ordinal);
        Assert.Null(SmokeRunner.FailureText(results, ignoreMaintenance: true));
        Assert.Null(await SmokeRunner.RunForDeploymentAsync(Target(), new FakeShell(_port, ""), new SmokeOptions(), new SecretRedactor(), maintenance: true, CancellationToken.None));
        Assert.NotNull(await SmokeRunner.RunForDeploymentAsync(Target(), new FakeShell(_port, ""), new SmokeOptions(), new SecretRedactor(), maintenance: false, CancellationToken.None));
    }

    [Fact]
    public async Task A_target_check_that_fails_is_named_in_the_deployment_failure()
    {
        var own = new SmokeCheck { Name = "v123", Path = "/api/v1/vault/summary", JsonPath = "apy", ExpectedValue = "6" };
        var failure = await SmokeRunner.RunForDeploymentAsync(Target(own), new FakeShell(_port, ""), new SmokeOptions(), new SecretRedactor(), maintenance: false, CancellationToken.None);
        Assert.Equal("smoke check failed: v123 ('apy' is 5.42, expected '6').", failure);
    }

    [Fact]
    public async Task Through_a_base_url_the_results_show_the_full_url_and_no_shell_is_asked()
    {
        var results = await SmokeRunner.RunAsync(Target(), new ThrowingShell(), new SmokeOptions { BaseUrl = new Uri($"http://127.0.0.1:{_port}/") }, new SecretRedactor(), null, CancellationToken.None);
        Assert.All(results, r => Assert.True(r.Passed, r.Detail));
        Assert.Equal($"http://127.0.0.1:{_port}/health", results.Single(r => r.Name == "Health").Url);
    }

    [Fact]
    public async Task A_slow_answer_fails_at_the_timeout()
    {
        _handler = request =>
        {
            if (request.Url!.AbsolutePath == "/api/v1/vault/total-assets")
            {
                // Well past the 1 s timeout: with 1.5 s, a timeout timer that fired late on a loaded machine (the xunit
                // suite's own parallel tests) let the answer arrive first once.
                Thread.Sleep(4000);
            }

            return Healthy(request);
        };
        var rpc = (await RunAsync(Target(), new SmokeOptions { Timeout = TimeSpan.FromSeconds(1) })).Single(r => r.Name == SmokeChecks.StellarRpc);
        Assert.False(rpc.Passed);
        Assert.Equal("no answer within 1 s", rpc.Detail);
        Assert.Null(rpc.StatusCode);
    }

    private sealed class FakeShell : IHostShell
    {
        private readonly int _port;
        private readonly string _envFile;

        public FakeShell(int port, string envFile)
        {
            _port = port;
            _envFile = envFile;
        }

        public string Description => "fake";

        public Task<CommandResult> RunAsync(CommandLine command, TimeSpan? timeout, CancellationToken cancellationToken) =>
            Task.FromResult(_envFile.Length == 0
                ? new CommandResult("cat", 3, "", "", TimeSpan.Zero)
                : new CommandResult("cat", 0, _envFile, "", TimeSpan.Zero));

        public Task<Uri> GetHttpBaseAsync(int port, CancellationToken cancellationToken) => Task.FromResult(new Uri($"http://127.0.0.1:{_port}/"));

        public Task<(string Host, int Port)> ForwardTcpAsync(string host, int port, CancellationToken cancellationToken) => throw new NotSupportedException();

        public void Dispose()
        {
        }
    }

    private sealed class ThrowingShell : IHostShell
    {
        public string Description => "unreachable";

        public Task<CommandResult> RunAsync(CommandLine command, TimeSpan? timeout, CancellationToken cancellationToken) => throw new NotSupportedException();

        public Task<Uri> GetHttpBaseAsync(int port, CancellationToken cancellationToken) => throw new NotSupportedException();

        public Task<(string Host, int Port)> ForwardTcpAsync(string host, int port, CancellationToken cancellationToken) => throw new NotSupportedException();

        public void Dispose()
        {
        }
    }
}
