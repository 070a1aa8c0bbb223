using System;
using System.Collections;
using System.Linq;
using YieldVault.Ops;

namespace YieldVault.Ops.Core.Tests;

/// <summary>The settings that describe any Node backend: health rules, release recipe, smoke and log checks.</summary>
public class BackendSettingsTests
{
    private static VaultTarget Build(Hashtable settings)
    {
        settings["Name"] = "api-1";
        return TargetBuilder.Build(settings, "/etc/yv/targets.psd1");
    }

    private static VaultException Refused(Hashtable settings) => Assert.Throws<VaultException>(() => Build(settings));

    [Fact]
    public void The_defaults_keep_the_runbook_backend_as_it_was()
    {
        var target = Build(new Hashtable());
        Assert.Equal(new[] { 200 }, target.HealthyStatusCodes);
        Assert.Equal(new[] { "healthy", "ok", "up", "pass" }, target.HealthyValues);
        Assert.Equal("status", target.HealthJsonPath);
        Assert.Equal(HealthResponseKind.Json, target.HealthResponse);
        Assert.True(target.HasReadyPath);
        Assert.True(target.HasVersionPath);
        Assert.Equal(SmokePreset.Runbook, target.SmokePreset);
        Assert.Null(target.StartupMarkers);
        Assert.Equal(PackageManagerKind.Auto, target.PackageManager);
        Assert.Null(target.BuildCommand);
        Assert.Null(target.EntryPoint);
        Assert.Null(target.AppSubdirectory);
        Assert.Equal(target.AppPath, target.AppDirectory);
        Assert.Equal(new[] { "Server started on port 3000", "Database connected", "Stellar RPC connected" }, LogParser.DefaultMarkers(target));
    }

    [Fact]
    public void Every_new_setting_is_read_from_a_targets_file()
    {
        var target = Build(new Hashtable
        {
            ["Port"] = 4000, ["HealthPath"] = "/healthz", ["ReadyPath"] = "", ["VersionPath"] = "", ["HealthyStatusCodes"] = new object[] { 200, 204 },
            ["HealthyValues"] = "UP", ["HealthJsonPath"] = "health.state", ["HealthResponse"] = "text", ["SmokePreset"] = "None",
            ["StartupMarkers"] = new object[] { "listening on {Port}" }, ["PackageManager"] = "pnpm", ["BuildCommand"] = "npm run build:prod",
            ["EntryPoint"] = "./server.js", ["AppSubdirectory"] = "apps/api", ["RequiredVariables"] = Array.Empty<object>(),
        });
        Assert.False(target.HasReadyPath);
        Assert.False(target.HasVersionPath);
        Assert.Equal(new[] { 200, 204 }, target.HealthyStatusCodes);
        Assert.Equal(new[] { "UP" }, target.HealthyValues);
        Assert.Equal("health.state", target.HealthJsonPath);
        Assert.Equal(HealthResponseKind.Text, target.HealthResponse);
        Assert.Equal(SmokePreset.None, target.SmokePreset);
        Assert.Equal(new[] { "listening on 4000" }, LogParser.DefaultMarkers(target));
        Assert.Equal(PackageManagerKind.Pnpm, target.PackageManager);
        Assert.Equal(new[] { "npm", "run", "build:prod" }, target.BuildCommand);
        Assert.Equal("./server.js", target.EntryPoint);
        Assert.Equal("/app/yieldvault-backend/apps/api", target.AppDirectory);
        Assert.Equal("/app/yieldvault-backend/apps/api/.env", target.EnvFilePath);
        Assert.Empty(target.RequiredVariables);
    }

    [Fact]
    public void A_build_command_as_a_list_keeps_its_words()
    {
        var target = Build(new Hashtable { ["BuildCommand"] = new object[] { "node", "scripts/build one.js" } });
        Assert.Equal(new[] { "node", "scripts/build one.js" }, target.BuildCommand);
    }

    [Fact]
    public void An_empty_startup_marker_list_checks_no_markers()
    {
        Assert.Empty(LogParser.DefaultMarkers(Build(new Hashtable { ["StartupMarkers"] = Array.Empty<object>() })));
    }

    [Theory]
    [InlineData("HealthPath", "", "HealthPath")]
    [InlineData("HealthPath", "//evil.example/x", "HealthPath")]
    [InlineData("ReadyPath", "ready", "ReadyPath")]
    [InlineData("VersionPath", "//evil.example/v", "VersionPath")]
    [InlineData("HealthyStatusCodes", 99, "HealthyStatusCodes")]
    [InlineData("HealthyStatusCodes", "ok", "HealthyStatusCodes")]
    [InlineData("HealthyValues", " ", "HealthyValues")]
    [InlineData("HealthJsonPath", "a..b", "HealthJsonPath")]
    [InlineData("HealthResponse", "Xml", "HealthResponse")]
    [InlineData("HealthResponse", "1", "HealthResponse")]
    [InlineData("SmokePreset", "Some", "SmokePreset")]
    [InlineData("PackageManager", "bun", "PackageManager")]
    [InlineData("BuildCommand", "--version", "BuildCommand")]
    [InlineData("EntryPoint", "../outside.js", "EntryPoint")]
    [InlineData("EntryPoint", "/srv/app/server.js", "EntryPoint")]
    [InlineData("EntryPoint", "-r evil", "EntryPoint")]
    [InlineData("AppSubdirectory", "/apps/api", "AppSubdirectory")]
    [InlineData("AppSubdirectory", "apps/../..", "AppSubdirectory")]
    [InlineData("AppSubdirectory", "./", "AppSubdirectory")]
    [InlineData("StartupMarkers", "two\nlines", "StartupMarkers")]
    public void A_bad_value_is_refused_naming_the_key(string key, object value, string expectedKey)
    {
        var ex = Refused(new Hashtable { [key] = value });
        Assert.Equal("TargetConfigInvalid", ex.ErrorId);
        Assert.Contains($"key '{expectedKey}'", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_empty_build_command_or_value_list_is_refused()
    {
        Assert.Contains("key 'BuildCommand'", Refused(new Hashtable { ["BuildCommand"] = Array.Empty<object>() }).Message, StringComparison.Ordinal);
        Assert.Contains("key 'HealthyValues'", Refused(new Hashtable { ["HealthyValues"] = Array.Empty<object>() }).Message, StringComparison.Ordinal);
        Assert.Contains("key 'HealthyStatusCodes'", Refused(new Hashtable { ["HealthyStatusCodes"] = Array.Empty<object>() }).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_known_keys_hold_every_new_setting_once()
    {
        var keys = TargetBuilder.KnownKeys;
        Assert.Equal(keys.Count, keys.Distinct(StringComparer.OrdinalIgnoreCase).Count());
        foreach (var key in new[] { "HealthyStatusCodes", "HealthyValues", "HealthJsonPath", "HealthResponse", "SmokePreset", "StartupMarkers", "PackageManager", "BuildCommand", "EntryPoint", "AppSubdirectory" })
        {
            Assert.Contains(key, keys);
        }
    }
}
