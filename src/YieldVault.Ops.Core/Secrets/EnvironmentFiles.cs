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
/// Reads env files the way dotenv does (KEY=VALUE, quotes, comments, "export"). Every value read is a
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

    /// <summary>Parses dotenv text. Lines that are not assignments are skipped, as dotenv does.</summary>
    public static IReadOnlyDictionary<string, string> Parse(string text)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        var lines = text.Replace("\r\n", "\n").Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i].Trim();
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }

            if (line.StartsWith("export ", StringComparison.Ordinal))
            {
                line = line.Substring(7).TrimStart();
            }

            var equals = line.IndexOf('=');
            if (equals <= 0)
            {
                continue;
            }

            var key = line.Substring(0, equals).Trim();
            if (!IsValidName(key))
            {
                continue;
            }

            var value = line.Substring(equals + 1).Trim();
            if (value.Length > 0 && (value[0] == '"' || value[0] == '\'' || value[0] == '`'))
            {
                var quote = value[0];
                var builder = new StringBuilder(value.Substring(1));
                // A quoted value may span lines until its closing quote.
                while (builder.ToString().IndexOf(quote) < 0 && i + 1 < lines.Length)
                {
                    builder.Append('\n').Append(lines[++i]);
                }

                var body = builder.ToString();
                var close = body.IndexOf(quote);
                value = close >= 0 ? body.Substring(0, close) : body;
                if (quote == '"')
                {
                    value = value.Replace("\\n", "\n");
                }
            }
            else
            {
                var comment = value.IndexOf(" #", StringComparison.Ordinal);
                if (comment >= 0)
                {
                    value = value.Substring(0, comment).TrimEnd();
                }
            }

            values[key] = value;
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
