using System;
using System.Linq;
using System.Net;
using System.Text.RegularExpressions;

namespace YieldVault.Ops;

// Small, strict rules for values that end up on a remote command line or in a file path. Every value
// is quoted anyway (ShellQuote); these rules exist so hostile input is refused early with a clear
// message, before anything is connected to, stopped or changed. Patterns end in \z, not $: in .NET, $
// also matches before a final newline, so "v1.3.0\n" would pass.

internal static class TargetNames
{
    private static readonly Regex Pattern = new("^[A-Za-z0-9][A-Za-z0-9._-]{0,63}\\z", RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));

    public static bool IsValid(string? name) => name is not null && Pattern.IsMatch(name);
}

internal static class ServiceNames
{
    private static readonly Regex Pattern = new("^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}\\z", RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));

    public static bool IsValid(string? name) => name is not null && Pattern.IsMatch(name);
}

internal static class HostNames
{
    private static readonly Regex DnsName = new(
        "^(?=.{1,253}\\z)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\\.?\\z",
        RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));

    private static readonly Regex UserName = new("^[A-Za-z_][A-Za-z0-9._-]{0,31}\\z", RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));

    public static bool IsValid(string? host) =>
        !string.IsNullOrEmpty(host) && (IPAddress.TryParse(host, out _) || DnsName.IsMatch(host));

    public static bool IsValidUser(string? user) => user is not null && UserName.IsMatch(user);
}

internal static class RemotePaths
{
    public static bool IsSafeAbsolute(string? path) =>
        path is not null && path.StartsWith("/", StringComparison.Ordinal) && IsSafeRelativeOrAbsolute(path);

    public static bool IsSafeRelativeOrAbsolute(string? path) =>
        !string.IsNullOrEmpty(path)
        && path!.Length <= 4096
        && !path.Any(char.IsControl)
        && !path.Split('/').Any(segment => segment == "..");
}

internal static class DockerHosts
{
    private static readonly Regex Tcp = new("^tcp://[A-Za-z0-9.-]+:[0-9]{1,5}\\z", RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));
    private static readonly Regex Ssh = new("^ssh://[A-Za-z_][A-Za-z0-9._-]{0,31}@[A-Za-z0-9.-]+(:[0-9]{1,5})?\\z", RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));

    public static bool IsValid(string value) =>
        (value.StartsWith("unix://", StringComparison.Ordinal) && RemotePaths.IsSafeAbsolute(value.Substring(7)))
        || Tcp.IsMatch(value) || Ssh.IsMatch(value);
}

internal static class HostKeyFingerprints
{
    private static readonly Regex Sha256 = new("^SHA256:[A-Za-z0-9+/]{43}=?\\z", RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));

    public static bool IsSha256(string? text) => text is not null && Sha256.IsMatch(text);

    /// <summary>"SHA256:abc" and "abc" (with or without '=' padding) compare equal.</summary>
    public static string Normalize(string text)
    {
        var value = text.StartsWith("SHA256:", StringComparison.Ordinal) ? text.Substring(7) : text;
        return value.TrimEnd('=');
    }
}

internal static class Repositories
{
    private static readonly Regex Url = new("^(https?|ssh|git|file)://[^\\s'\"`$;|&<>]+\\z", RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));
    private static readonly Regex Scp = new("^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[A-Za-z0-9._/~-]+\\z", RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));

    public static bool IsValid(string value) =>
        !value.StartsWith("-", StringComparison.Ordinal)
        && (Url.IsMatch(value) || Scp.IsMatch(value) || (RemotePaths.IsSafeAbsolute(value) && !value.Any(char.IsWhiteSpace)));
}

/// <summary>Git refs accepted for deployment: tags, branches, commits. Never an option, never shell syntax.</summary>
public static class GitRefs
{
    private static readonly Regex Pattern = new("^[A-Za-z0-9][A-Za-z0-9._/+-]{0,199}\\z", RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));

    public static bool IsValid(string? value) =>
        value is not null && Pattern.IsMatch(value) && value.IndexOf("..", StringComparison.Ordinal) < 0
        && !value.EndsWith(".lock", StringComparison.Ordinal) && !value.EndsWith("/", StringComparison.Ordinal) && !value.EndsWith(".", StringComparison.Ordinal)
        && value.IndexOf("//", StringComparison.Ordinal) < 0;
}

/// <summary>A jump host as ssh -J and ProxyJump write it: [user@]host[:port], or ssh://[user@]host[:port].</summary>
internal static class JumpHosts
{
    public static bool TryParse(string text, out string? user, out string? host, out int? port, out string? problem)
    {
        user = null;
        host = null;
        port = null;
        problem = null;
        var value = text.Trim();
        if (value.IndexOf(',') >= 0)
        {
            problem = $"'{text}' is a chain of jump hosts; one jump host is supported";
            return false;
        }

        if (value.StartsWith("ssh://", StringComparison.OrdinalIgnoreCase))
        {
            value = value.Substring(6).TrimEnd('/');
        }

        var at = value.LastIndexOf('@');
        if (at >= 0)
        {
            user = value.Substring(0, at);
            value = value.Substring(at + 1);
            if (!HostNames.IsValidUser(user))
            {
                problem = $"'{user}' in '{text}' is not a valid user name for SSH";
                return false;
            }
        }

        string? portText = null;
        if (value.StartsWith("[", StringComparison.Ordinal))
        {
            var close = value.IndexOf(']');
            if (close < 0)
            {
                problem = $"'{text}' has a '[' without ']'";
                return false;
            }

            host = value.Substring(1, close - 1);
            var rest = value.Substring(close + 1);
            if (rest.Length > 0)
            {
                if (!rest.StartsWith(":", StringComparison.Ordinal))
                {
                    problem = $"'{text}' is not [user@]host[:port]";
                    return false;
                }

                portText = rest.Substring(1);
            }
        }
        else
        {
            var colon = value.LastIndexOf(':');
            host = colon >= 0 ? value.Substring(0, colon) : value;
            portText = colon >= 0 ? value.Substring(colon + 1) : null;
        }

        if (portText is not null)
        {
            if (!int.TryParse(portText, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var p) || p is < 1 or > 65535)
            {
                problem = $"the port '{portText}' in '{text}' is not 1-65535";
                return false;
            }

            port = p;
        }

        // A name the ssh config may turn into an address: the same characters a host name has (checked again once resolved).
        if (string.IsNullOrEmpty(host) || !Alias.IsMatch(host))
        {
            problem = $"'{host}' in '{text}' is not a host name, an IP address or an ssh config Host alias";
            return false;
        }

        return true;
    }

    private static readonly Regex Alias = new("^[A-Za-z0-9_.:%-]{1,253}\\z", RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));
}
