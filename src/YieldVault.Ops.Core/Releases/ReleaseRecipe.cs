using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;
using YieldVault.Ops.Hosts;

namespace YieldVault.Ops.Releases;

/// <summary>What a release directory holds that decides how it is installed, built and started.</summary>
public sealed class ReleaseFacts
{
    public static readonly string[] LockFileNames = { "package-lock.json", "npm-shrinkwrap.json", "pnpm-lock.yaml", "yarn.lock" };

    public bool AppDirectoryExists { get; init; } = true;

    /// <summary>Lock files in the app directory.</summary>
    public IReadOnlyList<string> AppLockFiles { get; init; } = Array.Empty<string>();

    /// <summary>Lock files at the repository root (a monorepo's), when the app directory is a subdirectory.</summary>
    public IReadOnlyList<string> RootLockFiles { get; init; } = Array.Empty<string>();

    /// <summary>Which of npm, pnpm and yarn the host has.</summary>
    public IReadOnlyCollection<string> Tools { get; init; } = Array.Empty<string>();

    /// <summary>yarn --version, asked only when a yarn.lock is there.</summary>
    public string? YarnVersion { get; init; }

    public bool HasNodeModules { get; init; }

    /// <summary>ecosystem.config.js (or .cjs) in the app directory, or null.</summary>
    public string? Ecosystem { get; init; }

    /// <summary>The app directory's package.json, or null when it is missing or not a JSON object.</summary>
    public JObject? Package { get; init; }

    public bool HasScript(string name) => Package?["scripts"] is JObject scripts && scripts[name] is { Type: JTokenType.String } script && ((string?)script)!.Trim().Length > 0;

    /// <summary>package.json's "main", without a leading "./"; null when it has none.</summary>
    public string? Main => Package?["main"] is { Type: JTokenType.String } main && ((string?)main)!.Trim() is { Length: > 0 } text
        ? (text.StartsWith("./", StringComparison.Ordinal) ? text.Substring(2) : text)
        : null;

    public string? Version => Package?["version"] is { Type: JTokenType.String } version ? ((string?)version)!.Trim() : null;

    /// <summary>Reads the output of <see cref="ReleaseRecipe.FactsScript"/>.</summary>
    public static ReleaseFacts Parse(string output)
    {
        var text = output.Replace("\r", "");
        var marker = text.IndexOf("\n" + ReleaseRecipe.PackageMarker + "\n", StringComparison.Ordinal);
        var head = marker >= 0 ? text.Substring(0, marker) : text;
        var packageText = marker >= 0 ? text.Substring(marker + ReleaseRecipe.PackageMarker.Length + 2) : "";
        var lines = head.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0).ToList();
        string? Value(string key) => lines.Where(l => l.StartsWith(key + " ", StringComparison.Ordinal)).Select(l => l.Substring(key.Length + 1).Trim()).FirstOrDefault();
        IReadOnlyList<string> Values(string key) => lines.Where(l => l.StartsWith(key + " ", StringComparison.Ordinal)).Select(l => l.Substring(key.Length + 1).Trim()).ToList();

        JObject? package = null;
        if (packageText.Trim().Length > 0)
        {
            try
            {
                package = JToken.Parse(packageText) as JObject;
            }
            catch (JsonException)
            {
                // Not JSON: the plan says package.json is unreadable.
            }
        }

        return new ReleaseFacts
        {
            AppDirectoryExists = !lines.Contains("no-app-directory"),
            AppLockFiles = Values("lock-app"),
            RootLockFiles = Values("lock-root"),
            Tools = Values("tool"),
            YarnVersion = Value("yarn-version"),
            HasNodeModules = lines.Contains("node_modules"),
            Ecosystem = Value("ecosystem"),
            Package = package,
        };
    }
}

/// <summary>How one release is made ready: the commands in order, and the file the backend starts from.</summary>
public sealed class ReleasePlan
{
    /// <summary>npm, pnpm or yarn.</summary>
    public string PackageManager { get; init; } = "npm";

    public CommandLine? Install { get; init; }

    public CommandLine? Build { get; init; }

    public CommandLine? Prune { get; init; }

    /// <summary>The file the backend starts from, relative to the app directory; null: it starts with "npm start".</summary>
    public string? EntryPoint { get; init; }

    /// <summary>Where <see cref="EntryPoint"/> came from: the target's EntryPoint, "main" of package.json, or the default.</summary>
    public string EntryPointSource { get; init; } = "";

    /// <summary>Whether a missing entry point is an error (false only for the default when package.json has a start script).</summary>
    public bool EntryPointRequired { get; init; } = true;

    /// <summary>What -Verbose shows about the choices made.</summary>
    public IReadOnlyList<string> Notes { get; init; } = Array.Empty<string>();

    /// <summary>What the user should know (no lock file: dependencies not pinned).</summary>
    public IReadOnlyList<string> Warnings { get; init; } = Array.Empty<string>();
}

/// <summary>
/// The release recipe of a target: install (npm ci, or pnpm / yarn when their lock file is there and the tool is
/// installed), build only when package.json has a build script (or the target has its own BuildCommand), then keep
/// production dependencies only, and check the entry point (the target's EntryPoint, else "main" of package.json,
/// else dist/index.js). For the runbook's backend (package-lock.json, a build script, main dist/index.js) that is
/// exactly runbook Step 4 done right: npm ci --include=dev, npm run build, npm prune --omit=dev, dist/index.js.
/// </summary>
public static class ReleaseRecipe
{
    public const string DefaultEntryPoint = "dist/index.js";

    internal const string PackageMarker = "==yv-package-json==";

    private const int MaxPackageBytes = 1024 * 1024;

    /// <summary>$1 = release root, $2 = app directory, $3 = the most bytes of package.json. Prints one fact a line, then package.json.</summary>
    internal const string FactsScript =
        "root=$1; app=$2\n" +
        "if [ ! -d \"$app\" ]; then echo no-app-directory; exit 0; fi\n" +
        "for f in package-lock.json npm-shrinkwrap.json pnpm-lock.yaml yarn.lock; do\n" +
        "  if [ -f \"$app/$f\" ]; then echo \"lock-app $f\"; fi\n" +
        "  if [ \"$root\" != \"$app\" ] && [ -f \"$root/$f\" ]; then echo \"lock-root $f\"; fi\n" +
        "done\n" +
        "for t in npm pnpm yarn; do if command -v \"$t\" >/dev/null 2>&1; then echo \"tool $t\"; fi; done\n" +
        "if command -v yarn >/dev/null 2>&1 && { [ -f \"$app/yarn.lock\" ] || [ -f \"$root/yarn.lock\" ]; }; then\n" +
        "  echo \"yarn-version $(cd \"$app\" && COREPACK_ENABLE_DOWNLOAD_PROMPT=0 yarn --version 2>/dev/null </dev/null | head -n 1)\"\n" +
        "fi\n" +
        "if [ -d \"$app/node_modules\" ]; then echo node_modules; fi\n" +
        "for f in ecosystem.config.js ecosystem.config.cjs; do if [ -f \"$app/$f\" ]; then echo \"ecosystem $f\"; break; fi; done\n" +
        "echo; echo " + PackageMarker + "\n" +
        "head -c \"$3\" -- \"$app/package.json\" 2>/dev/null\n" +
        "exit 0\n";

    public static async Task<ReleaseFacts> ReadFactsAsync(IHostShell shell, string releaseRoot, string appDirectory, CancellationToken cancellationToken)
    {
        var result = await shell.RunAsync(CommandLine.Script(FactsScript, releaseRoot, appDirectory, MaxPackageBytes.ToString(CultureInfo.InvariantCulture)),
            TimeSpan.FromSeconds(60), cancellationToken).ConfigureAwait(false);
        if (!result.Succeeded)
        {
            throw new VaultException(ErrorIds.ReleaseUnreadable, VaultErrorKind.InvalidOperation,
                $"Reading {appDirectory} on {shell.Description} failed (exit code {result.ExitCode}): {result.Tail(3)}");
        }

        return ReleaseFacts.Parse(result.StandardOutput);
    }

    /// <summary>
    /// The plan for a release. <paramref name="prebuilt"/>: an artifact, built by CI: nothing is built, and dependencies are
    /// installed (production only) only when it has no node_modules. Throws PackageJsonNotFound or PackageManagerNotFound.
    /// </summary>
    public static ReleasePlan Plan(VaultTarget target, ReleaseFacts facts, string releaseRoot, string appDirectory, bool prebuilt)
    {
        if (!facts.AppDirectoryExists || facts.Package is null)
        {
            throw new VaultException(ErrorIds.PackageJsonNotFound, VaultErrorKind.ObjectNotFound,
                $"{target.DisplayName}: {appDirectory}/package.json " + (facts.AppDirectoryExists ? "does not exist or is not a JSON object" : "does not exist (no such directory)") +
                ", so the release cannot be installed. Nothing was changed; the running version still serves.",
                target.AppSubdirectory is null
                    ? "Check that the ref holds a Node backend at its root, or set the target's AppSubdirectory (a monorepo's apps/api)."
                    : $"Check the target's AppSubdirectory '{target.AppSubdirectory}': it is relative to the repository root.");
        }

        var notes = new List<string>();
        var warnings = new List<string>();
        var build = prebuilt ? null : BuildCommand(target, facts);
        var (manager, installDirectory, locks) = PackageManager(target, facts, releaseRoot, appDirectory, notes);
        var classicYarn = manager != "yarn" || facts.YarnVersion is null || facts.YarnVersion.StartsWith("1.", StringComparison.Ordinal);
        var withDev = build is not null;
        if (build is not null && build.Count > 0 && target.BuildCommand is null)
        {
            build = new[] { manager, "run", "build" };
        }

        CommandLine? install = null;
        CommandLine? prune = null;
        if (prebuilt && facts.HasNodeModules)
        {
            notes.Add("the artifact brings its node_modules: nothing is installed");
        }
        else
        {
            if (locks.Count == 0)
            {
                warnings.Add($"{releaseRoot} has no lock file (package-lock.json, pnpm-lock.yaml, yarn.lock): dependency versions are not pinned, so this release may not match what was tested.");
            }

            install = manager switch
            {
                "pnpm" => Command(installDirectory, "pnpm", "install", locks.Contains("pnpm-lock.yaml") ? "--frozen-lockfile" : "--no-frozen-lockfile", withDev ? "--prod=false" : "--prod"),
                "yarn" when classicYarn => Command(installDirectory, "yarn", "install", locks.Contains("yarn.lock") ? "--frozen-lockfile" : "--no-lockfile", "--non-interactive",
                    withDev ? "--production=false" : "--production=true"),
                "yarn" => Command(installDirectory, "yarn", "install", locks.Contains("yarn.lock") ? "--immutable" : "--no-immutable"),
                _ when locks.Contains("package-lock.json") || locks.Contains("npm-shrinkwrap.json") => Command(installDirectory, "npm", "ci", withDev ? "--include=dev" : "--omit=dev", "--no-audit", "--no-fund"),
                _ => Command(installDirectory, "npm", "install", withDev ? "--include=dev" : "--omit=dev", "--no-audit", "--no-fund"),
            };

            if (withDev)
            {
                prune = manager switch
                {
                    "pnpm" => Command(installDirectory, "pnpm", "prune", "--prod"),
                    "yarn" when classicYarn => Command(installDirectory, "yarn", "install", locks.Contains("yarn.lock") ? "--frozen-lockfile" : "--no-lockfile", "--non-interactive", "--production=true"),
                    "yarn" => null,
                    _ => Command(installDirectory, "npm", "prune", "--omit=dev", "--no-audit", "--no-fund"),
                };
                if (prune is null)
                {
                    notes.Add($"yarn {facts.YarnVersion} keeps the dev dependencies (pruning them needs yarn workspaces focus --production)");
                }
            }
        }

        if (build is null)
        {
            notes.Add(prebuilt ? "an artifact is not built again" : "package.json has no build script and the target no BuildCommand: nothing to build");
        }

        var (entry, source, required) = EntryPoint(target, facts);
        return new ReleasePlan
        {
            PackageManager = manager,
            Install = install,
            Build = build is null ? null : new CommandLine(build[0], build.Skip(1)) { WorkingDirectory = appDirectory },
            Prune = prune,
            EntryPoint = entry,
            EntryPointSource = source,
            EntryPointRequired = required,
            Notes = notes,
            Warnings = warnings,
        };
    }

    /// <summary>The entry point: the target's EntryPoint, else "main" of package.json, else dist/index.js (then not required when a start script exists).</summary>
    public static (string Path, string Source, bool Required) EntryPoint(VaultTarget target, ReleaseFacts facts)
    {
        if (target.EntryPoint is { } configured)
        {
            return (configured.StartsWith("./", StringComparison.Ordinal) ? configured.Substring(2) : configured, "the target's EntryPoint", true);
        }

        if (facts.Main is { } main && BackendSettings.IsSafeRelative(main))
        {
            return (main, "\"main\" of package.json", true);
        }

        return (DefaultEntryPoint, "the default", !facts.HasScript("start"));
    }

    /// <summary>What -WhatIf shows for the preparation of a git release.</summary>
    public static string Describe(VaultTarget target)
    {
        var install = target.PackageManager switch
        {
            PackageManagerKind.Pnpm => "pnpm install --frozen-lockfile --prod=false",
            PackageManagerKind.Yarn => "yarn install --frozen-lockfile --production=false",
            PackageManagerKind.Npm => "npm ci --include=dev",
            _ => "npm ci --include=dev (pnpm or yarn when their lock file is there and the tool is installed)",
        };
        var build = target.BuildCommand is { } command
            ? string.Join(" ", command.Select(ShellQuote.Quote))
            : "npm run build when package.json has a build script";
        var entry = target.EntryPoint ?? $"\"main\" of package.json, else {DefaultEntryPoint}";
        var where = target.AppSubdirectory is null ? "" : $" (in {target.AppSubdirectory})";
        return $"{install}; {build}{where}; npm prune --omit=dev; test -f {entry}";
    }

    private static IReadOnlyList<string>? BuildCommand(VaultTarget target, ReleaseFacts facts) =>
        target.BuildCommand ?? (facts.HasScript("build") ? new[] { "npm", "run", "build" } : null);

    private static (string Manager, string Directory, IReadOnlyList<string> Locks) PackageManager(VaultTarget target, ReleaseFacts facts, string releaseRoot,
        string appDirectory, List<string> notes)
    {
        // The lock file decides where dependencies are installed: the app directory's own, else a monorepo's root one.
        var (directory, locks) = facts.AppLockFiles.Count > 0 || facts.RootLockFiles.Count == 0
            ? (appDirectory, facts.AppLockFiles)
            : (releaseRoot, facts.RootLockFiles);
        bool Has(string tool) => facts.Tools.Contains(tool, StringComparer.Ordinal);
        string Require(string tool, string why) => Has(tool)
            ? tool
            : throw new VaultException(ErrorIds.PackageManagerNotFound, VaultErrorKind.NotInstalled,
                $"{target.DisplayName}: {why}, but {tool} is not installed on the host (not on the PATH of a non-interactive shell). Nothing was changed; the running version still serves.",
                tool == "npm"
                    ? "Install Node.js and npm on the host (apt-get install -y nodejs npm)."
                    : $"Install {tool} on the host (npm install -g {tool}, or corepack enable), or set the target's PackageManager to Npm when a package-lock.json is there too.");

        var manager = target.PackageManager switch
        {
            PackageManagerKind.Npm => Require("npm", "the target's PackageManager is Npm"),
            PackageManagerKind.Pnpm => Require("pnpm", "the target's PackageManager is Pnpm"),
            PackageManagerKind.Yarn => Require("yarn", "the target's PackageManager is Yarn"),
            _ when locks.Contains("pnpm-lock.yaml") && Has("pnpm") => "pnpm",
            _ when locks.Contains("yarn.lock") && Has("yarn") => "yarn",
            _ when locks.Contains("package-lock.json") || locks.Contains("npm-shrinkwrap.json") => Require("npm", "the release has a package-lock.json"),
            _ when locks.Contains("pnpm-lock.yaml") => Require("pnpm", "the release's lock file is pnpm-lock.yaml"),
            _ when locks.Contains("yarn.lock") => Require("yarn", "the release's lock file is yarn.lock"),
            _ => Require("npm", "the release has no lock file, so npm installs it"),
        };
        notes.Add($"{manager} installs the dependencies in {directory}" + (locks.Count > 0 ? $" ({string.Join(", ", locks)})" : " (no lock file)"));
        return (manager, directory, locks);
    }

    private static CommandLine Command(string directory, string program, params string[] arguments) => new(program, arguments) { WorkingDirectory = directory };
}
