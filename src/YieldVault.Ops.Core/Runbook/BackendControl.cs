using System;
using System.Diagnostics;
using System.Globalization;
using System.Threading;
using System.Threading.Tasks;
using YieldVault.Ops.Hosts;
using YieldVault.Ops.Services;

namespace YieldVault.Ops.Runbook;

/// <summary>
/// Runbook Steps 3 and 6 done with verification: a graceful stop through the service manager, then a
/// bounded wait until the process is gone and the port is free (3.2), and the forced kill only when asked.
/// </summary>
public static class BackendControl
{
    // Exit 0 when the pid is gone (or a zombie) and nothing listens on the port.
    private const string GoneScript = @"pid=""$1""; port=""$2""
if [ -n ""$pid"" ] && [ ""$pid"" != 0 ] && [ -d ""/proc/$pid"" ]; then st=$(ps -o stat= -p ""$pid"" 2>/dev/null | cut -c1); [ ""$st"" = Z ] || [ -z ""$st"" ] || exit 1; fi
if ss -Htln ""( sport = :$port )"" 2>/dev/null | grep -q .; then exit 2; fi
exit 0";

    public static async Task<VaultStopResult> StopAsync(VaultTarget target, IHostShell shell, TimeSpan timeout, bool force, CancellationToken cancellationToken)
    {
        var manager = ServiceManagers.For(target, shell);
        var watch = Stopwatch.StartNew();
        var before = await manager.GetStateAsync(cancellationToken).ConfigureAwait(false);
        if (before.Status == ServiceStatus.NotFound)
        {
            throw new VaultException(ErrorIds.ServiceNotFound, VaultErrorKind.ObjectNotFound,
                $"{target.DisplayName}: {target.ServiceManager} has no service '{target.ServiceName}'.", "Check the target's ServiceName and ServiceManager.");
        }

        Reporting.Current.Verbose($"{target.Name}: stopping {target.ServiceManager} service '{target.ServiceName}' (pid {before.Pid?.ToString(CultureInfo.InvariantCulture) ?? "none"})");
        var gone = 1;
        try
        {
            await manager.StopAsync(timeout, cancellationToken).ConfigureAwait(false);
            gone = await WaitGoneAsync(target, shell, before.Pid, timeout - watch.Elapsed, cancellationToken).ConfigureAwait(false);
        }
        catch (VaultException ex) when (force && ex.ErrorId is ErrorIds.ServiceStopTimeout or ErrorIds.CommandTimeout)
        {
            // The manager's own stop hung: that is exactly when the kill is needed.
            Reporting.Current.Verbose($"{target.Name}: {ex.Message}");
        }

        var forced = false;
        if (gone != 0)
        {
            if (!force)
            {
                throw new VaultException(ErrorIds.StopTimeout, VaultErrorKind.OperationTimeout,
                    $"{target.DisplayName}: after {timeout.TotalSeconds:0} s " + (gone == 1 ? $"process {before.Pid} is still running" : $"port {target.Port} is still in use") + ".",
                    "Find out why it does not stop (Get-VaultBackendLog), or stop it with -Force (kills the process).");
            }

            Reporting.Current.Warning($"{target.Name}: the graceful stop did not finish in {timeout.TotalSeconds:0} s; killing the process (runbook 3.2 'If service won't stop').");
            forced = true;
            await manager.KillAsync(cancellationToken).ConfigureAwait(false);
            gone = await WaitGoneAsync(target, shell, before.Pid, TimeSpan.FromSeconds(15), cancellationToken).ConfigureAwait(false);
            if (gone != 0)
            {
                throw new VaultException(ErrorIds.StopFailed, VaultErrorKind.InvalidOperation,
                    $"{target.DisplayName}: even after a kill, " + (gone == 1 ? $"process {before.Pid} is still running" : $"port {target.Port} is still in use") + ".",
                    $"Look at the host: ss -ltnp 'sport = :{target.Port}'.");
            }
        }

        return new VaultStopResult { Target = target, Stopped = true, Forced = forced, Pid = before.Pid, DurationMs = Math.Round(watch.Elapsed.TotalMilliseconds, 1), StateAfter = ServiceStatus.Stopped };
    }

    /// <summary>0 when gone and the port is free, 1 while the process lives, 2 while the port is in use.</summary>
    public static async Task<int> WaitGoneAsync(VaultTarget target, IHostShell shell, int? pid, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var watch = Stopwatch.StartNew();
        var delay = TimeSpan.FromMilliseconds(50);
        while (true)
        {
            var check = await shell.RunAsync(CommandLine.Script(GoneScript, pid?.ToString(CultureInfo.InvariantCulture) ?? "", target.Port.ToString(CultureInfo.InvariantCulture)),
                TimeSpan.FromSeconds(30), cancellationToken).ConfigureAwait(false);
            if (check.ExitCode == 0 || watch.Elapsed >= timeout)
            {
                return check.ExitCode;
            }

            await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
            delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 500));
        }
    }
}
