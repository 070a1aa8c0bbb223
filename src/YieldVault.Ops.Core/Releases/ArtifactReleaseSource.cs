using System;
using System.Text.RegularExpressions;
using System.Threading;
using System.Threading.Tasks;
using YieldVault.Ops.Hosts;

namespace YieldVault.Ops.Releases;

/// <summary>
/// Runbook Step 4 Option C: a pre-built artifact (a .tar.gz from CI) downloaded on the host (bounded in size, time and
/// redirects: <see cref="ArtifactFetch"/>), checked against its SHA-256 before anything is unpacked, extracted into a
/// new release. All of it happens while the current version still serves.
/// </summary>
public static class ArtifactReleaseSource
{
    // \z, not $: $ also matches before a final newline.
    private static readonly Regex Sha256 = new("^[0-9a-fA-F]{64}\\z", RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));

    public static void Validate(string artifact, string? sha256)
    {
        if (sha256 is null || !Sha256.IsMatch(sha256))
        {
            throw new VaultException(ErrorIds.InvalidChecksum, VaultErrorKind.InvalidArgument,
                "-Sha256 must be the artifact's SHA-256 as 64 hexadecimal characters (sha256sum prints it).");
        }

        var isUrl = Uri.TryCreate(artifact, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps);
        if (isUrl ? !string.IsNullOrEmpty(uri!.UserInfo) || artifact.IndexOfAny(new[] { '\'', '"', '`', ' ', '\n', '\r', '\0' }) >= 0 : !RemotePaths.IsSafeAbsolute(artifact))
        {
            // The message never repeats credentials given in the URL, nor its query.
            throw new VaultException(ErrorIds.InvalidArtifact, VaultErrorKind.InvalidArgument,
                $"-Artifact must be an http(s) URL without credentials or an absolute path on the host: '{ArtifactAddress.Display(artifact)}'.",
                isUrl && !string.IsNullOrEmpty(uri!.UserInfo)
                    ? "Credentials are not put on the host's command line: use a URL that needs none (a signed URL), or copy the artifact to the host and pass its path."
                    : null);
        }
    }

    /// <param name="beforeUnpack">Runs once the artifact is on the host and its checksum is right, before it is unpacked
    /// (the first managed deployment moves the app directory into the releases then, not before a refused download).</param>
    public static async Task<PreparedRelease> PrepareAsync(VaultTarget target, IHostShell shell, ReleaseStore store, string artifact, string sha256,
        Action<string> step, Func<Task> beforeUnpack, CancellationToken cancellationToken)
    {
        Validate(artifact, sha256);
        var name = ReleaseStore.NewReleaseName(sha256.ToLowerInvariant(), DateTimeOffset.UtcNow);
        var path = store.ReleasesDirectory + "/" + name;
        var download = store.ReleasesDirectory + "/." + name + ".tar.gz";
        var isUrl = ArtifactAddress.IsUrl(artifact);
        try
        {
            step(isUrl ? "download" : "copy");
            await ArtifactFetch.FetchAsync(target, shell, artifact, download, cancellationToken).ConfigureAwait(false);

            step("verify SHA-256");
            var sum = await shell.RunCheckedAsync(CommandLine.Script("sha256sum -- \"$1\" | cut -d' ' -f1", download), ErrorIds.ArtifactUnavailable, "sha256sum", TimeSpan.FromMinutes(2), cancellationToken).ConfigureAwait(false);
            var actual = sum.StandardOutput.Trim();
            if (!string.Equals(actual, sha256, StringComparison.OrdinalIgnoreCase))
            {
                throw new VaultException(ErrorIds.ChecksumMismatch, VaultErrorKind.SecurityError,
                    $"{target.DisplayName}: the artifact's SHA-256 is {actual}, not {sha256.ToLowerInvariant()}. It was not unpacked; nothing was changed.",
                    "Check that the artifact is the one CI built; do not deploy it otherwise.");
            }

            await beforeUnpack().ConfigureAwait(false);
            step("extract");
            // A single top-level directory in the tarball (yieldvault-backend/...) is stripped.
            await shell.RunCheckedAsync(CommandLine.Script(
                    "mkdir -p -- \"$2\" && top=$(tar -tzf \"$1\" | cut -d/ -f1 | sort -u); if [ $(printf '%s\\n' \"$top\" | wc -l) -eq 1 ] && tar -tzf \"$1\" | grep -q '/'; then tar -xzf \"$1\" -C \"$2\" --strip-components=1 --no-same-owner; else tar -xzf \"$1\" -C \"$2\" --no-same-owner; fi",
                    download, path),
                ErrorIds.ArtifactInvalid, "Extracting the artifact", TimeSpan.FromMinutes(5), cancellationToken).ConfigureAwait(false);

            // Pre-built by CI: its production dependencies are installed only when it brings no node_modules.
            var version = await ReleaseBuilder.BuildAsync(target, shell, store, path, prebuilt: true, step, cancellationToken).ConfigureAwait(false);
            return new PreparedRelease
            {
                Name = name, Path = path, AppDirectory = ReleaseBuilder.AppDirectoryOf(target, path), Commit = sha256.ToLowerInvariant(), Version = version,
                Source = ArtifactAddress.FileName(artifact),
            };
        }
        catch
        {
            await store.DiscardAsync(name, CancellationToken.None).ConfigureAwait(false);
            throw;
        }
        finally
        {
            await shell.RunAsync(CommandLine.Script("rm -f -- \"$1\"", download), TimeSpan.FromSeconds(30), CancellationToken.None).ConfigureAwait(false);
        }
    }
}
