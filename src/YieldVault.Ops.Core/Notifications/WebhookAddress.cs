using System;
using System.Linq;

namespace YieldVault.Ops.Notifications;

/// <summary>
/// A validated webhook URL. The URL is a secret (whoever has it can post to the channel): it is
/// registered with the redactor before it is looked at, no message built here quotes it, and only
/// <see cref="Host"/> is ever shown.
/// </summary>
public sealed class WebhookAddress
{
    private const int MaxLength = 2048;

    private WebhookAddress(Uri uri) => Uri = uri;

    public Uri Uri { get; }

    /// <summary>"hooks.slack.com" or "127.0.0.1:5678": the only part of the URL that is ever shown.</summary>
    public string Host => HostOf(Uri);

    /// <summary>
    /// Registers <paramref name="value"/> and its parts with <paramref name="redactor"/>, then checks it is an
    /// https:// URL (http:// only to a loopback address, for tests). Throws <c>InvalidWebhookUrl</c>.
    /// </summary>
    public static WebhookAddress Parse(string value, SecretRedactor redactor)
    {
        if (value is null)
        {
            throw new ArgumentNullException(nameof(value));
        }

        if (redactor is null)
        {
            throw new ArgumentNullException(nameof(redactor));
        }

        value = value.Trim();
        RegisterSecrets(value, redactor);
        const string Action = "Pass the incoming webhook URL Slack shows for the app (https://hooks.slack.com/services/...), as a SecureString to -WebhookUrl or in $env:YIELDVAULT_SLACK_WEBHOOK_URL.";
        if (value.Length == 0 || value.Length > MaxLength || !Uri.TryCreate(value, UriKind.Absolute, out var uri))
        {
            throw new VaultException(ErrorIds.InvalidWebhookUrl, VaultErrorKind.InvalidArgument,
                $"The webhook URL is not an absolute URL of at most {MaxLength} characters (the value is not shown: it is a secret). Nothing was sent.", Action);
        }

        RegisterSecrets(uri.AbsoluteUri, redactor);
        var https = string.Equals(uri.Scheme, Uri.UriSchemeHttps, StringComparison.OrdinalIgnoreCase);
        var loopbackHttp = string.Equals(uri.Scheme, Uri.UriSchemeHttp, StringComparison.OrdinalIgnoreCase) && uri.IsLoopback;
        if (!https && !loopbackHttp)
        {
            throw new VaultException(ErrorIds.InvalidWebhookUrl, VaultErrorKind.InvalidArgument,
                "The webhook URL must be an https:// URL (http:// is accepted only for 127.0.0.1 or localhost, for tests); the value is not shown: it is a secret. Nothing was sent.", Action);
        }

        if (uri.AbsolutePath.Length <= 1 && uri.Query.Length == 0)
        {
            throw new VaultException(ErrorIds.InvalidWebhookUrl, VaultErrorKind.InvalidArgument,
                $"The webhook URL for {HostOf(uri)} has no path; an incoming webhook URL carries its token in the path. Nothing was sent.", Action);
        }

        return new WebhookAddress(uri);
    }

    private static string HostOf(Uri uri) => uri.IsDefaultPort ? uri.Host : $"{uri.Host}:{uri.Port}";

    /// <summary>The whole URL, its path and query (escaped and not), and every path segment that looks like a token.</summary>
    internal static void RegisterSecrets(string value, SecretRedactor redactor)
    {
        redactor.Add(value);
        var schemeEnd = value.IndexOf("://", StringComparison.Ordinal);
        var pathStart = schemeEnd < 0 ? -1 : value.IndexOf('/', schemeEnd + 3);
        var rest = pathStart < 0 ? value : value.Substring(pathStart);
        if (rest.Length > 1)
        {
            redactor.Add(rest);
            redactor.Add(SafeUnescape(rest));
            var query = rest.IndexOf('?');
            if (query > 1)
            {
                redactor.Add(rest.Substring(0, query));
                redactor.Add(rest.Substring(query + 1));
            }
        }

        // Slack's path is /services/T.../B.../<token>: hide the ids and the token on their own too, but not
        // plain words such as "services" or "webhooks" that also occur in ordinary messages.
        foreach (var segment in rest.Split(new[] { '/', '?', '&', '=', '#' }, StringSplitOptions.RemoveEmptyEntries))
        {
            if (segment.Length >= 8 && segment.Any(c => c is not (>= 'a' and <= 'z') and not '-' and not '_'))
            {
                redactor.Add(segment);
                redactor.Add(SafeUnescape(segment));
            }
        }
    }

    private static string SafeUnescape(string value)
    {
        try
        {
            return Uri.UnescapeDataString(value);
        }
        catch (UriFormatException)
        {
            return value;
        }
    }
}
