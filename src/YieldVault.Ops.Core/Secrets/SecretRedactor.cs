using System;
using System.Collections.Generic;
using System.Linq;

namespace YieldVault.Ops;

/// <summary>
/// The one place text is cleaned of secrets before it is shown, logged or journaled: values registered
/// as secret (env file values, API keys, webhook URLs) and passwords in URLs.
/// </summary>
public sealed class SecretRedactor
{
    public const string Mask = "***";

    private readonly object _lock = new();
    private List<string> _secrets = new();

    /// <summary>Registers a value to hide. Values shorter than 4 characters are ignored: hiding them would mangle ordinary text.</summary>
    public void Add(string? secret)
    {
        if (string.IsNullOrEmpty(secret) || secret!.Length < 4)
        {
            return;
        }

        lock (_lock)
        {
            if (!_secrets.Contains(secret, StringComparer.Ordinal))
            {
                // Longest first, so a secret that contains another is hidden whole.
                _secrets = _secrets.Append(secret).OrderByDescending(s => s.Length).ToList();
            }
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

        return MaskUrlPasswords(result);
    }

    /// <summary>scheme://user:password@host becomes scheme://user:***@host; one linear pass, no regex.</summary>
    private static string MaskUrlPasswords(string text)
    {
        var start = text.IndexOf("://", StringComparison.Ordinal);
        if (start < 0)
        {
            return text;
        }

        var output = new System.Text.StringBuilder(text.Length);
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
            var colon = at > authority ? text.IndexOf(':', authority, at - authority) : -1;
            if (colon >= 0 && at - colon > 1)
            {
                output.Append(text, copied, colon + 1 - copied).Append(Mask);
                copied = at;
            }

            start = end < text.Length ? text.IndexOf("://", end, StringComparison.Ordinal) : -1;
        }

        return output.Append(text, copied, text.Length - copied).ToString();
    }
}
