using System;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using YieldVault.Ops.Hosts;

namespace YieldVault.Ops.Releases;

/// <summary>
/// npm ci as a release step. npm reports a package it could not unpack (a full disk: ENOSPC) as a warning
/// (TAR_ENTRY_ERROR) and still exits 0, leaving node_modules incomplete; here that output is a failure, so a
/// release with missing files fails while the old version serves instead of after the stop.
/// </summary>
public static class NpmInstall
{
    private static readonly string[] WriteErrors = { "TAR_ENTRY_ERROR", "ENOSPC", "EDQUOT", "EROFS" };

    /// <summary>The first line of npm's output that shows a file it could not write, or null.</summary>
    public static string? FindWriteError(string output) =>
        output.Replace("\r", "").Split('\n').FirstOrDefault(line => WriteErrors.Any(e => line.IndexOf(e, StringComparison.Ordinal) >= 0))?.Trim();

    public static async Task RunAsync(IHostShell shell, CommandLine command, string what, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var result = await shell.RunCheckedAsync(command, ErrorIds.DependencyInstallFailed, what, timeout, cancellationToken).ConfigureAwait(false);
        if (FindWriteError(result.StandardError + "\n" + result.StandardOutput) is { } line)
        {
            throw new VaultException(ErrorIds.DependencyInstallFailed, VaultErrorKind.InvalidOperation,
                $"{what} on {shell.Description} exited 0 but could not write every file, so node_modules is incomplete: {line}",
                "Free space where the releases live (df -h on the host), then deploy again; the running version was not touched.");
        }
    }
}
