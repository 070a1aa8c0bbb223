using System;
using System.Collections.Generic;
using System.Text.RegularExpressions;

namespace YieldVault.Ops.Services;

/// <summary>Image references and what an image says about the version it holds.</summary>
internal static class DockerImages
{
    public const string VersionLabel = "org.opencontainers.image.version";
    public const string RevisionLabel = "org.opencontainers.image.revision";

    private static readonly TimeSpan RegexTimeout = TimeSpan.FromSeconds(1);
    private static readonly Regex VersionTag = new(@"^v?(\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.+-]+)?)$", RegexOptions.CultureInvariant, RegexTimeout);
    private static readonly Regex FullCommit = new("^(?:[0-9a-fA-F]{40}|[0-9a-fA-F]{64})$", RegexOptions.CultureInvariant, RegexTimeout);

    /// <summary>
    /// "ghcr.io/yieldvault/backend:v1.3.0" -> ("ghcr.io/yieldvault/backend", "v1.3.0"); a digest reference keeps its
    /// digest as the reference (the engine's pull API takes either as "tag"); no tag means "latest".
    /// </summary>
    public static (string Repository, string Reference) Split(string image)
    {
        if (image is null)
        {
            throw new ArgumentNullException(nameof(image));
        }

        var at = image.IndexOf('@');
        if (at > 0)
        {
            // name[:tag]@digest: the digest decides; a tag beside it is informational.
            var name = image.Substring(0, at);
            var nameColon = name.LastIndexOf(':');
            if (nameColon > name.LastIndexOf('/'))
            {
                name = name.Substring(0, nameColon);
            }

            return (name, image.Substring(at + 1));
        }

        // A colon after the last '/' separates the tag; one before it belongs to a registry port (localhost:5000/x).
        var colon = image.LastIndexOf(':');
        return colon > image.LastIndexOf('/') ? (image.Substring(0, colon), image.Substring(colon + 1)) : (image, "latest");
    }

    /// <summary>The tag of a reference, or null for a digest reference.</summary>
    public static string? TagOf(string image)
    {
        var (_, reference) = Split(image);
        return reference.IndexOf(':') >= 0 ? null : reference;
    }

    /// <summary>
    /// The version the backend in the image should report: the OCI version label, else a version-like tag without its
    /// "v" ("v1.3.0" -> "1.3.0"); null when neither says (":latest", a digest): then the version is not checked.
    /// </summary>
    public static string? VersionOf(IDictionary<string, string>? labels, string image)
    {
        if (labels is not null && labels.TryGetValue(VersionLabel, out var label) && !string.IsNullOrWhiteSpace(label))
        {
            return label.Trim();
        }

        var tag = TagOf(image);
        var match = tag is null ? null : VersionTag.Match(tag);
        return match is { Success: true } ? match.Groups[1].Value : null;
    }

    /// <summary>
    /// The commit the image was built from (OCI revision label), only when it is a full commit id: the backend reports
    /// full ids, and comparing one with an abbreviation would fail a good deployment.
    /// </summary>
    public static string? CommitOf(IDictionary<string, string>? labels) =>
        labels is not null && labels.TryGetValue(RevisionLabel, out var revision) && revision is not null && FullCommit.IsMatch(revision.Trim())
            ? revision.Trim().ToLowerInvariant()
            : null;
}
