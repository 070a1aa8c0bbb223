using System;
using System.Globalization;

namespace YieldVault.Ops.Notifications;

/// <summary>Whether to post again after a failed attempt, and after how long.</summary>
public readonly struct RetryDecision
{
    private RetryDecision(bool retry, TimeSpan delay, string? reason)
    {
        Retry = retry;
        Delay = delay;
        Reason = reason;
    }

    public bool Retry { get; }

    public TimeSpan Delay { get; }

    /// <summary>Why there is no retry.</summary>
    public string? Reason { get; }

    public static RetryDecision After(TimeSpan delay) => new(true, delay, null);

    public static RetryDecision Stop(string reason) => new(false, TimeSpan.Zero, reason);
}

/// <summary>
/// How hard a notification is pushed: a bounded number of attempts, each bounded in time, within a total
/// time limit. 429 and 5xx answers, refused connections and timeouts are retried (after the webhook's
/// Retry-After when it sends one, else after an exponential backoff); other answers are final.
/// </summary>
public sealed class WebhookRetryPolicy
{
    public int MaxAttempts { get; init; } = 4;

    public TimeSpan AttemptTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>The whole delivery, waits included: a notification never holds a pipeline longer.</summary>
    public TimeSpan TotalTimeout { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>The first backoff; each next one doubles, up to <see cref="MaxDelay"/>.</summary>
    public TimeSpan BaseDelay { get; init; } = TimeSpan.FromSeconds(1);

    public TimeSpan MaxDelay { get; init; } = TimeSpan.FromSeconds(8);

    /// <summary>Up to this fraction is added to each backoff, so that many servers notifying at once do not retry in step.</summary>
    public double Jitter { get; init; } = 0.2;

    /// <summary>The longest Retry-After that is waited for. A longer one ends the retries: posting earlier than asked would only be refused again.</summary>
    public TimeSpan RetryAfterCap { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>429 (rate limited) and every 5xx: worth another attempt. Anything else (400 invalid_payload, 403 invalid_token, 404 no_service, 410 channel_is_archived) is not.</summary>
    public static bool IsRetryable(int statusCode) => statusCode == 429 || (statusCode >= 500 && statusCode <= 599);

    /// <summary>
    /// The wait after <paramref name="failedAttempts"/> failed attempts (1 = after the first):
    /// BaseDelay × 2^(n-1), at most MaxDelay, plus up to Jitter of it (<paramref name="random01"/> in [0, 1)).
    /// </summary>
    public TimeSpan Backoff(int failedAttempts, double random01)
    {
        var exponent = Math.Min(Math.Max(failedAttempts, 1) - 1, 30);
        var ms = Math.Min(BaseDelay.TotalMilliseconds * Math.Pow(2, exponent), MaxDelay.TotalMilliseconds);
        var jitter = Math.Min(Math.Max(random01, 0), 1) * Math.Max(Jitter, 0);
        return TimeSpan.FromMilliseconds(Math.Round(ms * (1 + jitter)));
    }

    /// <summary>
    /// A Retry-After header: delay-seconds ("30") or an HTTP date ("Wed, 21 Oct 2015 07:28:00 GMT", a date
    /// in the past meaning now). Null when absent or unreadable (the backoff applies then).
    /// </summary>
    public static TimeSpan? ParseRetryAfter(string? value, DateTimeOffset now)
    {
        if (value is null)
        {
            return null;
        }

        var text = value.Trim();
        if (text.Length == 0)
        {
            return null;
        }

        if (IsDigits(text))
        {
            // Too many digits to fit is still a valid (absurdly long) wait: larger than any cap.
            return long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds) && seconds <= (long)TimeSpan.MaxValue.TotalSeconds
                ? TimeSpan.FromSeconds(seconds)
                : TimeSpan.MaxValue;
        }

        // RFC 7231 IMF-fixdate, and the obsolete RFC 850 and asctime forms recipients must accept.
        string[] formats = { "r", "dddd, dd-MMM-yy HH:mm:ss 'GMT'", "ddd MMM d HH:mm:ss yyyy", "ddd MMM  d HH:mm:ss yyyy" };
        if (DateTimeOffset.TryParseExact(text, formats, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AllowInnerWhite, out var date))
        {
            var wait = date - now;
            return wait > TimeSpan.Zero ? wait : TimeSpan.Zero;
        }

        return null;
    }

    /// <summary>
    /// What to do after attempt number <paramref name="attempt"/> failed with <paramref name="statusCode"/>
    /// (null: no answer, the connection failed or timed out), <paramref name="elapsed"/> into the delivery.
    /// </summary>
    public RetryDecision Decide(int attempt, int? statusCode, TimeSpan? retryAfter, TimeSpan elapsed, double random01)
    {
        if (statusCode is { } code && !IsRetryable(code))
        {
            return RetryDecision.Stop($"HTTP {code} is final; not retried.");
        }

        if (attempt >= MaxAttempts)
        {
            return RetryDecision.Stop(string.Format(CultureInfo.InvariantCulture, "Gave up after {0} attempt{1}.", attempt, attempt == 1 ? "" : "s"));
        }

        TimeSpan delay;
        if (retryAfter is { } asked)
        {
            if (asked > RetryAfterCap)
            {
                return RetryDecision.Stop(string.Format(CultureInfo.InvariantCulture,
                    "The webhook asked to wait {0} (Retry-After), longer than the {1} this cmdlet waits; not retried.", Seconds(asked), Seconds(RetryAfterCap)));
            }

            delay = asked;
        }
        else
        {
            delay = Backoff(attempt, random01);
        }

        if (elapsed + delay >= TotalTimeout)
        {
            return RetryDecision.Stop(string.Format(CultureInfo.InvariantCulture,
                "Another attempt after {0} would pass the {1} limit for the whole delivery; not retried.", Seconds(delay), Seconds(TotalTimeout)));
        }

        return RetryDecision.After(delay);
    }

    /// <summary>The timeout of the next attempt: the per-attempt one, or what is left of the total.</summary>
    public TimeSpan NextAttemptTimeout(TimeSpan elapsed)
    {
        var left = TotalTimeout - elapsed;
        return left < AttemptTimeout ? (left > TimeSpan.Zero ? left : TimeSpan.Zero) : AttemptTimeout;
    }

    internal static string Seconds(TimeSpan value) =>
        value == TimeSpan.MaxValue ? "forever" : value.TotalSeconds.ToString("0.#", CultureInfo.InvariantCulture) + " s";

    private static bool IsDigits(string text)
    {
        foreach (var c in text)
        {
            if (c is < '0' or > '9')
            {
                return false;
            }
        }

        return true;
    }
}
