using System;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using YieldVault.Ops.Hosts;

namespace YieldVault.Ops.Releases;

/// <summary>
/// The build part of runbook Step 4, in a new release directory while the old version serves, following the
/// target's release recipe (<see cref="ReleaseRecipe"/>): install with dev dependencies when there is something to
/// build (the runbook's "npm ci --production" before the build would fail when the compiler is one), build, keep
/// production dependencies only, check the entry point, link the shared env file in.
/// </summary>
public static class ReleaseBuilder
{
    /// <summary>The app directory of a release: its root, or the target's AppSubdirectory in it.</summary>
    public static string AppDirectoryOf(VaultTarget target, string releasePath) =>
        target.AppSubdirectory is null ? releasePath : releasePath.TrimEnd('/') + "/" + target.AppSubdirectory.Trim('/');

    /// <param name="prebuilt">An artifact built by CI: nothing is built; dependencies are installed only when it has no node_modules.</param>
    /// <returns>package.json's version, which the version check expects after the switch.</returns>
    public static async Task<string?> BuildAsync(VaultTarget target, IHostShell shell, ReleaseStore store, string releasePath, bool prebuilt,
        Action<string> step, CancellationToken cancellationToken)
    {
        var timeout = target.Ssh?.CommandTimeout ?? TimeSpan.FromSeconds(RunbookDefaults.CommandTimeoutSec);
        var appDirectory = AppDirectoryOf(target, releasePath);
        var facts = await ReleaseRecipe.ReadFactsAsync(shell, releasePath, appDirectory, cancellationToken).ConfigureAwait(false);
        var plan = ReleaseRecipe.Plan(target, facts, releasePath, appDirectory, prebuilt);
        foreach (var note in plan.Notes)
        {
            step(note);
        }

        foreach (var warning in plan.Warnings)
        {
            Reporting.Current.Warning($"{target.Name}: {warning}");
        }

        if (plan.Install is { } install)
        {
            var what = Describe(install);
            step(what);
            await NpmInstall.RunAsync(shell, install, what, timeout, cancellationToken).ConfigureAwait(false);
        }

        if (plan.Build is { } build)
        {
            var what = Describe(build);
            step(what);
            await shell.RunCheckedAsync(build, ErrorIds.BuildFailed, what, timeout, cancellationToken,
                recommendedAction: "Fix the build of this ref; the running version was not touched.").ConfigureAwait(false);
        }

        if (plan.Prune is { } prune)
        {
            var what = Describe(prune);
            step(what);
            await shell.RunCheckedAsync(prune, ErrorIds.DependencyInstallFailed, what, timeout, cancellationToken).ConfigureAwait(false);
        }

        await VerifyEntryPointAsync(target, shell, plan, appDirectory, built: plan.Build is not null, step, cancellationToken).ConfigureAwait(false);

        step("link the env file");
        await store.LinkEnvFileAsync(releasePath, cancellationToken).ConfigureAwait(false);

        return facts.Version;
    }

    private static async Task VerifyEntryPointAsync(VaultTarget target, IHostShell shell, ReleasePlan plan, string appDirectory, bool built, Action<string> step,
        CancellationToken cancellationToken)
    {
        var entry = plan.EntryPoint!;
        step($"verify the entry point {entry} ({plan.EntryPointSource})");
        // Node resolves "main" as a file, the file with .js, or a directory's index.js.
        var found = await shell.RunAsync(CommandLine.Script("cd -- \"$1\" && { [ -f \"$2\" ] || [ -f \"$2.js\" ] || [ -f \"$2/index.js\" ]; }", appDirectory, entry),
            TimeSpan.FromSeconds(30), cancellationToken).ConfigureAwait(false);
        if (found.Succeeded)
        {
            return;
        }

        if (!plan.EntryPointRequired)
        {
            step($"no {entry}: PM2 starts it with npm start (package.json has a start script)");
            return;
        }

        var listing = await shell.RunAsync(CommandLine.Script("ls -la -- \"$1\" 2>&1 | head -n 20", appDirectory), TimeSpan.FromSeconds(30), cancellationToken).ConfigureAwait(false);
        throw new VaultException(built ? ErrorIds.BuildFailed : ErrorIds.EntryPointNotFound, VaultErrorKind.ObjectNotFound,
            $"{target.DisplayName}: the entry point {entry} ({plan.EntryPointSource}) is missing in {appDirectory}" + (built ? " after the build" : "") +
            $". Nothing was changed; the running version still serves.{Environment.NewLine}{listing.StandardOutput.TrimEnd()}",
            built
                ? "Check the build's output directory, and the target's EntryPoint or package.json's \"main\"."
                : "Set the target's EntryPoint to the file the backend starts from, or \"main\" in package.json.");
    }

    private static string Describe(CommandLine command) => string.Join(" ", new[] { command.Program }.Concat(command.Arguments));
}
