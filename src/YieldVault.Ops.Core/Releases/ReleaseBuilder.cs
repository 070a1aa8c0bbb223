using System;
using System.Threading;
using System.Threading.Tasks;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;
using YieldVault.Ops.Hosts;

namespace YieldVault.Ops.Releases;

/// <summary>
/// The build part of runbook Step 4, in a new release directory while the old version serves: npm ci
/// (with dev dependencies, because the compiler is one — the runbook's "npm ci --production" before the
/// build would fail), npm run build, npm prune --omit=dev, dist/ verified, the shared env file linked in.
/// </summary>
public static class ReleaseBuilder
{
    public static async Task<string?> BuildAsync(VaultTarget target, IHostShell shell, ReleaseStore store, string releasePath, bool installDependencies,
        Action<string> step, CancellationToken cancellationToken)
    {
        var timeout = target.Ssh?.CommandTimeout ?? TimeSpan.FromSeconds(RunbookDefaults.CommandTimeoutSec);
        if (installDependencies)
        {
            step("npm ci");
            await NpmInstall.RunAsync(shell, new CommandLine("npm", "ci", "--include=dev", "--no-audit", "--no-fund") { WorkingDirectory = releasePath },
                "npm ci", timeout, cancellationToken).ConfigureAwait(false);
            step("npm run build");
            await shell.RunCheckedAsync(new CommandLine("npm", "run", "build") { WorkingDirectory = releasePath },
                ErrorIds.BuildFailed, "npm run build", timeout, cancellationToken, recommendedAction: "Fix the build of this ref; the running version was not touched.").ConfigureAwait(false);
            step("npm prune --omit=dev");
            await shell.RunCheckedAsync(new CommandLine("npm", "prune", "--omit=dev", "--no-audit", "--no-fund") { WorkingDirectory = releasePath },
                ErrorIds.DependencyInstallFailed, "npm prune --omit=dev", timeout, cancellationToken).ConfigureAwait(false);
        }

        step("verify dist/");
        await shell.RunCheckedAsync(CommandLine.Script("[ -f \"$1/dist/index.js\" ] || { echo \"dist/index.js is missing in $1\" >&2; ls -la \"$1/dist\" >&2; exit 1; }", releasePath),
            ErrorIds.BuildFailed, "Verifying dist/", TimeSpan.FromSeconds(30), cancellationToken).ConfigureAwait(false);

        step("link the env file");
        var envName = System.IO.Path.GetFileName(target.EnvFile);
        await shell.RunCheckedAsync(
            CommandLine.Script("[ -f \"$2\" ] || { echo \"the env file $2 does not exist\" >&2; exit 3; }; ln -sfn -- \"$2\" \"$1/$3\"", releasePath, store.SharedEnvFile, envName),
            ErrorIds.EnvFileMissing, "Linking the env file", TimeSpan.FromSeconds(30), cancellationToken, VaultErrorKind.ObjectNotFound,
            $"Put the backend's env file at {store.SharedEnvFile}.").ConfigureAwait(false);

        var package = await shell.RunAsync(CommandLine.Script("cat -- \"$1/package.json\" 2>/dev/null", releasePath), TimeSpan.FromSeconds(30), cancellationToken).ConfigureAwait(false);
        try
        {
            return package.Succeeded ? (string?)JObject.Parse(package.StandardOutput)["version"] : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
