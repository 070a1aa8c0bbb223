using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.IO;
using System.Net;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using YieldVault.Ops;
using YieldVault.Ops.Notifications;

namespace YieldVault.Ops.Core.Tests;

public class SlackWebhookRetryTests
{
    private static readonly DateTimeOffset Now = new(2026, 3, 4, 10, 0, 0, TimeSpan.Zero);

    [Theory]
    [InlineData("0", 0)]
    [InlineData("2", 2)]
    [InlineData(" 30 ", 30)]
    [InlineData("120", 120)]
    public void Retry_after_in_seconds(string value, int seconds)
    {
        Assert.Equal(TimeSpan.FromSeconds(seconds), WebhookRetryPolicy.ParseRetryAfter(value, Now));
    }

    [Theory]
    [InlineData("Wed, 04 Mar 2026 10:00:05 GMT", 5)]       // IMF-fixdate
    [InlineData("Wednesday, 04-Mar-26 10:00:07 GMT", 7)]   // RFC 850
    [InlineData("Wed Mar  4 10:00:09 2026", 9)]            // asctime
    [InlineData("Wed, 04 Mar 2026 09:59:00 GMT", 0)]       // in the past: now
    public void Retry_after_as_an_http_date(string value, int seconds)
    {
        Assert.Equal(TimeSpan.FromSeconds(seconds), WebhookRetryPolicy.ParseRetryAfter(value, Now));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("soon")]
    [InlineData("-1")]
    [InlineData("1.5")]
    [InlineData("2026-03-04T10:00:05Z")]
    public void Unreadable_retry_after_is_ignored(string? value)
    {
        Assert.Null(WebhookRetryPolicy.ParseRetryAfter(value, Now));
    }

    [Fact]
    public void A_huge_retry_after_is_longer_than_any_cap()
    {
        Assert.Equal(TimeSpan.MaxValue, WebhookRetryPolicy.ParseRetryAfter("99999999999999999999999", Now));
        var decision = new WebhookRetryPolicy().Decide(1, 429, TimeSpan.MaxValue, TimeSpan.Zero, 0);
        Assert.False(decision.Retry);
    }

    [Fact]
    public void Backoff_doubles_from_one_second_up_to_eight()
    {
        var policy = new WebhookRetryPolicy();
        var schedule = new List<double>();
        for (var failed = 1; failed <= 6; failed++)
        {
            schedule.Add(policy.Backoff(failed, 0).TotalSeconds);
        }

        Assert.Equal(new[] { 1.0, 2, 4, 8, 8, 8 }, schedule);
    }

    [Fact]
    public void Jitter_adds_at_most_a_fifth()
    {
        var policy = new WebhookRetryPolicy();
        Assert.Equal(TimeSpan.FromMilliseconds(2000), policy.Backoff(2, 0));
        Assert.Equal(TimeSpan.FromMilliseconds(2200), policy.Backoff(2, 0.5));
        Assert.Equal(TimeSpan.FromMilliseconds(2400), policy.Backoff(2, 1));
        Assert.Equal(TimeSpan.FromMilliseconds(9600), policy.Backoff(10, 1));
    }

    [Theory]
    [InlineData(429, true)]
    [InlineData(500, true)]
    [InlineData(502, true)]
    [InlineData(503, true)]
    [InlineData(599, true)]
    [InlineData(400, false)]
    [InlineData(403, false)]
    [InlineData(404, false)]
    [InlineData(410, false)]
    [InlineData(301, false)]
    public void Only_rate_limits_and_server_errors_are_retried(int status, bool retryable)
    {
        Assert.Equal(retryable, WebhookRetryPolicy.IsRetryable(status));
        Assert.Equal(retryable, new WebhookRetryPolicy().Decide(1, status, null, TimeSpan.Zero, 0).Retry);
    }

    [Fact]
    public void Four_attempts_by_default_with_the_backoff_between_them()
    {
        var policy = new WebhookRetryPolicy();
        var elapsed = TimeSpan.Zero;
        var waits = new List<double>();
        var attempt = 1;
        for (; ; attempt++)
        {
            var decision = policy.Decide(attempt, 500, null, elapsed, 0);
            if (!decision.Retry)
            {
                Assert.Equal("Gave up after 4 attempts.", decision.Reason);
                break;
            }

            waits.Add(decision.Delay.TotalSeconds);
            elapsed += decision.Delay;
        }

        Assert.Equal(4, attempt);
        Assert.Equal(new[] { 1.0, 2, 4 }, waits);
    }

    [Fact]
    public void Connection_failures_are_retried_like_server_errors()
    {
        var decision = new WebhookRetryPolicy().Decide(2, null, null, TimeSpan.Zero, 0);
        Assert.True(decision.Retry);
        Assert.Equal(TimeSpan.FromSeconds(2), decision.Delay);
    }

    [Fact]
    public void Retry_after_replaces_the_backoff_up_to_the_cap()
    {
        var policy = new WebhookRetryPolicy();
        Assert.Equal(TimeSpan.FromSeconds(3), policy.Decide(1, 429, TimeSpan.FromSeconds(3), TimeSpan.Zero, 0).Delay);
        Assert.Equal(TimeSpan.Zero, policy.Decide(1, 429, TimeSpan.Zero, TimeSpan.Zero, 0).Delay);
        Assert.Equal(TimeSpan.FromSeconds(30), policy.Decide(1, 503, TimeSpan.FromSeconds(30), TimeSpan.Zero, 0).Delay);

        var tooLong = policy.Decide(1, 429, TimeSpan.FromSeconds(31), TimeSpan.Zero, 0);
        Assert.False(tooLong.Retry);
        Assert.Contains("Retry-After", tooLong.Reason, StringComparison.Ordinal);
        Assert.Contains("31 s", tooLong.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void No_wait_runs_past_the_total_time_limit()
    {
        var policy = new WebhookRetryPolicy { TotalTimeout = TimeSpan.FromSeconds(20), MaxAttempts = 10 };
        Assert.True(policy.Decide(1, 429, TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(9), 0).Retry);
        var decision = policy.Decide(1, 429, TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(10), 0);
        Assert.False(decision.Retry);
        Assert.Contains("20 s limit", decision.Reason, StringComparison.Ordinal);

        Assert.Equal(TimeSpan.FromSeconds(10), policy.NextAttemptTimeout(TimeSpan.FromSeconds(5)));
        Assert.Equal(TimeSpan.FromSeconds(4), policy.NextAttemptTimeout(TimeSpan.FromSeconds(16)));
        Assert.Equal(TimeSpan.Zero, policy.NextAttemptTimeout(TimeSpan.FromSeconds(25)));
    }
}

public class SlackWebhookAddressTests
{
    private const string Token = "XyZ0123456789abcdefTOKEN";
    private const string SlackUrl = "https://hooks.slack.com/services/T0AAAA1111/B0BBBB2222/" + Token;

    [Theory]
    [InlineData(SlackUrl, "hooks.slack.com")]
    [InlineData("http://127.0.0.1:5555/hook/abc", "127.0.0.1:5555")]
    [InlineData("http://localhost:5555/hook/abc", "localhost:5555")]
    [InlineData("https://chat.example:8443/hooks/abc", "chat.example:8443")]
    public void Accepts_https_and_loopback_http(string url, string host)
    {
        Assert.Equal(host, WebhookAddress.Parse(url, new SecretRedactor()).Host);
    }

    [Theory]
    [InlineData("http://hooks.slack.com/services/T0AAAA1111/B0BBBB2222/" + Token)]
    [InlineData("ftp://hooks.slack.com/services/T0AAAA1111/B0BBBB2222/" + Token)]
    [InlineData("hooks.slack.com/services/T0AAAA1111/B0BBBB2222/" + Token)]
    [InlineData("/services/T0AAAA1111/B0BBBB2222/" + Token)]
    [InlineData("https://hooks.slack.com/")]
    [InlineData("http://10.0.0.5/services/" + Token)]
    public void Refuses_everything_else_without_quoting_it(string url)
    {
        var ex = Assert.Throws<VaultException>(() => WebhookAddress.Parse(url, new SecretRedactor()));
        Assert.Equal("InvalidWebhookUrl", ex.ErrorId);
        Assert.DoesNotContain(Token, ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("/services", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(Token, ex.RecommendedAction ?? "", StringComparison.Ordinal);
    }

    [Fact]
    public void Registers_the_url_its_path_and_its_token_as_secrets()
    {
        var redactor = new SecretRedactor();
        WebhookAddress.Parse(SlackUrl, redactor);
        Assert.Equal("posting to *** failed", redactor.Redact($"posting to {SlackUrl} failed"));
        Assert.Equal("POST *** HTTP/1.1", redactor.Redact("POST /services/T0AAAA1111/B0BBBB2222/" + Token + " HTTP/1.1"));
        Assert.Equal("token ***, team ***", redactor.Redact($"token {Token}, team T0AAAA1111"));
        // Ordinary words of the path are not hidden everywhere.
        Assert.Equal("the services are up", redactor.Redact("the services are up"));
    }
}

/// <summary>The sender against a real HTTP server on 127.0.0.1 (with short waits, so it stays fast).</summary>
public sealed class SlackWebhookSenderTests : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly ConcurrentQueue<string> _bodies = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _server;
    private readonly Queue<int> _statuses;
    private readonly int _port;

    public SlackWebhookSenderTests()
    {
        _statuses = new Queue<int>();
        _port = TestPorts.Free();
        _listener.Prefixes.Add($"http://127.0.0.1:{_port}/");
        _listener.Start();
        _server = Task.Run(ServeAsync);
    }

    private string Url => $"http://127.0.0.1:{_port}/services/T0TEST0001/B0TEST0002/SECRETTOKEN0123456789";

    private static WebhookRetryPolicy FastPolicy(int attempts) => new()
    {
        MaxAttempts = attempts,
        BaseDelay = TimeSpan.FromMilliseconds(20),
        MaxDelay = TimeSpan.FromMilliseconds(50),
        AttemptTimeout = TimeSpan.FromSeconds(5),
    };

    [Fact]
    public async Task Retries_server_errors_until_delivered()
    {
        lock (_statuses)
        {
            _statuses.Enqueue(500);
            _statuses.Enqueue(503);
        }

        var redactor = new SecretRedactor();
        var address = WebhookAddress.Parse(Url, redactor);
        var message = SlackMessage.ForText("hello", redactor);
        var result = await WebhookSender.SendAsync(address, message, FastPolicy(4), redactor, NullReporter.Instance, CancellationToken.None);
        Assert.True(result.Delivered);
        Assert.Equal(3, result.Attempts);
        Assert.Equal(200, result.StatusCode);
        Assert.Equal(3, _bodies.Count);
        Assert.All(_bodies, body => Assert.Equal(message.ToJson(), body));
    }

    [Fact]
    public async Task Gives_up_without_throwing_and_keeps_the_url_out_of_the_error()
    {
        lock (_statuses)
        {
            for (var i = 0; i < 10; i++)
            {
                _statuses.Enqueue(500);
            }
        }

        var redactor = new SecretRedactor();
        var address = WebhookAddress.Parse(Url, redactor);
        var result = await WebhookSender.SendAsync(address, SlackMessage.ForText("hello", redactor), FastPolicy(3), redactor, NullReporter.Instance, CancellationToken.None);
        Assert.False(result.Delivered);
        Assert.Equal(3, result.Attempts);
        Assert.Equal(500, result.StatusCode);
        Assert.Contains("HTTP 500", result.Error, StringComparison.Ordinal);
        Assert.Contains("Gave up after 3 attempts.", result.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("SECRETTOKEN", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_refused_connection_is_a_result_not_an_exception()
    {
        var redactor = new SecretRedactor();
        var closed = TestPorts.Free();
        var address = WebhookAddress.Parse($"http://127.0.0.1:{closed}/services/T0TEST0001/B0TEST0002/SECRETTOKEN0123456789", redactor);
        var result = await WebhookSender.SendAsync(address, SlackMessage.ForText("hello", redactor), FastPolicy(2), redactor, NullReporter.Instance, CancellationToken.None);
        Assert.False(result.Delivered);
        Assert.Equal(2, result.Attempts);
        Assert.Null(result.StatusCode);
        Assert.Contains($"Could not reach the webhook on 127.0.0.1:{closed}", result.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("SECRETTOKEN", result.Error, StringComparison.Ordinal);
    }

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

            using (var reader = new StreamReader(context.Request.InputStream, Encoding.UTF8))
            {
                _bodies.Enqueue(await reader.ReadToEndAsync());
            }

            int status;
            lock (_statuses)
            {
                status = _statuses.Count > 0 ? _statuses.Dequeue() : 200;
            }

            context.Response.StatusCode = status;
            var bytes = Encoding.UTF8.GetBytes(status == 200 ? "ok" : "server_error");
            await context.Response.OutputStream.WriteAsync(bytes);
            context.Response.Close();
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Close();
        try
        {
            _server.Wait(TimeSpan.FromSeconds(5));
        }
        catch (AggregateException)
        {
            // The server loop ends with the listener.
        }

        _stop.Dispose();
    }
}
