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

    // Loads the target's env file ($2) the way the backend does and runs the tool ($4...) with it: values stay in the
    // child's environment, never on a command line, and a variable already set wins, as with dotenv's config(). With node
    // (the backend's hosts have it) the loader is $3: dotenv's own parse() when the directory's node_modules has dotenv,
    // else a copy of it. Without node, KEY=VALUE lines are read by the shell, the names it can export. The file is never
    // sourced: a value such as $(cmd) or `cmd`, or a line that is not KEY=VALUE, stays data.
    private const string WithEnvScript = @"cd -- ""$1"" || exit 90
envfile=$2; loader=$3
shift 3
if command -v node >/dev/null 2>&1; then
  exec node -e ""$loader"" ""$envfile"" ""$@""
fi
if [ -f ""$envfile"" ]; then
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
      *) value=${value%%#*}; value=${value%""${value##*[![:space:]]}""};;
    esac
    printenv ""$key"" >/dev/null 2>&1 || export ""$key=$value""
  done < ""$envfile""
fi
exec ""$@""";

    // dotenv's parse() as a JavaScript function: dotenv 16's LINE expression and value rules (17 and 18 parse with them
    // by default), for a release without dotenv. A test runs it on the table of tricky lines the C# parser is checked on.
    internal const string DotenvParseCopy = @"(src) => {
  const LINE = /(?:^|^)\s*(?:export\s+)?([\w.-]+)(?:\s*=\s*?|:\s+?)(\s*'(?:\\'|[^'])*'|\s*""(?:\\""|[^""])*""|\s*`(?:\\`|[^`])*`|[^#\r\n]+)?\s*(?:#.*)?(?:$|$)/mg;
  const obj = {};
  const lines = src.toString().replace(/\r\n?/mg, '\n');
  let match;
  while ((match = LINE.exec(lines)) != null) {
    let value = (match[2] || '').trim();
    const quote = value[0];
    value = value.replace(/^(['""`])([\s\S]*)\1$/mg, '$2');
    if (quote === '""') { value = value.replace(/\\n/g, '\n').replace(/\\r/g, '\r'); }
    obj[match[1]] = value;
  }
  return obj;
}";

    // argv: the env file, the program, its arguments.
    private const string EnvLoader = @"const fs = require('fs');
const [file, program, ...args] = process.argv.slice(1);
let parse = null;
try { parse = require('dotenv').parse; } catch (e) { parse = null; }
if (typeof parse !== 'function') { parse = " + DotenvParseCopy + @"; }
let text = null;
try { text = fs.readFileSync(file); } catch (e) { if (e.code !== 'ENOENT') { console.error('could not read the env file ' + file + ': ' + e.code); process.exit(91); } }
if (text !== null) {
  const values = parse(text);
  for (const key of Object.keys(values)) { if (!Object.prototype.hasOwnProperty.call(process.env, key)) { process.env[key] = values[key]; } }
}
const r = require('child_process').spawnSync(program, args, { stdio: 'inherit' });
if (r.error) { console.error(program + ': ' + r.error.message); }
process.exit(r.status === null ? 1 : r.status);";

    /// <summary>
    /// The env file a migration in <paramref name="directory"/> loads: the target's EnvFile, as the backend run from there
    /// would read it. An absolute EnvFile is itself; a relative one is in the directory (a release's app directory), or
    /// where the target says when the directory is the target's own app path.
    /// </summary>
    public static string EnvFileFor(VaultTarget target, string directory)
    {
        var dir = directory.TrimEnd('/');
        if (target.EnvFile.StartsWith("/", StringComparison.Ordinal) || dir == target.AppPath.TrimEnd('/') || dir == target.AppDirectory.TrimEnd('/'))
        {
            return target.EnvFilePath;
        }

        return dir + "/" + target.EnvFile;
    }

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
        var line = CommandLine.Script(WithEnvScript, new[] { directory, EnvFileFor(target, directory), EnvLoader }.Concat(command).ToArray());
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
