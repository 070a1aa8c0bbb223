using System;
using System.Globalization;
using System.Linq;
using System.Text.RegularExpressions;
using System.Threading;
using System.Threading.Tasks;
using YieldVault.Ops.Hosts;

namespace YieldVault.Ops.Releases;

/// <summary>
/// Brings an artifact onto the target's host, bounded: an http(s) URL is downloaded there with curl (redirects
/// followed up to <see cref="MaxRedirects"/>, only to http(s), never from https down to http; a connect timeout, the
/// target's ArtifactTimeoutSec for the whole download; at most MaxArtifactSizeMB, refused from the Content-Length
/// before anything is written and cut off while it arrives when the server does not say), and a path on the host is
/// copied after its size is checked. What the URL carries in its query (a signed URL's signature) is never shown.
/// </summary>
internal static class ArtifactFetch
{
    public const int MaxRedirects = 5;

    private const int ConnectTimeoutSec = 30;

    // Exit codes of the scripts below that are not curl's: the directory, a missing file, curl missing.
    private const int NoDirectory = 90;
    private const int CurlMissing = 91;
    private const int NotAFile = 92;
    private const int TooLarge = 63; // also curl's own "maximum file size exceeded"

    // $1 URL, $2 file, $3 cap in bytes, $4 seconds for the whole download, $5 protocols a redirect may go to.
    // head -c stops the file one byte over the cap whether or not the server sent a Content-Length (curl 7.x's
    // --max-filesize only sees the header); curl's own exit code comes back through a file beside the download.
    private const string DownloadScript =
        "mkdir -p -- \"$(dirname -- \"$2\")\" || exit 90; " +
        "command -v curl >/dev/null 2>&1 || { echo 'curl is not installed' >&2; exit 91; }; " +
        "rm -f -- \"$2\" \"$2.rc\"; " +
        "{ curl --silent --show-error --fail --location --max-redirs 5 --proto '=http,https' --proto-redir \"$5\" " +
        "--connect-timeout 30 --max-time \"$4\" --max-filesize \"$3\" --user-agent yieldvault-ops " +
        "--write-out '%{stderr}yv-fetch http=%{http_code} redirects=%{num_redirects}\\n' -- \"$1\"; echo $? > \"$2.rc\"; } " +
        "| head -c \"$(($3 + 1))\" > \"$2\"; " +
        "rc=$(cat -- \"$2.rc\" 2>/dev/null || echo 99); rm -f -- \"$2.rc\"; " +
        "size=$(wc -c < \"$2\" | tr -d ' '); echo \"yv-fetch rc=$rc size=$size\"; " +
        "if [ \"$size\" -gt \"$3\" ]; then exit 63; fi; exit \"$rc\"";

    // $1 path on the host, $2 file, $3 cap in bytes.
    private const string CopyScript =
        "mkdir -p -- \"$(dirname -- \"$2\")\" || exit 90; " +
        "[ -f \"$1\" ] || { echo \"$1 is not a file on this host\" >&2; exit 92; }; " +
        "size=$(wc -c < \"$1\" | tr -d ' ') || exit 92; echo \"yv-fetch size=$size\"; " +
        "[ \"$size\" -le \"$3\" ] || exit 63; cp -- \"$1\" \"$2\"";

    private static readonly Regex HttpStatus = new("yv-fetch http=(\\d{3})", RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));
    private static readonly Regex Size = new("size=(\\d+)", RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));

    public static async Task FetchAsync(VaultTarget target, IHostShell shell, string artifact, string destination, CancellationToken cancellationToken)
    {
        var cap = (long)target.MaxArtifactSizeMB * 1024 * 1024;
        var shown = ArtifactAddress.Display(artifact);
        var isUrl = ArtifactAddress.IsUrl(artifact);
        var command = isUrl
            ? CommandLine.Script(DownloadScript, artifact, destination, cap.ToString(CultureInfo.InvariantCulture),
                target.ArtifactTimeoutSec.ToString(CultureInfo.InvariantCulture),
                artifact.StartsWith("https://", StringComparison.OrdinalIgnoreCase) ? "=https" : "=http,https")
            : CommandLine.Script(CopyScript, artifact, destination, cap.ToString(CultureInfo.InvariantCulture));

        // The command line holds the URL: -Verbose shows the address without its query instead.
        Reporting.Current.Verbose($"[{shell.Description}] {(isUrl ? $"curl (at most {MaxRedirects} redirects, {target.ArtifactTimeoutSec} s, {target.MaxArtifactSizeMB} MB) {shown}" : $"cp {shown} (at most {target.MaxArtifactSizeMB} MB)")} -> {destination}");
        var result = await shell.RunAsync(command, TimeSpan.FromSeconds(target.ArtifactTimeoutSec + 60), cancellationToken).ConfigureAwait(false);
        if (result.Succeeded)
        {
            return;
        }

        throw Failure(target, shell, artifact, shown, isUrl, result);
    }

    private static VaultException Failure(VaultTarget target, IHostShell shell, string artifact, string shown, bool isUrl, CommandResult result)
    {
        var where = $"{target.DisplayName}: ";
        var status = HttpStatus.Match(result.StandardError) is { Success: true } m ? int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) : 0;
        var size = Size.Match(result.StandardOutput) is { Success: true } s ? s.Groups[1].Value : null;
        const string Unchanged = " Nothing was stopped; the current version still serves.";
        switch (result.ExitCode)
        {
            case TooLarge:
                return new VaultException(ErrorIds.ArtifactTooLarge, VaultErrorKind.LimitsExceeded,
                    where + $"the artifact {shown} is larger than the target's MaxArtifactSizeMB of {target.MaxArtifactSizeMB} MB" +
                    (isUrl ? " (the download was stopped there and the partial file removed)." : $" ({size} bytes).") + Unchanged,
                    "Check that this is the artifact CI built; if it really is that large, raise MaxArtifactSizeMB on the target.");
            case CurlMissing:
                return new VaultException(ErrorIds.ArtifactUnavailable, VaultErrorKind.NotInstalled,
                    where + $"curl is not installed on {shell.Description}, which downloads the artifact there." + Unchanged,
                    "Install curl on the host (apt-get install curl), or copy the artifact there and pass its path.");
            case NotAFile:
                return new VaultException(ErrorIds.ArtifactUnavailable, VaultErrorKind.ObjectNotFound,
                    where + $"{shown} is not a file on {shell.Description}." + Unchanged,
                    "Check the path; -Artifact names a file on the target's host (or an http(s) URL it can reach).");
        }

        if (!isUrl)
        {
            return Unavailable(VaultErrorKind.InvalidOperation, $"copying {shown} failed (exit code {result.ExitCode}): {Clean(result, artifact)}", "Check the path and the permissions of the releases directory.");
        }

        VaultException Unavailable(VaultErrorKind kind, string problem, string action) =>
            new(ErrorIds.ArtifactUnavailable, kind, where + problem + Unchanged, action);

        // curl's exit codes (man curl, EXIT CODES).
        return result.ExitCode switch
        {
            22 => Unavailable(status is 404 or 410 ? VaultErrorKind.ObjectNotFound : VaultErrorKind.ResourceUnavailable,
                $"the server answered HTTP {(status == 0 ? "error" : status.ToString(CultureInfo.InvariantCulture))} for {shown}.",
                status is 401 or 403
                    ? "The server wants credentials; use a URL the host can fetch without them (a signed URL), or copy the artifact to the host and pass its path."
                    : "Check the URL (the CI run's artifact may have expired)."),
            28 => Unavailable(VaultErrorKind.OperationTimeout,
                $"downloading {shown} did not finish within the target's ArtifactTimeoutSec of {target.ArtifactTimeoutSec} s (or connecting took longer than {ConnectTimeoutSec} s).",
                "Check that the server answers from the host; raise ArtifactTimeoutSec on the target for a slow link."),
            47 => Unavailable(VaultErrorKind.ResourceUnavailable, $"{shown} was redirected more than {MaxRedirects} times.", "Use the artifact's final URL."),
            1 => Unavailable(VaultErrorKind.SecurityError,
                $"{shown} redirected to a protocol that is not allowed (only http(s), and never from https to plain http).",
                "Use a URL that stays on https."),
            6 => Unavailable(VaultErrorKind.ResourceUnavailable, $"the host could not resolve the server of {shown}.", "Check the URL and the host's DNS."),
            7 => Unavailable(VaultErrorKind.ResourceUnavailable, $"the host could not connect to the server of {shown}: {Clean(result, artifact)}", "Check that the server runs and the host can reach it (firewall, proxy)."),
            35 or 51 or 53 or 54 or 58 or 59 or 60 or 77 or 80 or 83 or 90 or 91 => Unavailable(VaultErrorKind.SecurityError,
                $"the TLS connection to the server of {shown} could not be verified: {Clean(result, artifact)}",
                "Check the server's certificate and the host's CA certificates; the download is never done without verifying them."),
            _ => Unavailable(VaultErrorKind.ResourceUnavailable, $"downloading {shown} failed (curl exit code {result.ExitCode}): {Clean(result, artifact)}", "Check the URL and that the host can reach it."),
        };
    }

    // curl's own words, without the progress markers of the script and without anything of the URL's query.
    private static string Clean(CommandResult result, string artifact)
    {
        var lines = result.StandardError.Replace("\r", "").Split('\n')
            .Where(l => l.Length > 0 && !l.StartsWith("yv-fetch ", StringComparison.Ordinal))
            .Select(l => ArtifactAddress.HideQuery(l, artifact));
        var text = string.Join(" ", lines).Trim();
        return text.Length == 0 ? "no message" : text.Length > 400 ? text.Substring(0, 400) + "..." : text;
    }
}
