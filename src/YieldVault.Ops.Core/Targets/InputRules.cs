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
