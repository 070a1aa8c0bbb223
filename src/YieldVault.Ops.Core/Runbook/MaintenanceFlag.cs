using System;
using System.Threading;
using System.Threading.Tasks;
using YieldVault.Ops.Hosts;

namespace YieldVault.Ops.Runbook;

/// <summary>Runbook 2.2 and 9.1 (Enable/Disable-VaultMaintenanceMode, and -Maintenance of a deployment): the MAINTENANCE_MODE file in the app path.</summary>
public static class MaintenanceFlag
{
    private static readonly TimeSpan Quick = TimeSpan.FromSeconds(60);

    public static string PathOf(VaultTarget target) => target.AppPath.TrimEnd('/') + "/MAINTENANCE_MODE";

    public static Task SetAsync(VaultTarget target, IHostShell shell, bool enabled, CancellationToken cancellationToken) =>
        shell.RunCheckedAsync(CommandLine.Script(enabled ? "touch -- \"$1\"" : "rm -f -- \"$1\"", PathOf(target)),
            ErrorIds.MaintenanceFailed, (enabled ? "Creating " : "Removing ") + PathOf(target), Quick, cancellationToken);
}
