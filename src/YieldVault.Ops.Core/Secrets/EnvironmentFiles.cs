using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using System.Text.RegularExpressions;
using System.Threading;
using System.Threading.Tasks;
using YieldVault.Ops.Hosts;

namespace YieldVault.Ops;

/// <summary>
/// Reads env files the way dotenv does (KEY=VALUE, quotes, comments, "export", KEY: VALUE). Every value read is a
/// secret: it is registered with the redactor before anything else can see it, and only names leave here.
/// </summary>
public static class EnvironmentFiles
{
    private static readonly Regex Name = new("^[A-Za-z_][A-Za-z0-9_]*$", RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));

    public static bool IsValidName(string? name) => name is not null && Name.IsMatch(name);

    // Settings that are plainly not secret; hiding them would mangle ordinary output ("Server started on
    // port ***", "environment ***"). Everything else in an env file is treated as a secret.
    private static readonly string[] PlainKeys =
    {
        "PORT", "HOST", "NODE_ENV", "LOG_FILE", "LOG_LEVEL", "TZ", "SHUTDOWN_DRAIN_MS", "RATE_LIMIT_MAX", "RATE_LIMIT_WINDOW_MS",
        "MAINTENANCE_MODE", "IGNORE_SIGTERM",
    };

    // The last word of a name that makes it a secret's (DB_PASSWORD=12345678, ADMIN_PIN=4821, OTP_SEED=...): then a number is
    // a secret too. The last word, so that PASSWORD_MIN_LENGTH=12 or TOKEN_TTL=3600 stay plain numbers.
    private static readonly string[] SecretWords =
    {
        "KEY", "APIKEY", "SECRET", "TOKEN", "PASSWORD", "PASSWD", "PASS", "PWD", "PIN", "CREDENTIAL", "CREDENTIALS", "SALT", "SEED", "MNEMONIC",
        "SIGNATURE", "OTP", "TOTP",
    };

    /// <summary>
    /// Whether a value from an env file must be hidden wherever text is shown: every value but those of the plain settings
    /// (PORT, NODE_ENV ...), booleans, and numbers unless the name says the value is a secret (<see cref="IsSecretName"/>).
    /// </summary>
    public static bool IsSecret(string key, string value) =>
        Array.IndexOf(PlainKeys, key.ToUpperInvariant()) < 0
        && !bool.TryParse(value, out _)
        && (IsSecretName(key)
            || !long.TryParse(value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out _));

    /// <summary>
    /// Whether a variable's name says its value is a secret: its last word ('_', '.', '-' apart) is KEY, SECRET, TOKEN,
    /// PASSWORD, PIN, SEED ..., or it ends in KEY, TOKEN, SECRET or PASSWORD (APIKEY, ACCESSTOKEN).
    /// </summary>
    public static bool IsSecretName(string key)
    {
        var upper = key.ToUpperInvariant();
        var words = upper.Split('_', '.', '-');
        return Array.IndexOf(SecretWords, words[words.Length - 1]) >= 0
            || new[] { "KEY", "TOKEN", "SECRET", "PASSWORD" }.Any(ending => upper.EndsWith(ending, StringComparison.Ordinal));
    }

    // dotenv's LINE expression (lib/main.js of dotenv 16; dotenv 17 and 18 parse with it by default) with JavaScript's
    // meaning of its classes spelled out: \s is JS whitespace and line terminators, \w is ASCII, ^ and $ of the m flag
    // are line starts and ends. A key is [\w.-]+ (my.key, my-key), "K: v" assigns too, an unquoted value ends at the first
    // '#' (K=a#b is "a"), and a quoted value may span lines.
    private const string JsSpace = "[\\t\\n\\v\\f\\r \\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff]";
    private const string JsLineStart = "(?<=\\A|[\\n\\r\\u2028\\u2029])";
    private const string JsLineEnd = "(?=\\z|[\\n\\r\\u2028\\u2029])";

    // Declared before the expressions: static fields are set in the order they are written.
    private static readonly TimeSpan ParseTimeout = TimeSpan.FromSeconds(5);

    private static readonly Regex DotenvLine = new(
        JsLineStart + JsSpace + "*(?:export" + JsSpace + "+)?([A-Za-z0-9_.-]+)(?:" + JsSpace + "*=" + JsSpace + "*?|:" + JsSpace + "+?)(" +
        JsSpace + "*'(?:\\\\'|[^'])*'|" + JsSpace + "*\"(?:\\\\\"|[^\"])*\"|" + JsSpace + "*`(?:\\\\`|[^`])*`|[^#\\r\\n]+)?" +
        JsSpace + "*(?:#[^\\n\\r\\u2028\\u2029]*)?" + JsLineEnd,
        RegexOptions.CultureInvariant, ParseTimeout);

    // value.replace(/^(['"`])([\s\S]*)\1$/mg, '$2'): the quotes around a value (or around one of its lines) go.
    private static readonly Regex DotenvQuotes = new(JsLineStart + "(['\"`])([\\s\\S]*)\\1" + JsLineEnd, RegexOptions.CultureInvariant, ParseTimeout);

    private static readonly char[] JsTrimmed =
    {
        '\t', '\n', '\v', '\f', '\r', ' ', '\u00a0', '\u1680', '\u2000', '\u2001', '\u2002', '\u2003', '\u2004', '\u2005', '\u2006', '\u2007', '\u2008',
        '\u2009', '\u200a', '\u2028', '\u2029', '\u202f', '\u205f', '\u3000', '\ufeff',
    };

    /// <summary>
    /// Parses dotenv text exactly as dotenv's parse() does (tests compare the two on a table of tricky lines). Lines that
    /// are not assignments are skipped; nothing is expanded; a later assignment of a name wins.
    /// </summary>
    public static IReadOnlyDictionary<string, string> Parse(string text)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        var lines = text.Replace("\r\n", "\n").Replace('\r', '\n');
        try
        {
            for (var match = DotenvLine.Match(lines); match.Success; match = match.NextMatch())
            {
                var value = match.Groups[2].Value.Trim(JsTrimmed);
                var quote = value.Length > 0 ? value[0] : '\0';
                value = DotenvQuotes.Replace(value, "$2");
                if (quote == '"')
                {
                    value = value.Replace("\\n", "\n").Replace("\\r", "\r");
                }

                values[match.Groups[1].Value] = value;
            }
        }
        catch (RegexMatchTimeoutException)
        {
            throw new VaultException(ErrorIds.EnvFileUnreadable, VaultErrorKind.InvalidData,
                $"An env file could not be read as KEY=VALUE lines within {ParseTimeout.TotalSeconds:0} s (a line of unbalanced quotes and backslashes?).",
                "Check the env file's quotes.");
        }

        return values;
    }

    /// <summary>
    /// Reads the target's env file and registers every value as a secret. Returns null when the file is
    /// missing; other failures (permissions) are errors naming the path only.
    /// </summary>
    public static async Task<IReadOnlyDictionary<string, string>?> ReadAsync(VaultTarget target, IHostShell shell, SecretRedactor redactor, CancellationToken cancellationToken)
    {
        var path = target.EnvFilePath;
        var result = await shell.RunAsync(CommandLine.Script("if [ -f \"$1\" ]; then cat -- \"$1\"; else exit 3; fi", path), TimeSpan.FromSeconds(30), cancellationToken).ConfigureAwait(false);
        if (result.ExitCode == 3)
        {
            return null;
        }

        if (!result.Succeeded)
        {
            throw new VaultException(ErrorIds.EnvFileUnreadable, VaultErrorKind.SecurityError,
                $"{target.DisplayName}: could not read the env file {path} (exit code {result.ExitCode}).",
                "Check that the target's user can read the env file.");
        }

        var values = Parse(result.StandardOutput);
        foreach (var pair in values)
        {
            if (IsSecret(pair.Key, pair.Value))
            {
                // Named when the name says it is a secret: one too short to hide is then warned about (once).
                redactor.Add(pair.Value, IsSecretName(pair.Key) ? pair.Key + " in " + target.EnvFilePath : null);
            }
        }

        return values;
    }
}
