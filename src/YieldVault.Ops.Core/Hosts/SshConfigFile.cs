using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;

namespace YieldVault.Ops.Hosts;

/// <summary>
/// Reads an OpenSSH client config the way ssh does for one host: Host blocks whose patterns (* and ?, !negation)
/// match the name given, Match blocks with the criteria all, host, originalhost, user and localuser (others, such
/// as exec, are never run and count as not matching), and Include (relative to ~/.ssh, * and ? in the file name).
/// For each keyword the first value obtained wins, except IdentityFile, whose values add up. Only the keywords
/// this module uses are read: HostName, Port, User, IdentityFile, ProxyJump, IdentitiesOnly, IdentityAgent and
/// UserKnownHostsFile; every other keyword is left to ssh (StrictHostKeyChecking in particular never relaxes the
/// host key check here).
/// </summary>
public static partial class SshConfigFile
{
    /// <summary>The largest config file read (also bounds a device such as /dev/zero).</summary>
    public const int MaxFileBytes = 1024 * 1024;

    private const int MaxIncludeDepth = 16;

    public static string DefaultPath()
    {
        var home = HomeDirectory();
        return Path.Combine(home, ".ssh", "config");
    }

    /// <summary>Evaluates the config at <paramref name="path"/> for <paramref name="host"/>.</summary>
    /// <param name="path">The config file.</param>
    /// <param name="host">The name as given (an alias or an address).</param>
    /// <param name="user">The user already decided by the caller (explicit setting), used by Match user and %r; null: from the config.</param>
    public static SshHostConfig Resolve(string path, string host, string? user = null)
    {
        var state = new State(host, user);
        Evaluate(path, state, depth: 0, includedFrom: null);
        return state.Finish();
    }

    /// <summary>Evaluates config text (for tests and for one file); Include paths are relative to ~/.ssh.</summary>
    public static SshHostConfig ResolveText(string text, string source, string host, string? user = null)
    {
        var state = new State(host, user);
        EvaluateLines(SplitLines(text), source, state, depth: 0);
        return state.Finish();
    }

    private static void Evaluate(string path, State state, int depth, string? includedFrom)
    {
        if (depth > MaxIncludeDepth)
        {
            throw Invalid(includedFrom ?? path, 0, $"Include is nested more than {MaxIncludeDepth} levels deep (an Include loop?)");
        }

        EvaluateLines(SplitLines(ReadBounded(path)), path, state, depth);
    }

    private static void EvaluateLines(IReadOnlyList<string> lines, string source, State state, int depth)
    {
        // Outside any Host or Match block (the top of a file), settings apply to every host.
        var active = true;
        for (var i = 0; i < lines.Count; i++)
        {
            var lineNumber = i + 1;
            var words = SplitWords(lines[i], source, lineNumber);
            if (words.Count == 0)
            {
                continue;
            }

            var keyword = words[0].ToLowerInvariant();
            var args = words.Skip(1).ToList();
            switch (keyword)
            {
                case "host":
                    active = HostMatches(args, state.OriginalHost, source, lineNumber);
                    state.Matched |= active;
                    continue;
                case "match":
                    active = MatchMatches(args, state, source, lineNumber);
                    state.Matched |= active;
                    continue;
            }

            if (!active)
            {
                continue;
            }

            if (args.Count == 0)
            {
                throw Invalid(source, lineNumber, $"'{words[0]}' has no value");
            }

            switch (keyword)
            {
                case "include":
                    foreach (var pattern in args)
                    {
                        foreach (var file in ExpandInclude(pattern, state, source, lineNumber))
                        {
                            Evaluate(file, state, depth + 1, source);
                        }
                    }

                    break;
                case "hostname":
                    state.HostName ??= ExpandTokens(args[0], state, source, lineNumber, hostNameOnly: true);
                    break;
                case "port":
                    if (state.Port is null)
                    {
                        state.Port = int.TryParse(args[0], NumberStyles.None, CultureInfo.InvariantCulture, out var port) && port is >= 1 and <= 65535
                            ? port
                            : throw Invalid(source, lineNumber, $"Port '{args[0]}' is not a port number (1-65535)");
                    }

                    break;
                case "user":
                    state.User ??= args[0];
                    break;
                case "identityfile":
                    // "IdentityFile none" is no file; every other value adds to the list.
                    if (!args[0].Equals("none", StringComparison.OrdinalIgnoreCase))
                    {
                        state.IdentityFiles.Add((args[0], source, lineNumber));
                    }

                    break;
                case "proxyjump":
                    state.ProxyJump ??= args[0];
                    break;
                case "identitiesonly":
                    state.IdentitiesOnly ??= YesNo(args[0], source, lineNumber, words[0]);
                    break;
                case "identityagent":
                    state.IdentityAgent ??= (args[0], source, lineNumber);
                    break;
                case "userknownhostsfile":
                    state.UserKnownHostsFile ??= (args[0], source, lineNumber);
                    break;
            }
        }
    }

    private static bool YesNo(string value, string source, int line, string keyword) => value.ToLowerInvariant() switch
    {
        "yes" or "true" => true,
        "no" or "false" => false,
        _ => throw Invalid(source, line, $"{keyword} '{value}' is not yes or no"),
    };

    private static List<string> SplitWords(string line, string source, int lineNumber)
    {
        var words = new List<string>();
        var text = line.Trim();
        if (text.Length == 0 || text[0] == '#')
        {
            return words;
        }

        // "Keyword value", "Keyword=value" or "Keyword = value".
        var keywordEnd = 0;
        while (keywordEnd < text.Length && !char.IsWhiteSpace(text[keywordEnd]) && text[keywordEnd] != '=')
        {
            keywordEnd++;
        }

        words.Add(text.Substring(0, keywordEnd));
        var rest = text.Substring(keywordEnd).TrimStart();
        if (rest.StartsWith("=", StringComparison.Ordinal))
        {
            rest = rest.Substring(1);
        }

        var current = new StringBuilder();
        var inQuotes = false;
        var hasWord = false;
        foreach (var c in rest)
        {
            if (c == '"')
            {
                inQuotes = !inQuotes;
                hasWord = true;
            }
            else if (char.IsWhiteSpace(c) && !inQuotes)
            {
                if (hasWord)
                {
                    words.Add(current.ToString());
                    current.Clear();
                    hasWord = false;
                }
            }
            else if (c == '#' && !inQuotes && !hasWord)
            {
                // A comment after the arguments.
                break;
            }
            else
            {
                current.Append(c);
                hasWord = true;
            }
        }

        if (inQuotes)
        {
            throw Invalid(source, lineNumber, "a double quote is not closed");
        }

        if (hasWord)
        {
            words.Add(current.ToString());
        }

        return words;
    }

    private static IReadOnlyList<string> SplitLines(string text) => text.Replace("\r\n", "\n").Split('\n');

    private static string ReadBounded(string path)
    {
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            var buffer = new byte[MaxFileBytes + 1];
            var total = 0;
            int read;
            while (total < buffer.Length && (read = stream.Read(buffer, total, buffer.Length - total)) > 0)
            {
                total += read;
            }

            if (total > MaxFileBytes)
            {
                throw Invalid(path, 0, $"the file is larger than {MaxFileBytes / 1024} KB (or never ends); an ssh config is far smaller");
            }

            return Encoding.UTF8.GetString(buffer, 0, total);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new VaultException(ErrorIds.SshConfigInvalid, VaultErrorKind.InvalidData,
                $"Could not read the ssh config {path}: {ex.Message}", "Check the SshConfigFile path and its permissions, or set SshConfigFile = 'none'.", ex);
        }
    }

    private static VaultException Invalid(string source, int line, string problem) => new(
        ErrorIds.SshConfigInvalid, VaultErrorKind.InvalidData,
        line > 0 ? $"{source}, line {line}: {problem}." : $"{source}: {problem}.",
        $"Fix {source} (ssh -G <host> shows how ssh reads it), or set the target's SshConfigFile = 'none' to ignore it.");

    internal static string HomeDirectory() =>
        Environment.GetEnvironmentVariable("HOME") ?? Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);

    internal static string LocalUserName() => Environment.UserName;

    private static string LocalHostName() => System.Net.Dns.GetHostName();

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "getuid")]
    private static extern uint GetUid();

    private static string UserId()
    {
        try
        {
            return GetUid().ToString(CultureInfo.InvariantCulture);
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
        {
            return "0";
        }
    }

    // ssh's %C: the SHA-1 of %l%h%p%r%j, in hex.
    private static string ConnectionHash(State state)
    {
        var text = LocalHostName() + (state.HostName ?? state.OriginalHost) + (state.Port ?? RunbookDefaults.SshPort).ToString(CultureInfo.InvariantCulture)
            + (state.ExplicitUser ?? state.User ?? LocalUserName()) + (state.ProxyJump ?? "");
        using var sha1 = System.Security.Cryptography.SHA1.Create();
        return string.Concat(sha1.ComputeHash(Encoding.UTF8.GetBytes(text)).Select(b => b.ToString("x2", CultureInfo.InvariantCulture)));
    }

    private sealed class State
    {
        public State(string host, string? explicitUser)
        {
            OriginalHost = host;
            ExplicitUser = explicitUser;
        }

        public string OriginalHost { get; }

        public string? ExplicitUser { get; }

        public bool Matched { get; set; }

        public string? HostName { get; set; }

        public int? Port { get; set; }

        public string? User { get; set; }

        public List<(string Value, string Source, int Line)> IdentityFiles { get; } = new();

        public string? ProxyJump { get; set; }

        public bool? IdentitiesOnly { get; set; }

        public (string Value, string Source, int Line)? IdentityAgent { get; set; }

        public (string Value, string Source, int Line)? UserKnownHostsFile { get; set; }

        // File names are expanded once everything is known (%r and %p may come from later blocks), as ssh does.
        public SshHostConfig Finish()
        {
            string Expand((string Value, string Source, int Line) item) => ExpandPath(item.Value, this, item.Source, item.Line, tokens: true);
            string? agent = null;
            if (IdentityAgent is { } a)
            {
                agent = a.Value.Equals("none", StringComparison.OrdinalIgnoreCase) ? "none"
                    : a.Value == "SSH_AUTH_SOCK" ? null
                    : a.Value.StartsWith("$", StringComparison.Ordinal) && !a.Value.StartsWith("${", StringComparison.Ordinal)
                        ? Environment.GetEnvironmentVariable(a.Value.Substring(1)) ?? "none"
                        : Expand(a);
            }

            return new SshHostConfig
            {
                Matched = Matched,
                HostName = HostName,
                Port = Port,
                User = User,
                IdentityFiles = IdentityFiles.Select(Expand).ToList(),
                ProxyJump = ProxyJump,
                IdentitiesOnly = IdentitiesOnly ?? false,
                IdentityAgent = agent,
                UserKnownHostsFile = UserKnownHostsFile is { } k ? Expand(k) : null,
            };
        }
    }
}
