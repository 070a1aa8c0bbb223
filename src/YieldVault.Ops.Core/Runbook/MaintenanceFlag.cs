using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using YieldVault.Ops.Hosts;

namespace YieldVault.Ops.Runbook;

/// <summary>
/// Runbook 2.2 and 9.1 (Enable/Disable-VaultMaintenanceMode, and -Maintenance of a deployment): the MAINTENANCE_MODE
/// file in the app path. The flag a deployment sets holds its run ("run=&lt;id&gt;"): the run finds the flags it left in
/// any release (the one it started from keeps the flag after the switch), and a run that clears the lock of a dead
/// run removes the flags that run left. A flag the operator set (empty) is never taken for a run's.
/// </summary>
public static class MaintenanceFlag
{
    private static readonly TimeSpan Quick = TimeSpan.FromSeconds(60);

    public static string PathOf(VaultTarget target) => target.AppPath.TrimEnd('/') + "/MAINTENANCE_MODE";

    public static Task SetAsync(VaultTarget target, IHostShell shell, bool enabled, CancellationToken cancellationToken) =>
        shell.RunCheckedAsync(CommandLine.Script(enabled ? "touch -- \"$1\"" : "rm -f -- \"$1\"", PathOf(target)),
            ErrorIds.MaintenanceFailed, (enabled ? "Creating " : "Removing ") + PathOf(target), Quick, cancellationToken);

    /// <summary>Sets the flag for run <paramref name="runId"/> (a flag already there, the operator's, is left as it is).</summary>
    internal static Task SetForRunAsync(VaultTarget target, IHostShell shell, string runId, CancellationToken cancellationToken) =>
        shell.RunCheckedAsync(CommandLine.Script("[ -e \"$1\" ] || printf 'run=%s\\n' \"$2\" > \"$1\"", PathOf(target), runId),
            ErrorIds.MaintenanceFailed, "Creating " + PathOf(target), Quick, cancellationToken);

    /// <summary>
    /// Removes the flags run <paramref name="runId"/> set, in the app path and in every release; with
    /// <paramref name="appPathAlways"/> (the run itself ends its maintenance) the app path's flag whatever set it.
    /// </summary>
    /// <returns>The flag files removed.</returns>
    internal static async Task<IReadOnlyList<string>> ClearOfRunAsync(VaultTarget target, IHostShell shell, string runId, bool appPathAlways, CancellationToken cancellationToken)
    {
        const string script = @"mine() { [ -f ""$1"" ] && [ ""$(head -c 200 -- ""$1"")"" = ""run=$2"" ]; }
if [ -f ""$1"" ] && { [ ""$4"" = always ] || mine ""$1"" ""$3""; }; then
  real=""$(readlink -f -- ""$1"")""; rm -f -- ""$1"" || exit 1; echo ""${real:-$1}""
fi
for f in ""$2""/*/MAINTENANCE_MODE; do
  if mine ""$f"" ""$3""; then rm -f -- ""$f"" || exit 1; echo ""$f""; fi
done
exit 0";
        var result = await shell.RunCheckedAsync(
            CommandLine.Script(script, PathOf(target), new Releases.ReleaseStore(target, shell).ReleasesDirectory, runId, appPathAlways ? "always" : "mine"),
            ErrorIds.MaintenanceFailed, "Removing " + PathOf(target), Quick, cancellationToken).ConfigureAwait(false);
        return result.StandardOutput.Replace("\r", "").Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0).ToList();
    }
}
