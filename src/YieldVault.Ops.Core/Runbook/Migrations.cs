using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using YieldVault.Ops.Hosts;

namespace YieldVault.Ops.Runbook;

/// <summary>Runbook 5.2 (Invoke-VaultMigration, and Step 5 or 6 of every deployment): the target's migration tool, run in a release with its env file.</summary>
public static class Migrations
{
    public static IReadOnlyList<string>? CommandFor(MigrationPreset preset, MigrationAction action) => (preset, action) switch
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
            throw new VaultException(ErrorIds.InvalidPath, VaultErrorKind.InvalidArgument,
                $"'{directory}' is not a directory to run a migration in: it must be an absolute path on the host, without control characters or '..' segments.");
        }
    }

    public static async Task<VaultMigrationResult?> RunAsync(VaultTarget target, IHostShell shell, SecretRedactor redactor, MigrationAction action, string directory,
        IReadOnlyList<string>? command, CancellationToken cancellationToken)
    {
        command ??= CommandFor(target.MigrationPreset, action);
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
