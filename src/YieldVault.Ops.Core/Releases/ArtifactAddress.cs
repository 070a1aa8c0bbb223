using System;
using System.Linq;

namespace YieldVault.Ops.Releases;

/// <summary>
/// How an -Artifact is shown: a path as it is; a URL without what its query carries (a signed URL's signature, a
/// token): <c>https://ci.example/a.tar.gz?X-Amz-Signature=***</c>. Credentials in a URL are refused before this.
/// </summary>
public static class ArtifactAddress
{
    public static bool IsUrl(string artifact) =>
        artifact.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || artifact.StartsWith("https://", StringComparison.OrdinalIgnoreCase);

    /// <summary>The artifact for messages, progress, journals and history: query values and user information masked.</summary>
    public static string Display(string artifact)
    {
        if (!IsUrl(artifact) || !Uri.TryCreate(artifact, UriKind.Absolute, out var uri))
        {
            return artifact;
        }

        var shown = uri.Scheme + "://" + (string.IsNullOrEmpty(uri.UserInfo) ? "" : SecretRedactor.Mask + "@") + uri.Authority + uri.AbsolutePath;
        if (uri.Query.Length > 1)
        {
            shown += "?" + string.Join("&", uri.Query.Substring(1).Split('&').Select(p => p.Split('=')[0] + (p.Contains('=') ? "=" + SecretRedactor.Mask : "")));
        }

        return shown;
    }

    /// <summary>The file name the artifact is known by (the last path segment, without a query).</summary>
    public static string FileName(string artifact) =>
        IsUrl(artifact) && Uri.TryCreate(artifact, UriKind.Absolute, out var uri)
            ? System.IO.Path.GetFileName(Uri.UnescapeDataString(uri.AbsolutePath))
            : System.IO.Path.GetFileName(artifact);

    /// <summary><paramref name="text"/> with every value of <paramref name="artifact"/>'s query replaced by ***.</summary>
    public static string HideQuery(string text, string artifact)
    {
        if (!IsUrl(artifact) || !Uri.TryCreate(artifact, UriKind.Absolute, out var uri) || uri.Query.Length <= 1)
        {
            return text;
        }

        var result = text.Replace(artifact, Display(artifact));
        foreach (var value in uri.Query.Substring(1).Split('&').Select(p => p.IndexOf('=') is var i and >= 0 ? p.Substring(i + 1) : "").Where(v => v.Length >= 4))
        {
            result = result.Replace(value, SecretRedactor.Mask).Replace(Uri.UnescapeDataString(value), SecretRedactor.Mask);
        }

        return result;
    }
}
