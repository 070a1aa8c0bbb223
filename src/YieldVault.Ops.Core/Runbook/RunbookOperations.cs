using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Newtonsoft.Json.Linq;
using YieldVault.Ops.Hosts;
using YieldVault.Ops.Probes;
using YieldVault.Ops.Releases;

namespace YieldVault.Ops.Runbook;

/// <summary>Runbook 2.1: what was running, and a copy of its env file, to come back to.</summary>
public sealed class VaultBackupRecord
{
    public VaultTarget? Target { get; init; }

    /// <summary>The backup directory on the host.</summary>
    public string Path { get; init; } = "";

    public DateTimeOffset CreatedAt { get; init; }

    /// <summary>The release the app path pointed to (release layout), or null.</summary>
    public string? Release { get; init; }

    public string? Commit { get; init; }

    public string? Version { get; init; }

    /// <summary>Docker: the image the container ran.</summary>
    public string? Image { get; init; }

    /// <summary>The env file copy (mode 600), or null when there was no env file.</summary>
    public string? EnvFileCopy { get; init; }

    public string? NodeModulesArchive { get; init; }

    public override string ToString() => Path;
}

/// <summary>Runbook 5.1: the env file has every required variable (names only; values are never read out).</summary>
public sealed class VaultEnvironmentCheck
{
    public VaultTarget? Target { get; init; }

    public string EnvFile { get; init; } = "";

    public bool Exists { get; init; }

    public IReadOnlyList<string> Missing { get; init; } = Array.Empty<string>();

    public IReadOnlyList<string> Empty { get; init; } = Array.Empty<string>();

    /// <summary>Variables the new release's .env.example names that the env file lacks.</summary>
    public IReadOnlyList<string> NewInExample { get; init; } = Array.Empty<string>();

    public bool Passed => Exists && Missing.Count == 0 && Empty.Count == 0;
}

public enum MigrationAction
{
    Status,
    Deploy,
    Validate,
}

/// <summary>Runbook 5.2: one migration command and what it said.</summary>
public sealed class VaultMigrationResult
{
    public VaultTarget? Target { get; init; }

    public MigrationAction Action { get; init; }

    public string Command { get; init; } = "";

    public int ExitCode { get; init; }

    public bool Succeeded => ExitCode == 0;

    /// <summary>The last lines of the tool's output (secrets hidden).</summary>
    public string Output { get; init; } = "";

    public double DurationMs { get; init; }
}

/// <summary>The smaller runbook operations: backup, maintenance flag, env check, migrations.</summary>
public static class RunbookOperations
{
    private static readonly TimeSpan Quick = TimeSpan.FromSeconds(60);

    public static async Task<VaultBackupRecord> BackupAsync(VaultTarget target, IHostShell shell, bool includeNodeModules, CancellationToken cancellationToken)
    {
        var now = DateTimeOffset.UtcNow;
        var stamp = now.UtcDateTime.ToString("yyyyMMdd_HHmmss", CultureInfo.InvariantCulture);
        var dir = target.BackupPath.TrimEnd('/') + "/" + target.ServiceName + "-" + stamp + "-" + Guid.NewGuid().ToString("N").Substring(0, 4);
        var release = await new ReleaseStore(target, shell).CurrentAsync(cancellationToken).ConfigureAwait(false);
        var git = await VersionProbe.FromGitAsync(target, shell, cancellationToken).ConfigureAwait(false);
        var version = await VersionProbe.GetAsync(target, shell, TimeSpan.FromSeconds(5), cancellationToken).ConfigureAwait(false);
        string? image = null;
        if (target.ServiceManager == ServiceManagerKind.Docker)
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
            "BackupFailed", $"Backing up to {dir}", Quick, cancellationToken, VaultErrorKind.InvalidOperation, $"Check that {target.BackupPath} is writable.").ConfigureAwait(false);
        var envCopy = await shell.RunAsync(CommandLine.Script("[ -f \"$1/env.backup\" ]", dir), Quick, cancellationToken).ConfigureAwait(false);

        string? archive = null;
        if (includeNodeModules)
        {
            var tar = await shell.RunCheckedAsync(CommandLine.Script("[ -d \"$1/node_modules\" ] || exit 0; tar -czf \"$2\" -C \"$1\" node_modules && echo archived", target.AppPath + "/", dir + "/node_modules.tar.gz"),
                "BackupFailed", "Archiving node_modules", TimeSpan.FromMinutes(10), cancellationToken).ConfigureAwait(false);
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
            "BackupFailed", "Writing backup.json", Quick, cancellationToken).ConfigureAwait(false);
        return record;
    }

    public static string MaintenanceFlag(VaultTarget target) => target.AppPath.TrimEnd('/') + "/MAINTENANCE_MODE";

    public static Task SetMaintenanceAsync(VaultTarget target, IHostShell shell, bool enabled, CancellationToken cancellationToken) =>
        shell.RunCheckedAsync(CommandLine.Script(enabled ? "touch -- \"$1\"" : "rm -f -- \"$1\"", MaintenanceFlag(target)),
            "MaintenanceFailed", (enabled ? "Creating " : "Removing ") + MaintenanceFlag(target), Quick, cancellationToken);

    public static async Task<VaultEnvironmentCheck> CheckEnvironmentAsync(VaultTarget target, IHostShell shell, SecretRedactor redactor, string? releasePath, CancellationToken cancellationToken)
    {
        var env = await EnvironmentFiles.ReadAsync(target, shell, redactor, cancellationToken).ConfigureAwait(false);
        if (env is null)
        {
            return new VaultEnvironmentCheck { Target = target, EnvFile = target.EnvFilePath, Exists = false, Missing = target.RequiredVariables };
        }

        IReadOnlyList<string> newInExample = Array.Empty<string>();
        if (releasePath is not null)
        {
            var example = await shell.RunAsync(CommandLine.Script("cat -- \"$1/.env.example\" 2>/dev/null", releasePath), Quick, cancellationToken).ConfigureAwait(false);
            if (example.Succeeded)
            {
                // Only the names of .env.example are used; its sample values are not secrets but are not shown either.
                newInExample = EnvironmentFiles.Parse(example.StandardOutput).Keys.Where(k => !env.ContainsKey(k)).OrderBy(k => k, StringComparer.Ordinal).ToList();
            }
        }

        return new VaultEnvironmentCheck
        {
            Target = target,
            EnvFile = target.EnvFilePath,
            Exists = true,
            Missing = target.RequiredVariables.Where(v => !env.ContainsKey(v)).ToList(),
            Empty = target.RequiredVariables.Where(v => env.TryGetValue(v, out var value) && string.IsNullOrWhiteSpace(value)).ToList(),
            NewInExample = newInExample,
        };
    }

    public static IReadOnlyList<string>? MigrationCommand(MigrationPreset preset, MigrationAction action) => (preset, action) switch
    {
        (MigrationPreset.None, _) => null,
        (MigrationPreset.Prisma, MigrationAction.Status) => new[] { "npx", "--no-install", "prisma", "migrate", "status" },
        (MigrationPreset.Prisma, MigrationAction.Deploy) => new[] { "npx", "--no-install", "prisma", "migrate", "deploy" },
        (MigrationPreset.Prisma, MigrationAction.Validate) => new[] { "npx", "--no-install", "prisma", "validate" },
        (MigrationPreset.NodePgMigrate, MigrationAction.Deploy) => new[] { "npx", "--no-install", "node-pg-migrate", "up" },
        (MigrationPreset.NodePgMigrate, _) => new[] { "npx", "--no-install", "node-pg-migrate", "up", "--dry-run" },
        (MigrationPreset.Npm, MigrationAction.Deploy) => new[] { "npm", "run", "migrate" },
        (MigrationPreset.Npm, MigrationAction.Status) => new[] { "npm", "run", "--if-present", "migrate:status" },
        (MigrationPreset.Npm, _) => new[] { "npm", "run", "--if-present", "migrate:validate" },
        _ => null,
    };

    // Loads the env file the way the backend does (dotenv, when the release has it; else read line by line as
    // dotenv would) and runs the tool with it: values stay in the child's environment, never on a command line.
    // The file is never sourced: a value such as $(cmd) or `cmd`, or a line that is not KEY=VALUE, stays data.
    private const string WithEnvScript = @"cd -- ""$1"" || exit 90
shift
if node -e ""require.resolve('dotenv')"" >/dev/null 2>&1; then
  exec node -e ""require('dotenv').config({quiet: true}); const r = require('child_process').spawnSync(process.argv[1], process.argv.slice(2), {stdio: 'inherit'}); process.exit(r.status === null ? 1 : r.status)"" ""$@""
fi
if [ -f ./.env ]; then
  while IFS= read -r line || [ -n ""$line"" ]; do
    line=${line#""${line%%[![:space:]]*}""}
    case $line in 'export '*) line=${line#export }; line=${line#""${line%%[![:space:]]*}""};; esac
    key=${line%%=*}
    [ ""$key"" != ""$line"" ] || continue
    key=${key%""${key##*[![:space:]]}""}
    case $key in ''|[0-9]*|*[!A-Za-z0-9_]*) continue;; esac
    value=${line#*=}
    value=${value#""${value%%[![:space:]]*}""}
    value=${value%""${value##*[![:space:]]}""}
    case $value in
      \""*\"") value=${value#\""}; value=${value%\""};;
      \'*\') value=${value#\'}; value=${value%\'};;
      \`*\`) value=${value#\`}; value=${value%\`};;
      *) value=${value%%"" #""*};;
    esac
    export ""$key=$value""
  done < ./.env
fi
exec ""$@""";

    /// <summary>A directory to run a migration in: absolute, without control characters or '..' segments.</summary>
    public static void ValidateDirectory(string directory)
    {
        if (!RemotePaths.IsSafeAbsolute(directory))
        {
            throw new VaultException("InvalidPath", VaultErrorKind.InvalidArgument,
                $"'{directory}' is not a directory to run a migration in: it must be an absolute path on the host, without control characters or '..' segments.");
        }
    }

    public static async Task<VaultMigrationResult?> MigrateAsync(VaultTarget target, IHostShell shell, SecretRedactor redactor, MigrationAction action, string directory,
        IReadOnlyList<string>? command, CancellationToken cancellationToken)
    {
        command ??= MigrationCommand(target.MigrationPreset, action);
        if (command is null || command.Count == 0)
        {
            return null;
        }

        ValidateDirectory(directory);
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var line = CommandLine.Script(WithEnvScript, new[] { directory }.Concat(command).ToArray());
        Reporting.Current.Verbose($"[{shell.Description}] (in {directory}) {string.Join(" ", command.Select(ShellQuote.Quote))}");
        var result = await shell.RunAsync(line, target.Ssh?.CommandTimeout ?? TimeSpan.FromMinutes(10), cancellationToken).ConfigureAwait(false);
        var output = redactor.Redact((result.StandardOutput + "\n" + result.StandardError).Trim());
        var lines = output.Split('\n');
        return new VaultMigrationResult
        {
            Target = target,
            Action = action,
            Command = string.Join(" ", command.Select(ShellQuote.Quote)),
            ExitCode = result.ExitCode,
            Output = string.Join("\n", lines.Skip(Math.Max(0, lines.Length - 20))),
            DurationMs = Math.Round(watch.Elapsed.TotalMilliseconds, 1),
        };
    }
}
