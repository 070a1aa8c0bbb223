using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using YieldVault.Ops.Hosts;

namespace YieldVault.Ops.Services;

/// <summary>Starting the backend under PM2: by name, from the release the app path points to, or from its app directory.</summary>
public sealed partial class Pm2ServiceManager
{
    /// <summary>
    /// Starts the app: an app PM2 knows is started by name (nothing is done when it is already online, since
    /// "pm2 start &lt;name&gt;" would restart it); an unknown app is started from the target's app directory
    /// (<see cref="VaultTarget.AppDirectory"/>): its ecosystem.config.js (only this app), else its entry point (the
    /// target's EntryPoint, "main" of package.json, else dist/index.js) with "--time" and the app directory as cwd, where
    /// the backend reads its .env, else "npm start". A known app that comes from an ecosystem file is started from the
    /// file of the release the app path points to now (PM2 keeps the real directory it was started from, so a plain
    /// "pm2 start &lt;name&gt;" would start the release before the switch). Then "pm2 save" as the runbook does, so a
    /// reboot (pm2 resurrect) brings back this list; skipped with a warning when PM2_HOME is not writable.
    /// </summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var list = await ReadListAsync(cancellationToken).ConfigureAwait(false);
        var app = list.Find(Name);
        if (app.Count > 0)
        {
            if (app.All(p => p.Status is Pm2Status.Online or Pm2Status.Launching))
            {
                Reporting.Current.Verbose($"PM2 app {Name} on {_shell.Description} is already online; not starting it again.");
                return;
            }

            if (PinnedToRelease(app) is { } pinned)
            {
                // Started from a release's real directory (an ecosystem file without cwd gets it from the pm2 CLI's cwd):
                // "pm2 start <name>" would run that release, not the one AppPath points to now. Start it anew from AppPath.
                Reporting.Current.Verbose($"PM2 app {Name} on {_shell.Description} runs from {pinned}, not through {_target.AppPath}: deleting it from PM2 and starting it from {_target.AppDirectory}.");
                await RunPm2Async(null, ActionTimeout, cancellationToken, "delete", Name).ConfigureAwait(false);
                await StartFromAppPathAsync(cancellationToken).ConfigureAwait(false);
            }
            else
            {
                await RunPm2Async(null, ActionTimeout, cancellationToken, "start", Name).ConfigureAwait(false);
            }
        }
        else
        {
            await StartFromAppPathAsync(cancellationToken).ConfigureAwait(false);
        }

        await SaveAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task StartFromAppPathAsync(CancellationToken cancellationToken)
    {
        var directory = _target.AppDirectory;
        var probe = await _shell.RunAsync(CommandLine.Script(Pm2Scripts.ProbeAppScript, _target.EntryPoint ?? "", directory), QueryTimeout, cancellationToken).ConfigureAwait(false);
        if (probe.ExitCode == 3)
        {
            throw new VaultException(ErrorIds.AppPathNotFound, VaultErrorKind.ObjectNotFound,
                $"PM2 does not know the app {Name} on {_shell.Description}, and its app directory {directory} does not exist there (or is not readable).",
                "Check the target's AppPath (and AppSubdirectory) and ServiceName, or deploy the app first.");
        }

        if (!probe.Succeeded)
        {
            throw Failed(probe, $"looking for ecosystem.config.js and the entry point in {directory}");
        }

        var found = probe.StandardOutput.Replace("\r", "").Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0).ToList();
        var ecosystem = found.FirstOrDefault(f => f is "ecosystem.config.js" or "ecosystem.config.cjs");
        if (ecosystem is not null)
        {
            await StartFromEcosystemAsync(ecosystem, cancellationToken).ConfigureAwait(false);
            return;
        }

        // A "main" that leaves the app directory or looks like an option is not started.
        var entry = found.FirstOrDefault(f => f != "npm-start" && !f.StartsWith("ecosystem.config.", StringComparison.Ordinal) && BackendSettings.IsSafeRelative(f));
        if (entry is not null)
        {
            await RunPm2Async(directory, ActionTimeout, cancellationToken, "start", entry, "--name", Name, "--cwd", directory, "--time").ConfigureAwait(false);
            return;
        }

        if (found.Contains("npm-start"))
        {
            await RunPm2Async(directory, ActionTimeout, cancellationToken, "start", "npm", "--name", Name, "--cwd", directory, "--time", "--", "start").ConfigureAwait(false);
            return;
        }

        throw new VaultException(ErrorIds.AppEntryPointNotFound, VaultErrorKind.ObjectNotFound,
            $"PM2 does not know the app {Name} on {_shell.Description}, and {directory} has no ecosystem.config.js, no entry point ({_target.EntryPoint ?? "\"main\" of package.json, else dist/index.js"}) and no start script to start it from.",
            "Build the app (npm ci && npm run build) in its directory, set the target's EntryPoint, or add an ecosystem.config.js that defines it.");
    }

    /// <summary>
    /// The release directory a known app is tied to, when it is one under the target's releases/ rather than the app
    /// path link; null when PM2 starts it through the app path (or it is not ours to judge).
    /// </summary>
    private string? PinnedToRelease(IReadOnlyList<Pm2Process> app)
    {
        var releases = _target.ReleasesDirectory.TrimEnd('/') + "/releases/";
        return app.Select(p => p.Cwd).Concat(app.Select(p => p.ExecPath))
            .FirstOrDefault(path => path is not null && path.StartsWith(releases, StringComparison.Ordinal));
    }

    /// <summary>Only this app of the file: others in it are not ours to start.</summary>
    private async Task StartFromEcosystemAsync(string ecosystem, CancellationToken cancellationToken)
    {
        await RunPm2Async(_target.AppDirectory, ActionTimeout, cancellationToken, "start", ecosystem, "--only", Name).ConfigureAwait(false);
        var after = await ReadListAsync(cancellationToken).ConfigureAwait(false);
        if (after.Find(Name).Count == 0)
        {
            throw new VaultException(ErrorIds.EcosystemAppMissing, VaultErrorKind.ObjectNotFound,
                $"{_target.AppDirectory}/{ecosystem} on {_shell.Description} does not define an app named {Name}, so pm2 started nothing.",
                $"Name the app '{Name}' in {ecosystem}, or set the target's ServiceName to the name used there.");
        }
    }

    private async Task SaveAsync(CancellationToken cancellationToken)
    {
        var result = await RunAsync(Pm2Command(CommandLine.Script(Pm2Scripts.SaveScript)), QueryTimeout, cancellationToken, "pm2 save").ConfigureAwait(false);
        if (result.ExitCode == 10)
        {
            Reporting.Current.Warning($"Started {Name} on {_shell.Description} but did not run 'pm2 save': PM2_HOME ({_target.Pm2Home ?? "~/.pm2"}) is not writable for this user, so a reboot restores the previous process list.");
        }
        else if (!result.Succeeded)
        {
            Reporting.Current.Warning($"Started {Name} on {_shell.Description} but 'pm2 save' failed (exit code {result.ExitCode}): {Pm2Output.Tail(result)}");
        }
    }
}
