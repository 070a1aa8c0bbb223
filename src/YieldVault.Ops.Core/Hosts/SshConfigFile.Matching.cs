using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;

namespace YieldVault.Ops.Hosts;

/// <summary>How Host patterns and Match criteria match a host, as ssh matches them.</summary>
public static partial class SshConfigFile
{
    private static bool HostMatches(List<string> patterns, string host, string source, int line)
    {
        if (patterns.Count == 0)
        {
            throw Invalid(source, line, "'Host' needs at least one pattern");
        }

        var matched = false;
        foreach (var pattern in patterns)
        {
            var negated = pattern.StartsWith("!", StringComparison.Ordinal);
            if (PatternMatches(negated ? pattern.Substring(1) : pattern, host))
            {
                if (negated)
                {
                    return false;
                }

                matched = true;
            }
        }

        return matched;
    }

    private static bool MatchMatches(List<string> args, State state, string source, int line)
    {
        if (args.Count == 0)
        {
            throw Invalid(source, line, "'Match' needs criteria");
        }

        var result = true;
        for (var i = 0; i < args.Count; i++)
        {
            var criterion = args[i];
            var negated = criterion.StartsWith("!", StringComparison.Ordinal);
            var name = (negated ? criterion.Substring(1) : criterion).ToLowerInvariant();
            bool hit;
            if (name == "all")
            {
                hit = true;
            }
            else if (name is "canonical" or "final")
            {
                // This module does no canonicalization and evaluates the config once.
                hit = false;
            }
            else
            {
                if (i + 1 >= args.Count)
                {
                    throw Invalid(source, line, $"Match criterion '{name}' needs a value");
                }

                var value = args[++i];
                hit = name switch
                {
                    "host" => ListMatches(value, state.HostName ?? state.OriginalHost),
                    "originalhost" => ListMatches(value, state.OriginalHost),
                    "user" => ListMatches(value, state.ExplicitUser ?? state.User ?? LocalUserName()),
                    "localuser" => ListMatches(value, LocalUserName()),

                    // exec would run a command, and tagged/localnetwork/address need what only ssh knows: never matched.
                    _ => false,
                };
            }

            result &= negated ? !hit : hit;
        }

        return result;
    }

    // A comma-separated pattern list, as Match uses: any match, unless a negated one matches.
    private static bool ListMatches(string list, string value)
    {
        var matched = false;
        foreach (var pattern in list.Split(','))
        {
            var negated = pattern.StartsWith("!", StringComparison.Ordinal);
            if (PatternMatches(negated ? pattern.Substring(1) : pattern, value))
            {
                if (negated)
                {
                    return false;
                }

                matched = true;
            }
        }

        return matched;
    }

    /// <summary>OpenSSH's pattern: * any run of characters, ? one character, compared ignoring case.</summary>
    public static bool PatternMatches(string pattern, string value)
    {
        int p = 0, v = 0, star = -1, mark = 0;
        while (v < value.Length)
        {
            if (p < pattern.Length && (pattern[p] == '?' || char.ToLowerInvariant(pattern[p]) == char.ToLowerInvariant(value[v])))
            {
                p++;
                v++;
            }
            else if (p < pattern.Length && pattern[p] == '*')
            {
                star = p++;
                mark = v;
            }
            else if (star >= 0)
            {
                p = star + 1;
                v = ++mark;
            }
            else
            {
                return false;
            }
        }

        while (p < pattern.Length && pattern[p] == '*')
        {
            p++;
        }

        return p == pattern.Length;
    }

    // File names compare with case (the file system does); host patterns do not.
    private static bool PatternMatchesExact(string pattern, string value) =>
        PatternMatches(pattern, value) && (pattern.IndexOfAny(new[] { '*', '?' }) >= 0 || string.Equals(pattern, value, StringComparison.Ordinal));
}
