using System;
using System.Linq;
using System.Text.RegularExpressions;
using YieldVault.Ops.Hosts;

namespace YieldVault.Ops.Services;

/// <summary>Turns pm2's colourful, table-laden output into something that fits an error message.</summary>
internal static class Pm2Output
{
    private static readonly Regex Ansi = new(@"\x1B\[[0-9;?]*[A-Za-z]", RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));

    public static string StripAnsi(string text) => Ansi.Replace(text, "");

    /// <summary>The last lines pm2 said (stderr first), without colours, tables, host metrics or JSON.</summary>
    public static string Tail(CommandResult result, int lines = 5)
    {
        var said = (result.StandardError + "\n" + result.StandardOutput).Replace("\r", "").Split('\n')
            .Select(l => StripAnsi(l).Trim())
            .Where(l => l.Length > 0
                && l.IndexOfAny(new[] { '│', '┌', '└', '├', '─' }) < 0
                && !l.StartsWith("host metrics", StringComparison.Ordinal)
                && !l.StartsWith("[{", StringComparison.Ordinal)
                && !l.StartsWith("{", StringComparison.Ordinal))
            .Select(l => l.Length > 300 ? l.Substring(0, 300) + "..." : l)
            .ToList();
        return said.Count == 0 ? "(no output)" : string.Join(" / ", said.Skip(Math.Max(0, said.Count - lines)));
    }

    /// <summary>"[PM2][ERROR] Process or Namespace &lt;name&gt; not found".</summary>
    public static bool SaysNotFound(CommandResult result, string name) =>
        StripAnsi(result.StandardError + "\n" + result.StandardOutput).Contains("Process or Namespace " + name + " not found");
}
