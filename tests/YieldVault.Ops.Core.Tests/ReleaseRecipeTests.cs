using System;
using System.Linq;
using YieldVault.Ops;
using YieldVault.Ops.Hosts;
using YieldVault.Ops.Releases;

namespace YieldVault.Ops.Core.Tests;

public class ReleaseRecipeTests
{
    private const string Root = "/srv/app-releases/releases/r1";
    private const string SamplePackage = "{\"name\":\"yieldvault-backend\",\"version\":\"1.2.3\",\"main\":\"dist/index.js\",\"scripts\":{\"build\":\"tsc\",\"start\":\"node dist/index.js\"}}";

    private static readonly VaultTarget Target = new() { Name = "api-1" };

    private static ReleaseFacts Facts(string lines, string? package = SamplePackage) =>
        ReleaseFacts.Parse(lines + "\n\n" + ReleaseRecipe.PackageMarker + "\n" + (package ?? ""));

    private static string Words(CommandLine? command) => command is null ? "" : string.Join(" ", new[] { command.Program }.Concat(command.Arguments));

    [Fact]
    public void The_facts_script_output_is_read_line_by_line()
    {
        var facts = Facts("lock-app package-lock.json\nlock-root pnpm-lock.yaml\ntool npm\ntool yarn\nyarn-version 1.22.19\nnode_modules\necosystem ecosystem.config.js");
        Assert.Equal(new[] { "package-lock.json" }, facts.AppLockFiles);
        Assert.Equal(new[] { "pnpm-lock.yaml" }, facts.RootLockFiles);
        Assert.Equal(new[] { "npm", "yarn" }, facts.Tools);
        Assert.Equal("1.22.19", facts.YarnVersion);
        Assert.True(facts.HasNodeModules);
        Assert.Equal("ecosystem.config.js", facts.Ecosystem);
        Assert.Equal("1.2.3", facts.Version);
        Assert.Equal("dist/index.js", facts.Main);
        Assert.True(facts.HasScript("build"));
        Assert.False(facts.HasScript("migrate"));
        Assert.False(Facts("no-app-directory", package: null).AppDirectoryExists);
    }

    [Fact]
    public void The_runbook_backend_gets_the_runbook_steps_as_before()
    {
        var plan = ReleaseRecipe.Plan(Target, Facts("lock-app package-lock.json\ntool npm"), Root, Root, prebuilt: false);
        Assert.Equal("npm ci --include=dev --no-audit --no-fund", Words(plan.Install));
        Assert.Equal(Root, plan.Install!.WorkingDirectory);
        Assert.Equal("npm run build", Words(plan.Build));
        Assert.Equal("npm prune --omit=dev --no-audit --no-fund", Words(plan.Prune));
        Assert.Equal("dist/index.js", plan.EntryPoint);
        Assert.True(plan.EntryPointRequired);
        Assert.Empty(plan.Warnings);
    }

    [Fact]
    public void Plain_javascript_without_a_build_script_installs_production_dependencies_only()
    {
        var package = "{\"version\":\"2.1.0\",\"main\":\"./src/server.js\",\"scripts\":{\"start\":\"node src/server.js\"}}";
        var plan = ReleaseRecipe.Plan(Target, Facts("lock-app package-lock.json\ntool npm", package), Root, Root, prebuilt: false);
        Assert.Equal("npm ci --omit=dev --no-audit --no-fund", Words(plan.Install));
        Assert.Null(plan.Build);
        Assert.Null(plan.Prune);
        Assert.Equal("src/server.js", plan.EntryPoint);
        Assert.Contains(plan.Notes, n => n.Contains("no build script", StringComparison.Ordinal));
    }

    [Fact]
    public void The_targets_own_build_command_runs_even_without_a_build_script()
    {
        var target = new VaultTarget { Name = "api-1", BuildCommand = new[] { "node", "build.mjs" }, EntryPoint = "out/main.js" };
        var plan = ReleaseRecipe.Plan(target, Facts("lock-app package-lock.json\ntool npm", "{\"version\":\"1.0.0\"}"), Root, Root, prebuilt: false);
        Assert.Equal("npm ci --include=dev --no-audit --no-fund", Words(plan.Install));
        Assert.Equal("node build.mjs", Words(plan.Build));
        Assert.Equal("out/main.js", plan.EntryPoint);
        Assert.Equal("the target's EntryPoint", plan.EntryPointSource);
    }

    [Fact]
    public void Pnpm_installs_when_its_lock_file_is_there_and_it_is_installed()
    {
        var plan = ReleaseRecipe.Plan(Target, Facts("lock-app pnpm-lock.yaml\ntool npm\ntool pnpm"), Root, Root, prebuilt: false);
        Assert.Equal("pnpm install --frozen-lockfile --prod=false", Words(plan.Install));
        Assert.Equal("pnpm run build", Words(plan.Build));
        Assert.Equal("pnpm prune --prod", Words(plan.Prune));
    }

    [Fact]
    public void Yarn_classic_and_yarn_berry_install_their_own_way()
    {
        var classic = ReleaseRecipe.Plan(Target, Facts("lock-app yarn.lock\ntool npm\ntool yarn\nyarn-version 1.22.22"), Root, Root, prebuilt: false);
        Assert.Equal("yarn install --frozen-lockfile --non-interactive --production=false", Words(classic.Install));
        Assert.Equal("yarn run build", Words(classic.Build));
        Assert.Equal("yarn install --frozen-lockfile --non-interactive --production=true", Words(classic.Prune));

        var berry = ReleaseRecipe.Plan(Target, Facts("lock-app yarn.lock\ntool yarn\nyarn-version 4.5.0"), Root, Root, prebuilt: false);
        Assert.Equal("yarn install --immutable", Words(berry.Install));
        Assert.Null(berry.Prune);
    }

    [Fact]
    public void A_lock_file_whose_tool_is_missing_is_PackageManagerNotFound_unless_npm_has_one_too()
    {
        var ex = Assert.Throws<VaultException>(() => ReleaseRecipe.Plan(Target, Facts("lock-app pnpm-lock.yaml\ntool npm"), Root, Root, prebuilt: false));
        Assert.Equal("PackageManagerNotFound", ex.ErrorId);
        Assert.Contains("pnpm-lock.yaml", ex.Message, StringComparison.Ordinal);
        Assert.Contains("npm install -g pnpm", ex.RecommendedAction, StringComparison.Ordinal);

        var both = ReleaseRecipe.Plan(Target, Facts("lock-app package-lock.json\nlock-app pnpm-lock.yaml\ntool npm"), Root, Root, prebuilt: false);
        Assert.Equal("npm", both.PackageManager);

        var forced = new VaultTarget { Name = "api-1", PackageManager = PackageManagerKind.Yarn };
        Assert.Equal("PackageManagerNotFound", Assert.Throws<VaultException>(() => ReleaseRecipe.Plan(forced, Facts("lock-app package-lock.json\ntool npm"), Root, Root, false)).ErrorId);
    }

    [Fact]
    public void Without_a_lock_file_npm_install_runs_with_a_warning()
    {
        var plan = ReleaseRecipe.Plan(Target, Facts("tool npm"), Root, Root, prebuilt: false);
        Assert.Equal("npm install --include=dev --no-audit --no-fund", Words(plan.Install));
        Assert.Contains(plan.Warnings, w => w.Contains("no lock file", StringComparison.Ordinal));
    }

    [Fact]
    public void A_monorepo_installs_at_the_root_lock_file_and_builds_in_its_app_directory()
    {
        var target = new VaultTarget { Name = "api-1", AppSubdirectory = "apps/api" };
        var app = Root + "/apps/api";
        var plan = ReleaseRecipe.Plan(target, Facts("lock-root package-lock.json\ntool npm"), Root, app, prebuilt: false);
        Assert.Equal(Root, plan.Install!.WorkingDirectory);
        Assert.Equal(Root, plan.Prune!.WorkingDirectory);
        Assert.Equal(app, plan.Build!.WorkingDirectory);
    }

    [Fact]
    public void An_artifact_is_not_built_and_installs_only_without_node_modules()
    {
        var bare = ReleaseRecipe.Plan(Target, Facts("lock-app package-lock.json\ntool npm"), Root, Root, prebuilt: true);
        Assert.Equal("npm ci --omit=dev --no-audit --no-fund", Words(bare.Install));
        Assert.Null(bare.Build);
        Assert.Null(bare.Prune);
        var bundled = ReleaseRecipe.Plan(Target, Facts("lock-app package-lock.json\ntool npm\nnode_modules"), Root, Root, prebuilt: true);
        Assert.Null(bundled.Install);
    }

    [Fact]
    public void The_default_entry_point_is_optional_only_when_npm_start_can_start_it()
    {
        var withStart = ReleaseRecipe.EntryPoint(Target, Facts("", "{\"scripts\":{\"start\":\"node app.js\"}}"));
        Assert.Equal(("dist/index.js", "the default", false), withStart);
        Assert.True(ReleaseRecipe.EntryPoint(Target, Facts("", "{}")).Required);
        // A "main" that leaves the release is not taken.
        Assert.Equal("dist/index.js", ReleaseRecipe.EntryPoint(Target, Facts("", "{\"main\":\"../../etc/passwd\"}")).Path);
    }

    [Fact]
    public void No_package_json_is_PackageJsonNotFound_naming_the_app_directory()
    {
        var target = new VaultTarget { Name = "api-1", AppSubdirectory = "apps/api" };
        var ex = Assert.Throws<VaultException>(() => ReleaseRecipe.Plan(target, Facts("tool npm", package: null), Root, Root + "/apps/api", prebuilt: false));
        Assert.Equal("PackageJsonNotFound", ex.ErrorId);
        Assert.Contains(Root + "/apps/api/package.json", ex.Message, StringComparison.Ordinal);
        Assert.Contains("AppSubdirectory", ex.RecommendedAction, StringComparison.Ordinal);
    }

    [Fact]
    public void The_plan_shown_by_WhatIf_names_the_recipe()
    {
        Assert.StartsWith("npm ci --include=dev", ReleaseRecipe.Describe(Target), StringComparison.Ordinal);
        var custom = ReleaseRecipe.Describe(new VaultTarget { Name = "x", BuildCommand = new[] { "make", "dist" }, EntryPoint = "bin/www", AppSubdirectory = "apps/api" });
        Assert.Contains("make dist (in apps/api)", custom, StringComparison.Ordinal);
        Assert.EndsWith("test -f bin/www", custom, StringComparison.Ordinal);
    }

    [Fact]
    public void The_version_of_a_package_json_is_read_safely()
    {
        Assert.Equal("2.1.0", YieldVault.Ops.Probes.VersionProbe.PackageVersion("{\"version\":\" 2.1.0 \"}"));
        Assert.Null(YieldVault.Ops.Probes.VersionProbe.PackageVersion("{\"version\":2}"));
        Assert.Null(YieldVault.Ops.Probes.VersionProbe.PackageVersion("not json"));
        Assert.Null(YieldVault.Ops.Probes.VersionProbe.PackageVersion(""));
    }
}
