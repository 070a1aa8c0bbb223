using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace YieldVault.Ops.Hosts;

/// <summary>What known_hosts says about the key a server presented.</summary>
public enum HostKeyVerdict
{
    /// <summary>An entry for the host has exactly this key.</summary>
    Trusted,

    /// <summary>The host has entries, but none with this key: possibly a man in the middle.</summary>
    Mismatch,

    /// <summary>The key is listed as @revoked.</summary>
    Revoked,

    /// <summary>No entry for the host at all.</summary>
    Unknown,
}

/// <summary>
/// Reads OpenSSH known_hosts files: plain and hashed (<c>|1|salt|hash</c>) host patterns, <c>[host]:port</c>,
/// wildcards and negations, and the <c>@revoked</c> marker (<c>@cert-authority</c> lines are not used, and a line with a
/// marker OpenSSH does not know is skipped). Host names are compared as ssh does: in lower case, hashed entries too.
/// </summary>
public sealed class KnownHosts
{
    private readonly List<Entry> _entries;

    private KnownHosts(List<Entry> entries) => _entries = entries;

    /// <summary>The largest known_hosts file read; anything longer is not one (a device such as /dev/zero never ends).</summary>
    public const int MaxFileBytes = 16 * 1024 * 1024;

    public static KnownHosts Load(string path) =>
        File.Exists(path) ? Parse(ReadBounded(path), path) : new KnownHosts(new List<Entry>());

    private static string[] ReadBounded(string path)
    {
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            using var content = new MemoryStream();
            var chunk = new byte[81920];
            int read;
            while ((read = stream.Read(chunk, 0, chunk.Length)) > 0)
            {
                if (content.Length + read > MaxFileBytes)
                {
                    throw new VaultException(ErrorIds.KnownHostsInvalid, VaultErrorKind.InvalidData,
                        $"The known_hosts file {path} is larger than {MaxFileBytes / (1024 * 1024)} MB (or never ends, like a device); it was not used and nothing was sent to the server.",
                        "Point KnownHostsFile at an OpenSSH known_hosts file.");
                }

                content.Write(chunk, 0, read);
            }

            return Encoding.UTF8.GetString(content.ToArray()).Split('\n');
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new VaultException(ErrorIds.KnownHostsUnreadable, VaultErrorKind.SecurityError,
                $"Could not read the known_hosts file {path}: {ex.Message}. Nothing was sent to the server.", "Check the KnownHostsFile path and its permissions.", ex);
        }
    }

    public static KnownHosts Parse(IEnumerable<string> lines) => Parse(lines, "known_hosts");

    /// <param name="source">The file, for the warning about a marker OpenSSH does not know.</param>
    public static KnownHosts Parse(IEnumerable<string> lines, string source)
    {
        var entries = new List<Entry>();
        var unknownMarkers = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var raw in lines)
        {
            var line = raw.Trim();
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }

            var fields = line.Split(new[] { ' ', '\t' }, StringSplitOptions.RemoveEmptyEntries);
            var marker = "";
            if (fields[0].StartsWith("@", StringComparison.Ordinal))
            {
                marker = fields[0];
                fields = fields.Skip(1).ToArray();
            }

            // OpenSSH knows two markers, spelled exactly so; a line with any other (@Revoked, @foo) is skipped: neither a
            // trust line nor a revocation. @cert-authority lines are not used.
            if (marker.Length > 0 && marker != RevokedMarker)
            {
                if (marker != CertAuthorityMarker)
                {
                    unknownMarkers.Add(marker.Length > 40 ? marker.Substring(0, 40) + "..." : marker);
                }

                continue;
            }

            if (fields.Length < 3)
            {
                continue;
            }

            byte[] blob;
            try
            {
                blob = Convert.FromBase64String(fields[2]);
            }
            catch (FormatException)
            {
                continue;
            }

            entries.Add(new Entry(fields[0].Split(','), fields[1], blob, marker == RevokedMarker));
        }

        if (unknownMarkers.Count > 0)
        {
            Reporting.Current.Warning($"{source}: lines marked {string.Join(", ", unknownMarkers.Select(m => "'" + m + "'"))} are ignored, as OpenSSH ignores them: " +
                $"the markers are {RevokedMarker} and {CertAuthorityMarker}, in lower case. Such a line neither trusts nor revokes a key.");
        }

        return new KnownHosts(entries);
    }

    private const string RevokedMarker = "@revoked";
    private const string CertAuthorityMarker = "@cert-authority";

    /// <summary>The key types (e.g. ssh-ed25519) known for a host, so the client can ask for those first.</summary>
    public IReadOnlyList<string> KeyTypesFor(string host, int port) =>
        _entries.Where(e => !e.Revoked && Matches(e.Patterns, host, port)).Select(e => e.KeyType).Distinct(StringComparer.Ordinal).ToList();

    public HostKeyVerdict Verify(string host, int port, byte[] presentedKey)
    {
        if (_entries.Any(e => e.Revoked && e.Key.SequenceEqual(presentedKey)))
        {
            return HostKeyVerdict.Revoked;
        }

        var forHost = _entries.Where(e => !e.Revoked && Matches(e.Patterns, host, port)).ToList();
        if (forHost.Count == 0)
        {
            return HostKeyVerdict.Unknown;
        }

        return forHost.Any(e => e.Key.SequenceEqual(presentedKey)) ? HostKeyVerdict.Trusted : HostKeyVerdict.Mismatch;
    }

    /// <summary>
    /// The host pattern OpenSSH writes and hashes: "host" for port 22, else "[host]:port", with the host name in lower case
    /// (ssh lower-cases the name it is given before it looks it up).
    /// </summary>
    public static string HostPattern(string host, int port)
    {
        var name = host.ToLowerInvariant();
        return port == 22 ? name : "[" + name + "]:" + port.ToString(CultureInfo.InvariantCulture);
    }

    /// <summary>Appends a trusted key, creating the file (mode 600) and its directory (mode 700) if needed.</summary>
    public static void Append(string path, string host, int port, byte[] key)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(directory) && !Directory.Exists(directory))
        {
            Directory.CreateDirectory(directory);
            FileModes.TrySet(directory!, "700");
        }

        var isNew = !File.Exists(path);
        var line = HostPattern(host, port) + " " + KeyType(key) + " " + Convert.ToBase64String(key) + "\n";
        File.AppendAllText(path, line);
        if (isNew)
        {
            FileModes.TrySet(path, "600");
        }
    }

    /// <summary>The key type named at the start of an SSH public key blob (e.g. "ssh-ed25519").</summary>
    public static string KeyType(byte[] blob)
    {
        if (blob.Length < 4)
        {
            return "unknown";
        }

        var length = (blob[0] << 24) | (blob[1] << 16) | (blob[2] << 8) | blob[3];
        return length > 0 && length <= blob.Length - 4 ? Encoding.ASCII.GetString(blob, 4, length) : "unknown";
    }

    /// <summary>"SHA256:..." as ssh-keygen -l prints it (base64 without padding).</summary>
    public static string Fingerprint(byte[] blob)
    {
        using var sha = SHA256.Create();
        return "SHA256:" + Convert.ToBase64String(sha.ComputeHash(blob)).TrimEnd('=');
    }

    private static bool Matches(IEnumerable<string> patterns, string host, int port)
    {
        var name = HostPattern(host, port);
        var matched = false;
        foreach (var pattern in patterns)
        {
            var negated = pattern.StartsWith("!", StringComparison.Ordinal);
            var text = negated ? pattern.Substring(1) : pattern;
            bool hit = text.StartsWith("|1|", StringComparison.Ordinal) ? HashedMatch(text, name) : WildcardMatch(text, name);
            if (hit && negated)
            {
                return false;
            }

            matched |= hit;
        }

        return matched;
    }

    private static bool HashedMatch(string pattern, string name)
    {
        var parts = pattern.Split('|');
        if (parts.Length != 4)
        {
            return false;
        }

        try
        {
            using var hmac = new HMACSHA1(Convert.FromBase64String(parts[2]));
            var hash = hmac.ComputeHash(Encoding.ASCII.GetBytes(name));
            return Convert.ToBase64String(hash) == parts[3];
        }
        catch (FormatException)
        {
            return false;
        }
    }

    private static bool WildcardMatch(string pattern, string name)
    {
        if (pattern.IndexOfAny(new[] { '*', '?' }) < 0)
        {
            return string.Equals(pattern, name, StringComparison.OrdinalIgnoreCase);
        }

        var regex = "^" + Regex.Escape(pattern).Replace("\\*", ".*").Replace("\\?", ".") + "$";
        return Regex.IsMatch(name, regex, RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));
    }

    private sealed class Entry
    {
        public Entry(string[] patterns, string keyType, byte[] key, bool revoked)
        {
            Patterns = patterns;
            KeyType = keyType;
            Key = key;
            Revoked = revoked;
        }

        public string[] Patterns { get; }

        public string KeyType { get; }

        public byte[] Key { get; }

        public bool Revoked { get; }
    }
}
