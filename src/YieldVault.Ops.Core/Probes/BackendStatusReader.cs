using System;
using System.Collections.Generic;
using System.Globalization;
using System.Threading;
using System.Threading.Tasks;
using YieldVault.Ops.Hosts;
using YieldVault.Ops.Services;

namespace YieldVault.Ops.Probes;

/// <summary>
/// Reads everything Step 1 of the runbook asks for, in one pass. A part that cannot be read becomes a
/// line in <see cref="VaultBackendStatus.Problems"/>, so one broken probe never hides the rest.
/// </summary>
public static class BackendStatusReader
{
    // One round trip for runbook 1.3: CPU and memory of the pid, disk free for the app and log paths
    // (nearest existing parent), open files. Inputs are positional parameters, never shell syntax.
    private const string ResourceScript = @"pid=""$1""
free_kb() { p=""$1""; while [ ! -e ""$p"" ] && [ ""$p"" != / ]; do p=$(dirname ""$p""); done; df -Pk ""$p"" 2>/dev/null | awk 'NR==2{print $4}'; }
if [ -n ""$pid"" ] && [ ""$pid"" != 0 ]; then ps -o %cpu=,rss= -p ""$pid"" 2>/dev/null | tail -n 1; else echo; fi
free_kb ""$2""
free_kb ""$(dirname ""$3"")""
if [ -n ""$pid"" ] && [ -r /proc/""$pid""/fd ]; then ls /proc/""$pid""/fd 2>/dev/null | wc -l; else echo; fi";

    public static async Task<VaultBackendStatus> ReadAsync(VaultTarget target, IHostShell shell, bool detailed, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var problems = new List<string>();
        ServiceState? state = null;
        try
        {
            state = await ServiceManagers.For(target, shell, sampleResources: detailed).GetStateAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (VaultException ex) when (!ex.IsConnectionFailure)
        {
            problems.Add($"service ({target.ServiceManager}): {ex.Message}");
        }

        // Connections first, so this probe's own HTTP connection is not counted.
        int? connections = null;
        var ss = await shell.RunAsync(
            CommandLine.Script("ss -Htn state established \"( sport = :$1 )\" | wc -l", target.Port.ToString(CultureInfo.InvariantCulture)),
            timeout, cancellationToken).ConfigureAwait(false);
        if (ss.Succeeded && int.TryParse(ss.StandardOutput.Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var count))
        {
            connections = count;
        }
        else
        {
            problems.Add("connections: 'ss' is not available (install iproute2)");
        }

        var health = await HealthProbe.CheckAsync(target, shell, checkReady: true, timeout, cancellationToken).ConfigureAwait(false);
        if (health.StatusCode is null)
        {
            problems.Add("health: " + health.Error);
        }

        var version = await VersionProbe.GetAsync(target, shell, timeout, cancellationToken).ConfigureAwait(false);
        if (version.Version is null && version.Commit is null)
        {
            problems.Add("version: " + version.Error);
        }

        double? cpu = state?.CpuPercent;
        double? memory = state?.MemoryBytes is { } bytes ? bytes / 1048576.0 : null;
        double? appFree = null, logFree = null;
        int? openFiles = null;
        if (detailed)
        {
            var pid = state?.Pid?.ToString(CultureInfo.InvariantCulture) ?? "";
            var resources = await shell.RunAsync(CommandLine.Script(ResourceScript, pid, target.AppPath, target.LogPath), timeout, cancellationToken).ConfigureAwait(false);
            var lines = resources.StandardOutput.Replace("\r", "").Split('\n');
            var psFields = lines.Length > 0 ? lines[0].Split(new[] { ' ' }, StringSplitOptions.RemoveEmptyEntries) : Array.Empty<string>();
            if (psFields.Length == 2)
            {
                cpu ??= Number(psFields[0]);
                memory ??= Number(psFields[1]) / 1024.0;
            }

            appFree = lines.Length > 1 ? Number(lines[1]) / 1024.0 : null;
            logFree = lines.Length > 2 ? Number(lines[2]) / 1024.0 : null;
            openFiles = lines.Length > 3 && int.TryParse(lines[3].Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var files) ? files : null;
            if (openFiles is null && state?.Pid is > 0)
            {
                problems.Add("open files: /proc/<pid>/fd is not readable by this user");
            }
        }

        return new VaultBackendStatus
        {
            Target = target,
            Environment = target.Environment,
            Host = target.Ssh?.ToString() ?? "local",
            Manager = target.ServiceManager,
            State = state?.Status ?? ServiceStatus.Unknown,
            Pid = state?.Pid,
            Uptime = state?.Uptime,
            Restarts = state?.Restarts,
            Image = state?.Image,
            Replicas = state?.ReplicasDesired is { } desired ? $"{state.ReplicasRunning ?? 0}/{desired}" : null,
            UpdateState = state?.UpdateState,
            Tasks = state?.Tasks ?? Array.Empty<VaultSwarmTask>(),
            Version = version.Version,
            Commit = version.Commit,
            Healthy = health.StatusCode is null ? null : health.Healthy,
            Ready = health.StatusCode is null ? null : health.Ready,
            Checks = health.ChecksSummary.Length == 0 ? null : health.ChecksSummary,
            ActiveConnections = connections,
            CpuPercent = cpu,
            MemoryMB = memory is { } m ? Math.Round(m, 1) : null,
            AppDiskFreeMB = appFree is { } a ? Math.Round(a, 1) : null,
            LogDiskFreeMB = logFree is { } l ? Math.Round(l, 1) : null,
            OpenFiles = openFiles,
            Problems = problems,
        };
    }

    private static double? Number(string text) =>
        double.TryParse(text.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var value) ? value : null;
}
