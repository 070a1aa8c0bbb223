using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using YieldVault.Ops.Hosts;
using YieldVault.Ops.Services;

namespace YieldVault.Ops.Probes;

/// <summary>Reads the backend's log from wherever it is, as entries.</summary>
public static class LogReader
{
    public static async Task<(string Source, IReadOnlyList<VaultLogEntry> Entries)> ReadAsync(
        VaultTarget target, IHostShell shell, VaultLogSource source, int tail, DateTimeOffset? since, CancellationToken cancellationToken)
    {
        var useFile = source == VaultLogSource.File;
        if (source == VaultLogSource.Auto)
        {
            var exists = await shell.RunAsync(CommandLine.Script("test -f \"$1\"", target.LogPath), TimeSpan.FromSeconds(30), cancellationToken).ConfigureAwait(false);
            useFile = exists.Succeeded;
        }

        IReadOnlyList<string> lines;
        string name;
        if (useFile)
        {
            var result = await shell.RunAsync(
                CommandLine.Script("if [ -f \"$1\" ]; then tail -n \"$2\" -- \"$1\"; else exit 3; fi", target.LogPath, tail.ToString(CultureInfo.InvariantCulture)),
                TimeSpan.FromSeconds(60), cancellationToken).ConfigureAwait(false);
            if (result.ExitCode == 3)
            {
                throw new VaultException(ErrorIds.LogNotFound, VaultErrorKind.ObjectNotFound,
                    $"{target.DisplayName}: the log file {target.LogPath} does not exist.",
                    "Check the target's LogPath, or read the service manager's log with -Source Manager.");
            }

            if (!result.Succeeded)
            {
                throw new VaultException(ErrorIds.LogUnreadable, VaultErrorKind.SecurityError,
                    $"{target.DisplayName}: could not read {target.LogPath}: {result.Tail(2)}", "Check the permissions of the log file.");
            }

            lines = result.StandardOutput.Replace("\r\n", "\n").TrimEnd('\n').Split('\n').Where(l => l.Length > 0).ToList();
            name = "file";
        }
        else
        {
            lines = await ServiceManagers.For(target, shell).ReadLogAsync(tail, since, cancellationToken).ConfigureAwait(false);
            name = target.ServiceManager switch
            {
                ServiceManagerKind.Pm2 => "pm2",
                ServiceManagerKind.Docker => "docker",
                ServiceManagerKind.Swarm => "swarm",
                _ => "journald",
            };
        }

        var entries = lines.Select(l => LogParser.Parse(l, name, target))
            .Where(e => since is null || e.Time is null || e.Time >= since)
            .ToList();
        return (name, entries);
    }
}
