using System;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Net.Http;
using System.Net.Http.Headers;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

namespace YieldVault.Ops.Notifications;

/// <summary>
/// Posts a message to an incoming webhook, retrying as <see cref="WebhookRetryPolicy"/> says. It never
/// throws for a failed delivery (only when the caller cancels): a notification must not be able to fail
/// the deployment it reports, so failures come back in the result.
/// </summary>
public static class WebhookSender
{
    private const int MaxBodyBytes = 2048;
    private const int MaxShownBody = 200;

    // One client for the module; the proxy settings of the environment apply (loopback bypasses them).
    private static readonly HttpClient Client = CreateClient();

    /// <summary>Delivers <paramref name="message"/>; reports each attempt and wait through <paramref name="reporter"/>.</summary>
    public static async Task<VaultNotificationResult> SendAsync(WebhookAddress address, SlackMessage message, WebhookRetryPolicy policy,
        SecretRedactor redactor, IVaultReporter reporter, CancellationToken cancellationToken)
    {
        if (address is null)
        {
            throw new ArgumentNullException(nameof(address));
        }

        if (message is null)
        {
            throw new ArgumentNullException(nameof(message));
        }

        if (policy is null)
        {
            throw new ArgumentNullException(nameof(policy));
        }

        if (redactor is null)
        {
            throw new ArgumentNullException(nameof(redactor));
        }

        reporter ??= NullReporter.Instance;
        var json = message.ToJson();
        var random = new Random();
        var watch = Stopwatch.StartNew();
        var attempt = 0;
        while (true)
        {
            attempt++;
            var timeout = policy.NextAttemptTimeout(watch.Elapsed);
            reporter.Verbose(string.Format(CultureInfo.InvariantCulture, "Notification attempt {0}/{1}: POST {2} bytes of JSON to the webhook on {3} (timeout {4}).",
                attempt, policy.MaxAttempts, Encoding.UTF8.GetByteCount(json), address.Host, WebhookRetryPolicy.Seconds(timeout)));
            var answer = await PostOnceAsync(address, json, timeout, redactor, cancellationToken).ConfigureAwait(false);
            if (answer.StatusCode is >= 200 and <= 299)
            {
                reporter.Verbose(string.Format(CultureInfo.InvariantCulture, "The webhook on {0} accepted the notification (HTTP {1}) on attempt {2}.", address.Host, answer.StatusCode, attempt));
                return Result(message, true, attempt, answer.StatusCode, null, watch.Elapsed);
            }

            var decision = policy.Decide(attempt, answer.StatusCode, answer.RetryAfter, watch.Elapsed, random.NextDouble());
            if (!decision.Retry)
            {
                return Result(message, false, attempt, answer.StatusCode, redactor.Redact($"{answer.Error} {decision.Reason}"), watch.Elapsed);
            }

            reporter.Verbose(redactor.Redact(string.Format(CultureInfo.InvariantCulture, "{0} Retrying in {1}{2}.", answer.Error, WebhookRetryPolicy.Seconds(decision.Delay),
                answer.RetryAfter is null ? "" : ", as its Retry-After asked")));
            await Task.Delay(decision.Delay, cancellationToken).ConfigureAwait(false);
        }
    }

    private static VaultNotificationResult Result(SlackMessage message, bool delivered, int attempts, int? statusCode, string? error, TimeSpan duration) => new()
    {
        Target = message.Target,
        Delivered = delivered,
        Attempts = attempts,
        StatusCode = statusCode,
        Text = message.Text,
        Error = error,
        Duration = duration,
    };

    private static async Task<Answer> PostOnceAsync(WebhookAddress address, string json, TimeSpan timeout, SecretRedactor redactor, CancellationToken cancellationToken)
    {
        using var timeoutSource = new CancellationTokenSource(timeout);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeoutSource.Token);
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, address.Uri)
            {
                Content = new StringContent(json, Encoding.UTF8, "application/json"),
            };
            using var response = await Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, linked.Token).ConfigureAwait(false);
            var status = (int)response.StatusCode;
            var body = await ReadBodyAsync(response, linked.Token).ConfigureAwait(false);
            TimeSpan? retryAfter = null;
            if (response.Headers.TryGetValues("Retry-After", out var values))
            {
                retryAfter = WebhookRetryPolicy.ParseRetryAfter(values.FirstOrDefault(), response.Headers.Date ?? DateTimeOffset.UtcNow);
            }

            var shown = Shown(body, redactor);
            var error = string.Format(CultureInfo.InvariantCulture, "The webhook on {0} answered HTTP {1} {2}{3}.", address.Host, status, response.ReasonPhrase,
                shown.Length > 0 ? $" ({shown})" : "");
            return new Answer(status, retryAfter, redactor.Redact(error));
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new Answer(null, null, $"The webhook on {address.Host} did not answer within {WebhookRetryPolicy.Seconds(timeout)}.");
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // Refused, reset, DNS or TLS failures; their text names at most the host and port, and is redacted anyway.
            return new Answer(null, null, redactor.Redact($"Could not reach the webhook on {address.Host}: {Innermost(ex).Message}"));
        }
    }

    /// <summary>The start of the answer (Slack's "invalid_token", "no_service"), read with a bound.</summary>
    private static async Task<string> ReadBodyAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        using var stream = await response.Content.ReadAsStreamAsync().ConfigureAwait(false);
        var buffer = new byte[MaxBodyBytes];
        var total = 0;
        try
        {
            while (total < buffer.Length)
            {
                var read = await stream.ReadAsync(buffer, total, buffer.Length - total, cancellationToken).ConfigureAwait(false);
                if (read == 0)
                {
                    break;
                }

                total += read;
            }
        }
        catch (IOException)
        {
            // The status is what counts; a body cut short is still shown as far as it came.
        }

        return Encoding.UTF8.GetString(buffer, 0, total);
    }

    private static string Shown(string body, SecretRedactor redactor)
    {
        var oneLine = string.Join(" ", body.Split(new[] { '\r', '\n', '\t' }, StringSplitOptions.RemoveEmptyEntries)).Trim();
        var clean = new string(oneLine.Where(c => !char.IsControl(c)).ToArray());
        clean = redactor.Redact(clean);
        return clean.Length <= MaxShownBody ? clean : clean.Substring(0, MaxShownBody) + "…";
    }

    private static Exception Innermost(Exception ex)
    {
        while (ex.InnerException is not null)
        {
            ex = ex.InnerException;
        }

        return ex;
    }

    private static HttpClient CreateClient()
    {
        var client = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false })
        {
            Timeout = Timeout.InfiniteTimeSpan,
        };
        var version = typeof(WebhookSender).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";
        client.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("YieldVault.Ops", version));
        return client;
    }

    private readonly struct Answer
    {
        public Answer(int? statusCode, TimeSpan? retryAfter, string error)
        {
            StatusCode = statusCode;
            RetryAfter = retryAfter;
            Error = error;
        }

        public int? StatusCode { get; }

        public TimeSpan? RetryAfter { get; }

        public string Error { get; }
    }
}
