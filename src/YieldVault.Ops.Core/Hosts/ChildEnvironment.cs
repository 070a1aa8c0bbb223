using System;
using System.Collections;
using System.Collections.Generic;
using System.Linq;
using System.Text.RegularExpressions;

namespace YieldVault.Ops.Hosts;

/// <summary>
/// The environment of a command <see cref="LocalShell"/> runs. Not the operator's whole environment: the shell that runs
/// PowerShell holds webhook URLs, cloud credentials and tokens, and a release's npm scripts (any dependency's install
/// script) run with whatever the command gets. A command gets what programs need to run (PATH, HOME, USER, LOGNAME,
/// SHELL, TERM, TMPDIR, TZ, LANG, LANGUAGE, LC_*), the settings of the tools it runs (PM2_HOME for pm2, NODE_* for
/// node and its package managers, the agent socket for git, the client config for docker), and what the
/// <see cref="CommandLine.Environment"/> sets. Over SSH the server's login environment applies instead.
/// </summary>
public static class ChildEnvironment
{
    private static readonly string[] Always = { "PATH", "HOME", "USER", "LOGNAME", "SHELL", "TERM", "TMPDIR", "TZ", "LANG", "LANGUAGE" };

    private static readonly string[] AlwaysPrefixes = { "LC_" };

    // NODE_AUTH_TOKEN is a registry credential (actions/setup-node writes .npmrc files that read it): not for npm scripts.
    private static readonly string[] NeverPassed = { "NODE_AUTH_TOKEN" };

    private static readonly string[] NodeTools = { "node", "npm", "npx", "pnpm", "yarn", "corepack", "pm2" };

    /// <summary>A tool (a word of the command: its program or a word of its script) and the settings it reads.</summary>
    private static readonly (string[] Tools, string[] Names, string[] Prefixes)[] ToolSettings =
    {
        (new[] { "pm2" }, new[] { "PM2_HOME" }, Array.Empty<string>()),
        (NodeTools, Array.Empty<string>(), new[] { "NODE_" }),
        (new[] { "git" }, new[] { "SSH_AUTH_SOCK", "GIT_SSH", "GIT_SSH_COMMAND" }, Array.Empty<string>()),
        (new[] { "docker" }, new[] { "DOCKER_CONFIG", "DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_CERT_PATH", "DOCKER_TLS_VERIFY" }, Array.Empty<string>()),
    };

    private static readonly Regex WordSeparators = new("[^A-Za-z0-9_-]+", RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));

    /// <summary>The variables of <paramref name="current"/> (this process's environment) that <paramref name="command"/> gets, before its own.</summary>
    public static IReadOnlyDictionary<string, string> For(CommandLine command, IDictionary current)
    {
        var words = WordsOf(command);
        var names = new HashSet<string>(Always, StringComparer.Ordinal);
        var prefixes = new List<string>(AlwaysPrefixes);
        foreach (var (tools, toolNames, toolPrefixes) in ToolSettings)
        {
            if (tools.Any(words.Contains))
            {
                names.UnionWith(toolNames);
                prefixes.AddRange(toolPrefixes);
            }
        }

        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (DictionaryEntry entry in current)
        {
            if (entry.Key is string name && entry.Value is string value && Array.IndexOf(NeverPassed, name) < 0
                && (names.Contains(name) || prefixes.Any(p => name.StartsWith(p, StringComparison.Ordinal))))
            {
                result[name] = value;
            }
        }

        return result;
    }

    // The program's file name, its arguments and, for a script (sh -c '...'), the words of the script: "pm2 jlist",
    // "${PM2_HOME:-$HOME/.pm2}" and "/usr/bin/pm2" all name pm2.
    private static HashSet<string> WordsOf(CommandLine command)
    {
        var words = new HashSet<string>(StringComparer.Ordinal);
        foreach (var text in new[] { command.Program }.Concat(command.Arguments))
        {
            if (text.Length > 64 * 1024)
            {
                continue;
            }

            words.UnionWith(WordSeparators.Split(text).Where(w => w.Length > 0));
        }

        return words;
    }
}
