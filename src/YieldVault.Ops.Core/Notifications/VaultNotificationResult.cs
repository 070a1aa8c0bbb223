using System;

namespace YieldVault.Ops;

/// <summary>What Send-VaultNotification did with one message. Never holds the webhook URL.</summary>
public sealed class VaultNotificationResult
{
    /// <summary>The name of the target the deployment ran on; null for a free-text message.</summary>
    public string? Target { get; init; }

    /// <summary>True when the webhook answered 2xx.</summary>
    public bool Delivered { get; init; }

    /// <summary>How many POSTs were made (1 when the first one was delivered).</summary>
    public int Attempts { get; init; }

    /// <summary>The HTTP status of the last answer; null when nothing answered.</summary>
    public int? StatusCode { get; init; }

    /// <summary>The message's <c>text</c> (the line Slack shows in notifications).</summary>
    public string Text { get; init; } = "";

    /// <summary>Why it was not delivered (secrets hidden).</summary>
    public string? Error { get; init; }

    /// <summary>From the first attempt until the last answer, waits included.</summary>
    public TimeSpan Duration { get; init; }
}
