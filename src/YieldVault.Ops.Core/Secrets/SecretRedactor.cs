using System;
using System.Collections.Generic;
using System.Linq;
using System.Text.RegularExpressions;

namespace YieldVault.Ops;

/// <summary>
/// The one place text is cleaned of secrets before it is shown, logged or journaled: values registered
/// as secret (env file values, API keys, webhook URLs) and passwords in URLs.
/// </summary>
public sealed class SecretRedactor
{
    public const string Mask = "***";

    // scheme://user:password@host -> scheme://user:***@host
    private static readonly Regex UrlPassword = new(@"(?<prefix>[a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/@]*:)(?<secret>[^\s@/]+)(?=@)",
        RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));

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

        return UrlPassword.Replace(result, m => m.Groups["prefix"].Value + Mask);
    }
}
