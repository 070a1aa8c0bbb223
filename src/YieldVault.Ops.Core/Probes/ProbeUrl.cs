using System;

namespace YieldVault.Ops.Probes;

/// <summary>
/// The URL an HTTP probe asks: a path under the base URI (the tunnel to the backend), never another host.
/// <c>new Uri(base, "//evil.example/h")</c> and <c>new Uri(base, "/\\evil.example/h")</c> name another host; the
/// target's settings refuse such paths, and the probes refuse them again for a target built in code.
/// </summary>
public static class ProbeUrl
{
    public static Uri Resolve(Uri baseUri, string path)
    {
        if (!SmokeCheck.IsValidPath(path))
        {
            throw Refused(baseUri, path);
        }

        var url = new Uri(baseUri, path);
        return IsUnder(baseUri, url) ? url : throw Refused(baseUri, path);
    }

    /// <summary>Whether <paramref name="url"/> has the scheme, host and port of <paramref name="baseUri"/>.</summary>
    public static bool IsUnder(Uri baseUri, Uri url) =>
        url.IsAbsoluteUri
        && string.Equals(url.GetLeftPart(UriPartial.Authority), baseUri.GetLeftPart(UriPartial.Authority), StringComparison.OrdinalIgnoreCase)
        && string.IsNullOrEmpty(url.UserInfo);

    private static VaultException Refused(Uri baseUri, string path) =>
        new(ErrorIds.TargetInvalid, VaultErrorKind.InvalidArgument,
            $"'{path}' is not a URL path the probe can ask at {baseUri.GetLeftPart(UriPartial.Authority)}: it must start with a single '/' and hold no '\\', '#', " +
            "spaces or control characters, so that the request cannot leave the backend's port.",
            "Set the target's HealthPath, ReadyPath and VersionPath to paths such as /health ('' for ReadyPath or VersionPath when the backend has none).");
}
