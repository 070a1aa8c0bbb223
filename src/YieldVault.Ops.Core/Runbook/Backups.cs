using System;
using System.Globalization;
using System.Linq;
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

        // Runbook 2.1, with the env file copied without ever passing its content through this machine. The copy is then
        // measured against the source (size and SHA-256): a full disk cuts it short, and a cut copy must never count as a backup.
        const string script = @"dir=""$1""; env=""$2""; commit=""$3""; when=""$4""; root=""$5""
umask 077
mkdir -p -- ""$dir"" || exit 4
if [ -f ""$env"" ]; then
  cat -- ""$env"" > ""$dir/env.backup"" && chmod 600 -- ""$dir/env.backup""
  echo ""source=$(wc -c < ""$env"" | tr -d ' ') $(sha256sum < ""$env"" | cut -d ' ' -f 1)""
  echo ""copy=$(wc -c < ""$dir/env.backup"" 2>/dev/null | tr -d ' ') $(sha256sum < ""$dir/env.backup"" 2>/dev/null | cut -d ' ' -f 1)""
fi
if [ -n ""$commit"" ]; then printf '%s\n%s\n' ""$commit"" ""$when"" > ""$root/last_deployed_commit.txt""; fi
true";
        var copied = await shell.RunCheckedAsync(CommandLine.Script(script, dir, target.EnvFilePath, git?.Commit ?? "", now.ToString("yyyy-MM-ddTHH:mm:sszzz", CultureInfo.InvariantCulture), target.BackupPath),
            ErrorIds.BackupFailed, $"Backing up to {dir}", Quick, cancellationToken, VaultErrorKind.InvalidOperation, $"Check that {target.BackupPath} is writable.").ConfigureAwait(false);
        var envSha256 = await VerifyEnvCopyAsync(target, shell, dir, copied, cancellationToken).ConfigureAwait(false);

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
            Image = image, EnvFileCopy = envSha256 is null ? null : dir + "/env.backup", EnvFileSha256 = envSha256, NodeModulesArchive = archive,
        };
        var json = new JObject
        {
            ["target"] = target.Name, ["createdAt"] = now.ToString("o", CultureInfo.InvariantCulture), ["release"] = release, ["commit"] = record.Commit,
            ["version"] = record.Version, ["image"] = image, ["envFileCopy"] = record.EnvFileCopy, ["envFileSha256"] = envSha256, ["nodeModulesArchive"] = archive,
        };
        await shell.RunCheckedAsync(CommandLine.Script("printf '%s\\n' \"$2\" > \"$1/backup.json\"", dir, json.ToString(Newtonsoft.Json.Formatting.Indented)),
            ErrorIds.BackupFailed, "Writing backup.json", Quick, cancellationToken).ConfigureAwait(false);
        return record;
    }

    /// <summary>
    /// The SHA-256 of the env file copy, once its size and SHA-256 are the source's; null when there is no env file. A copy
    /// that differs (a full disk cut it short) fails the backup, before anything stops, and its directory is removed, so no
    /// cut copy is ever there to restore.
    /// </summary>
    private static async Task<string?> VerifyEnvCopyAsync(VaultTarget target, IHostShell shell, string dir, Hosts.CommandResult copied, CancellationToken cancellationToken)
    {
        var facts = copied.StandardOutput.Replace("\r", "").Split('\n').Where(l => l.Contains('='))
            .Select(l => l.Split(new[] { '=' }, 2)).GroupBy(p => p[0]).ToDictionary(g => g.Key, g => g.First()[1].Trim(), StringComparer.Ordinal);
        if (!facts.TryGetValue("source", out var source))
        {
            return null;
        }

        var (sourceBytes, sourceSha) = SizeAndHash(source);
        var (copyBytes, copySha) = SizeAndHash(facts.TryGetValue("copy", out var copy) ? copy : "");
        if (sourceSha.Length == 64 && copyBytes == sourceBytes && copySha == sourceSha)
        {
            return sourceSha;
        }

        var free = await shell.RunAsync(CommandLine.Script("df -Pk -- \"$1\" 2>/dev/null | awk 'NR==2{print $4}'", target.BackupPath), Quick, cancellationToken).ConfigureAwait(false);
        await shell.RunAsync(CommandLine.Script("rm -rf -- \"$1\"", dir), Quick, CancellationToken.None).ConfigureAwait(false);
        throw new VaultException(ErrorIds.EnvBackupIncomplete, VaultErrorKind.ResourceUnavailable,
            $"{target.DisplayName}: the copy of {target.EnvFilePath} in {dir} is not whole: {copyBytes?.ToString(CultureInfo.InvariantCulture) ?? "no"} of {sourceBytes?.ToString(CultureInfo.InvariantCulture) ?? "?"} bytes, " +
            (copySha == sourceSha ? "" : "a different SHA-256, ") + $"with {(free.StandardOutput.Trim().Length > 0 ? free.StandardOutput.Trim() + " KB" : "unknown space")} free there. " +
            "The unfinished backup was removed; nothing was stopped or changed.",
            $"Free space in {target.BackupPath} (df -h {target.BackupPath}), or point BackupPath at a disk with room, and run again.");
    }

    private static (long? Bytes, string Sha256) SizeAndHash(string fact)
    {
        var parts = fact.Split(new[] { ' ' }, StringSplitOptions.RemoveEmptyEntries);
        long? bytes = parts.Length > 0 && long.TryParse(parts[0], NumberStyles.Integer, CultureInfo.InvariantCulture, out var b) ? b : null;
        return (bytes, parts.Length > 1 ? parts[1].ToLowerInvariant() : "");
    }
}
