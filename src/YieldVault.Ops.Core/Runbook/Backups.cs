using System;
using System.Globalization;
using System.Threading;
using System.Threading.Tasks;
using Newtonsoft.Json.Linq;
using YieldVault.Ops.Hosts;
using YieldVault.Ops.Probes;
using YieldVault.Ops.Releases;

namespace YieldVault.Ops.Runbook;

/// <summary>Runbook 2.1 (Backup-VaultDeployment, and Step 3 of every deployment): the running version and a copy of the env file.</summary>
public static class Backups
{
    private static readonly TimeSpan Quick = TimeSpan.FromSeconds(60);

    public static async Task<VaultBackupRecord> CreateAsync(VaultTarget target, IHostShell shell, bool includeNodeModules, CancellationToken cancellationToken)
    {
        var now = DateTimeOffset.UtcNow;
        var stamp = now.UtcDateTime.ToString("yyyyMMdd_HHmmss", CultureInfo.InvariantCulture);
        var dir = target.BackupPath.TrimEnd('/') + "/" + target.ServiceName + "-" + stamp + "-" + Guid.NewGuid().ToString("N").Substring(0, 4);
        var release = await new ReleaseStore(target, shell).CurrentAsync(cancellationToken).ConfigureAwait(false);
        var git = await VersionProbe.FromGitAsync(target, shell, cancellationToken).ConfigureAwait(false);
        var version = await VersionProbe.GetAsync(target, shell, TimeSpan.FromSeconds(5), cancellationToken).ConfigureAwait(false);
        string? image = null;
        if (target.ServiceManager is ServiceManagerKind.Docker or ServiceManagerKind.Swarm)
        {
            image = (await Services.ServiceManagers.For(target, shell).GetStateAsync(cancellationToken).ConfigureAwait(false)).Image;
        }

        // Runbook 2.1, with the env file copied without ever passing its content through this machine.
        const string script = @"dir=""$1""; env=""$2""; commit=""$3""; when=""$4""; root=""$5""
umask 077
mkdir -p -- ""$dir"" || exit 4
if [ -f ""$env"" ]; then cat -- ""$env"" > ""$dir/env.backup"" && chmod 600 -- ""$dir/env.backup"" && echo env=yes; fi
if [ -n ""$commit"" ]; then printf '%s\n%s\n' ""$commit"" ""$when"" > ""$root/last_deployed_commit.txt""; fi
true";
        await shell.RunCheckedAsync(CommandLine.Script(script, dir, target.EnvFilePath, git?.Commit ?? "", now.ToString("yyyy-MM-ddTHH:mm:sszzz", CultureInfo.InvariantCulture), target.BackupPath),
            ErrorIds.BackupFailed, $"Backing up to {dir}", Quick, cancellationToken, VaultErrorKind.InvalidOperation, $"Check that {target.BackupPath} is writable.").ConfigureAwait(false);
        var envCopy = await shell.RunAsync(CommandLine.Script("[ -f \"$1/env.backup\" ]", dir), Quick, cancellationToken).ConfigureAwait(false);

        string? archive = null;
        if (includeNodeModules)
        {
            var tar = await shell.RunCheckedAsync(CommandLine.Script("[ -d \"$1/node_modules\" ] || exit 0; tar -czf \"$2\" -C \"$1\" node_modules && echo archived", target.AppPath + "/", dir + "/node_modules.tar.gz"),
                ErrorIds.BackupFailed, "Archiving node_modules", TimeSpan.FromMinutes(10), cancellationToken).ConfigureAwait(false);
            archive = tar.StandardOutput.Contains("archived") ? dir + "/node_modules.tar.gz" : null;
        }

        var record = new VaultBackupRecord
        {
            Target = target, Path = dir, CreatedAt = now, Release = release, Commit = git?.Commit ?? version.Commit, Version = version.Version,
            Image = image, EnvFileCopy = envCopy.Succeeded ? dir + "/env.backup" : null, NodeModulesArchive = archive,
        };
        var json = new JObject
        {
            ["target"] = target.Name, ["createdAt"] = now.ToString("o", CultureInfo.InvariantCulture), ["release"] = release, ["commit"] = record.Commit,
            ["version"] = record.Version, ["image"] = image, ["envFileCopy"] = record.EnvFileCopy, ["nodeModulesArchive"] = archive,
        };
        await shell.RunCheckedAsync(CommandLine.Script("printf '%s\\n' \"$2\" > \"$1/backup.json\"", dir, json.ToString(Newtonsoft.Json.Formatting.Indented)),
            ErrorIds.BackupFailed, "Writing backup.json", Quick, cancellationToken).ConfigureAwait(false);
        return record;
    }
}
