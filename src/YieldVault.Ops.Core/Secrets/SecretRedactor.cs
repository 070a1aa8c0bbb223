using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;

namespace YieldVault.Ops;

/// <summary>
/// The one place text is cleaned of secrets before it is shown, logged or journaled: values registered
/// as secret (env file values, API keys, webhook URLs, registry passwords), credentials in URLs (the password, and
/// for http(s) the whole user part: a token is often the user name), and signatures and tokens in query strings
/// (presigned artifact URLs).
/// </summary>
/// <remarks>
/// A registered value of <see cref="MinimumLength"/> characters or more is hidden wherever it appears, digits too, also
/// in its JSON-escaped and URL-encoded forms. A shorter one cannot be hidden reliably (masking "ab" or "42" everywhere
/// would mangle ordinary output and still show the secret by its absence), so it is not hidden; a named secret that
/// short gets one warning per redactor (one per cmdlet call).
/// </remarks>
public sealed class SecretRedactor
{
    public const string Mask = "***";

    /// <summary>The shortest registered value that is hidden.</summary>
    public const int MinimumLength = 4;

    // Query parameters whose value is a credential, compared without '-', '_' and '.' and ignoring case: the
    // parameter's name is one of these or ends with one (X-Amz-Signature, X-Amz-Credential, X-Amz-Security-Token,
    // X-Goog-Signature, sig, Signature, Policy, token, access_token, code, api_key, client_secret, password ...).
    private static readonly string[] CredentialParameterEndings =
    {
        "sig", "signature", "credential", "credentials", "token", "secret", "password", "passwd", "pwd", "key", "apikey", "policy", "code", "auth",
    };

    private readonly object _lock = new();
    private List<string> _secrets = new();
    private bool _warnedTooShort;

    /// <summary>Registers a value to hide. Values shorter than <see cref="MinimumLength"/> are skipped silently (fragments of a URL, ordinary settings).</summary>
    public void Add(string? secret) => Add(secret, null);

    /// <summary>
    /// Registers a value to hide, with what it is (an env variable's name, "the API key") for the warning when it is
    /// too short to hide. The name is shown, never the value.
    /// </summary>
    public void Add(string? secret, string? name)
    {
        if (string.IsNullOrEmpty(secret))
        {
            return;
        }

        if (secret!.Length < MinimumLength)
        {
            if (name is not null)
            {
                WarnTooShort(name);
            }

            return;
        }

        lock (_lock)
        {
            var added = _secrets;
            foreach (var form in FormsOf(secret))
            {
                if (form.Length >= MinimumLength && !added.Contains(form, StringComparer.Ordinal))
                {
                    added = added.Append(form).ToList();
                }
            }

            // Longest first, so a secret that contains another is hidden whole.
            _secrets = added.OrderByDescending(s => s.Length).ToList();
        }
    }

    public int Count => _secrets.Count;

    public string Redact(string? text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return text ?? "";
        }

        var result = text!;
        foreach (var secret in _secrets)
        {
            result = result.Replace(secret, Mask);
        }

        return MaskQueryCredentials(MaskUrlCredentials(result));
    }

    // The value as it is written in JSON (journal lines, engine errors) and in a URL, besides itself.
    private static IEnumerable<string> FormsOf(string secret)
    {
        yield return secret;
        var json = Newtonsoft.Json.JsonConvert.ToString(secret);
        yield return json.Substring(1, json.Length - 2);
        yield return Uri.EscapeDataString(secret);
    }

    private void WarnTooShort(string name)
    {
        lock (_lock)
        {
            if (_warnedTooShort)
            {
                return;
            }

            _warnedTooShort = true;
        }

        Reporting.Current.Warning($"The secret {name} is shorter than {MinimumLength} characters, too short to hide reliably: it is not masked in output. " +
            $"Use a secret of at least {MinimumLength} characters (a real one is far longer).");
    }

    /// <summary>
    /// scheme://user:password@host becomes scheme://user:***@host; for http and https (also git+https) the whole user
    /// part goes (https://***@host), since a token is often the user name. One linear pass, no regex.
    /// </summary>
    private static string MaskUrlCredentials(string text)
    {
        var start = text.IndexOf("://", StringComparison.Ordinal);
        if (start < 0)
        {
            return text;
        }

        var output = new StringBuilder(text.Length);
        var copied = 0;
        while (start >= 0)
        {
            var authority = start + 3;
            var end = authority;
            while (end < text.Length && !char.IsWhiteSpace(text[end]) && text[end] != '/' && text[end] != '"' && text[end] != '\'')
            {
                end++;
            }

            var at = text.LastIndexOf('@', end - 1, end - authority);
            if (at > authority && IsHttpScheme(text, start))
            {
                output.Append(text, copied, authority - copied).Append(Mask);
                copied = at;
            }
            else
            {
                var colon = at > authority ? text.IndexOf(':', authority, at - authority) : -1;
                if (colon >= 0 && at - colon > 1)
                {
                    output.Append(text, copied, colon + 1 - copied).Append(Mask);
                    copied = at;
                }
            }

            start = end < text.Length ? text.IndexOf("://", end, StringComparison.Ordinal) : -1;
        }

        return output.Append(text, copied, text.Length - copied).ToString();
    }

    // The scheme before "://" at separator: http or https, alone or after a '+' (git+https).
    private static bool IsHttpScheme(string text, int separator)
    {
        var begin = separator;
        while (begin > 0 && (char.IsLetterOrDigit(text[begin - 1]) || text[begin - 1] is '+' or '.' or '-'))
        {
            begin--;
        }

        var scheme = text.Substring(begin, separator - begin);
        var plus = scheme.LastIndexOf('+');
        var last = plus >= 0 ? scheme.Substring(plus + 1) : scheme;
        return last.Equals("http", StringComparison.OrdinalIgnoreCase) || last.Equals("https", StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>?X-Amz-Signature=abc&amp;v=1 becomes ?X-Amz-Signature=***&amp;v=1, wherever a query string appears. One linear pass.</summary>
    private static string MaskQueryCredentials(string text)
    {
        if (text.IndexOf('=') < 0)
        {
            return text;
        }

        StringBuilder? output = null;
        var copied = 0;
        var i = 0;
        while (i < text.Length)
        {
            if (text[i] != '?' && text[i] != '&')
            {
                i++;
                continue;
            }

            var nameStart = i + 1;
            var nameEnd = nameStart;
            while (nameEnd < text.Length && (char.IsLetterOrDigit(text[nameEnd]) || text[nameEnd] is '-' or '_' or '.'))
            {
                nameEnd++;
            }

            if (nameEnd == nameStart || nameEnd >= text.Length || text[nameEnd] != '=')
            {
                i = nameEnd > nameStart ? nameEnd : i + 1;
                continue;
            }

            var valueStart = nameEnd + 1;
            var valueEnd = valueStart;
            while (valueEnd < text.Length && !char.IsWhiteSpace(text[valueEnd]) && text[valueEnd] is not ('&' or '#' or '"' or '\'' or '<' or '>' or '`'))
            {
                valueEnd++;
            }

            if (valueEnd > valueStart && IsCredentialParameter(text, nameStart, nameEnd) && !IsMask(text, valueStart, valueEnd))
            {
                output ??= new StringBuilder(text.Length);
                output.Append(text, copied, valueStart - copied).Append(Mask);
                copied = valueEnd;
            }

            i = valueEnd;
        }

        return output is null ? text : output.Append(text, copied, text.Length - copied).ToString();
    }

    private static bool IsMask(string text, int start, int end) => end - start == Mask.Length && string.CompareOrdinal(text, start, Mask, 0, Mask.Length) == 0;

    private static bool IsCredentialParameter(string text, int start, int end)
    {
        var name = new StringBuilder(end - start);
        for (var i = start; i < end; i++)
        {
            if (char.IsLetterOrDigit(text[i]))
            {
                name.Append(char.ToLowerInvariant(text[i]));
            }
        }

        var compact = name.ToString();
        return CredentialParameterEndings.Any(ending => compact.EndsWith(ending, StringComparison.Ordinal));
    }
}
