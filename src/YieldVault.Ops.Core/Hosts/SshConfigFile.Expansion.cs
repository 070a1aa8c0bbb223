using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;

namespace YieldVault.Ops.Hosts;

/// <summary>Include globs, ~, ${VAR} and the % tokens ssh expands in file names.</summary>
public static partial class SshConfigFile
{
    private static IEnumerable<string> ExpandInclude(string pattern, State state, string source, int line)
    {
        var path = ExpandPath(pattern, state, source, line, tokens: false);
        if (!Path.IsPathRooted(path))
        {
            path = Path.Combine(HomeDirectory(), ".ssh", path);
        }

        var directory = Path.GetDirectoryName(path) ?? "/";
        var name = Path.GetFileName(path);
        if (directory.IndexOfAny(new[] { '*', '?' }) >= 0)
        {
            throw Invalid(source, line, $"Include '{pattern}': wildcards are supported in the file name only");
        }

        if (name.IndexOfAny(new[] { '*', '?' }) < 0)
        {
            // Like ssh: a file that is not there is no error.
            return File.Exists(path) ? new[] { path } : Array.Empty<string>();
        }

        if (!Directory.Exists(directory))
        {
            return Array.Empty<string>();
        }

        return Directory.EnumerateFiles(directory)
            .Where(f => PatternMatchesExact(name, Path.GetFileName(f)))
            .OrderBy(f => f, StringComparer.Ordinal)
            .ToList();
    }

    /// <summary>~ and ${VAR}, then (with <paramref name="tokens"/>) the % tokens ssh expands in file names.</summary>
    private static string ExpandPath(string value, State state, string source, int line, bool tokens)
    {
        var text = ExpandVariables(value, source, line);
        if (tokens)
        {
            text = ExpandTokens(text, state, source, line, hostNameOnly: false);
        }

        if (text == "~" || text.StartsWith("~/", StringComparison.Ordinal))
        {
            text = HomeDirectory() + text.Substring(1);
        }

        return text;
    }

    private static string ExpandVariables(string value, string source, int line)
    {
        var output = new StringBuilder();
        for (var i = 0; i < value.Length; i++)
        {
            if (value[i] == '$' && i + 1 < value.Length && value[i + 1] == '{')
            {
                var end = value.IndexOf('}', i + 2);
                if (end < 0)
                {
                    throw Invalid(source, line, $"'{value}' has an unterminated ${{...}}");
                }

                var name = value.Substring(i + 2, end - i - 2);
                output.Append(Environment.GetEnvironmentVariable(name)
                    ?? throw Invalid(source, line, $"'{value}' uses the environment variable {name}, which is not set"));
                i = end;
            }
            else
            {
                output.Append(value[i]);
            }
        }

        return output.ToString();
    }

    private static string ExpandTokens(string value, State state, string source, int line, bool hostNameOnly)
    {
        var output = new StringBuilder();
        for (var i = 0; i < value.Length; i++)
        {
            if (value[i] != '%')
            {
                output.Append(value[i]);
                continue;
            }

            if (i + 1 >= value.Length)
            {
                throw Invalid(source, line, $"'{value}' ends with a lone %");
            }

            var token = value[++i];
            string? expanded = token switch
            {
                '%' => "%",
                'h' when hostNameOnly => state.OriginalHost,
                'h' => state.HostName ?? state.OriginalHost,
                'n' => state.OriginalHost,
                'd' when !hostNameOnly => HomeDirectory(),
                'u' when !hostNameOnly => LocalUserName(),
                'r' when !hostNameOnly => state.ExplicitUser ?? state.User ?? LocalUserName(),
                'p' when !hostNameOnly => (state.Port ?? RunbookDefaults.SshPort).ToString(CultureInfo.InvariantCulture),
                'k' when !hostNameOnly => state.OriginalHost,
                'j' when !hostNameOnly => state.ProxyJump ?? "",
                'L' when !hostNameOnly => LocalHostName().Split('.')[0],
                'l' when !hostNameOnly => LocalHostName(),
                'i' when !hostNameOnly => UserId(),
                'C' when !hostNameOnly => ConnectionHash(state),
                _ => null,
            };

            output.Append(expanded ?? throw Invalid(source, line, $"'{value}' uses the token %{token}, which this module does not expand here (it knows %%, %C, %d, %h, %i, %j, %k, %L, %l, %n, %p, %r and %u)"));
        }

        return output.ToString();
    }
}
