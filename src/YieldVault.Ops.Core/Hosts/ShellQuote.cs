using System;
using System.Linq;
using System.Text.RegularExpressions;

namespace YieldVault.Ops.Hosts;

/// <summary>
/// POSIX shell quoting. Every value that reaches a remote shell line goes through here; user input is
/// never concatenated into a command line any other way.
/// </summary>
public static class ShellQuote
{
    private static readonly Regex Plain = new("^[A-Za-z0-9_./:=@%+,-]+$", RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));

    public static string Quote(string value)
    {
        if (value is null)
        {
            throw new ArgumentNullException(nameof(value));
        }

        if (value.IndexOf('\0') >= 0)
        {
            throw new VaultException(ErrorIds.InvalidArgumentCharacter, VaultErrorKind.InvalidArgument,
                "A command argument contains a NUL character, which no shell can pass on.");
        }

        if (value.Length > 0 && Plain.IsMatch(value))
        {
            return value;
        }

        // Inside single quotes nothing is special except the quote itself, which is closed, escaped and reopened.
        return "'" + value.Replace("'", "'\\''") + "'";
    }

    public static string Join(params string[] words) => string.Join(" ", words.Select(Quote));

    /// <summary>
    /// A POSIX shell fragment that makes sure the directory of the file in $1 exists, with shell built-ins only when it
    /// does (no dirname, no mkdir): a run writes its journal, lock and records many times, and each command spawned
    /// costs milliseconds. Its exit status is mkdir's when it has to create the directory.
    /// </summary>
    public const string EnsureParentOfFirstArgument = "{ d=${1%/*}; [ -d \"${d:-/}\" ] || mkdir -p -- \"${d:-/}\"; }";
}
