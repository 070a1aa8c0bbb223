using System;
using System.IO;
using System.Threading;
using System.Threading.Tasks;
using YieldVault.Ops.Hosts;
using YieldVault.Ops.Releases;

namespace YieldVault.Ops.Core.Tests;

/// <summary>
/// The release layout's scripts run with the system's sh on a temporary directory: what an adoption, a switch and the
/// repair of a run killed half way leave on disk.
/// </summary>
public sealed class ReleaseStoreTests : IDisposable
{
    private readonly string _root = Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), "yv-store-" + Guid.NewGuid().ToString("N"))).FullName;
    private readonly LocalShell _shell = new();

    private string App => _root + "/app";

    private string Releases => _root + "/app-releases/releases";

    private ReleaseStore Store() => new(new VaultTarget { Name = "store-1", AppPath = App }, _shell);

    public void Dispose()
    {
        _shell.Dispose();
        Directory.Delete(_root, true);
    }

    private void PlainCheckout()
    {
        Directory.CreateDirectory(App);
        File.WriteAllText(App + "/package.json", "{}");
        File.WriteAllText(App + "/.env", "PORT=3000\n");
    }

    private static string? LinkTarget(string path) => new FileInfo(path).LinkTarget;

    [Fact]
    public async Task An_adoption_moves_the_checkout_into_releases_links_the_app_path_and_shares_the_env_file()
    {
        PlainCheckout();
        Assert.True(await Store().AdoptAsync("0123456789abcdef", CancellationToken.None));

        var current = await Store().CurrentAsync(CancellationToken.None);
        Assert.NotNull(current);
        Assert.EndsWith("-0123456-adopted", current, StringComparison.Ordinal);
        Assert.Equal(Releases + "/" + current, LinkTarget(App));
        Assert.Equal(_root + "/app-releases/shared/.env", LinkTarget(Releases + "/" + current + "/.env"));
        Assert.Equal("PORT=3000\n", File.ReadAllText(App + "/.env"));
        Assert.False(File.Exists(Releases + "/.yv-adopting"));
        Assert.Empty(Directory.GetFiles(_root + "/app-releases/shared", "*.yv-adopt"));
    }

    [Fact]
    public async Task A_read_finishes_an_adoption_killed_between_the_move_and_the_link()
    {
        // What a kill after "mv app releases/<name>" and before "ln -s" leaves: the marker names the release, no app path.
        Directory.CreateDirectory(Releases + "/20260101T000000Z-0123456-adopted");
        File.WriteAllText(Releases + "/.yv-adopting", "20260101T000000Z-0123456-adopted\n");

        var current = await Store().CurrentAsync(CancellationToken.None);

        Assert.Equal("20260101T000000Z-0123456-adopted", current);
        Assert.Equal(Releases + "/20260101T000000Z-0123456-adopted", LinkTarget(App));
        Assert.False(File.Exists(Releases + "/.yv-adopting"));
    }

    [Fact]
    public async Task A_marker_left_before_the_move_is_dropped_and_the_adoption_runs_again()
    {
        PlainCheckout();
        Directory.CreateDirectory(Releases);
        File.WriteAllText(Releases + "/.yv-adopting", "20260101T000000Z-0123456-adopted\n");

        Assert.True(await Store().AdoptAsync("fedcba9876543210", CancellationToken.None));

        var current = await Store().CurrentAsync(CancellationToken.None);
        Assert.EndsWith("-fedcba9-adopted", current, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Releases + "/20260101T000000Z-0123456-adopted"));
        Assert.False(File.Exists(Releases + "/.yv-adopting"));
    }

    [Fact]
    public async Task A_marker_naming_something_outside_releases_is_never_linked()
    {
        Directory.CreateDirectory(Releases);
        File.WriteAllText(Releases + "/.yv-adopting", "../../etc\n");

        Assert.False(await Store().RepairAsync(CancellationToken.None));

        Assert.False(File.Exists(App) || Directory.Exists(App));
        Assert.False(File.Exists(Releases + "/.yv-adopting"));
    }

    [Fact]
    public async Task A_switch_replaces_the_leftover_link_of_a_run_killed_before_its_rename()
    {
        Directory.CreateDirectory(Releases + "/r1");
        Directory.CreateDirectory(Releases + "/r2");
        Directory.CreateDirectory(Releases + "/r3");
        File.CreateSymbolicLink(App, Releases + "/r1");
        File.CreateSymbolicLink(App + ".yv-switch", Releases + "/r2");

        await Store().SwitchAsync("r3", CancellationToken.None);

        Assert.Equal(Releases + "/r3", LinkTarget(App));
        Assert.False(File.Exists(App + ".yv-switch") || Directory.Exists(App + ".yv-switch"));
    }

    [Fact]
    public async Task A_switch_to_the_release_already_linked_writes_nothing()
    {
        Directory.CreateDirectory(Releases + "/r1");
        File.CreateSymbolicLink(App, Releases + "/r1");
        var inode = await InodeAsync(App);

        await Store().SwitchAsync("r1", CancellationToken.None);

        Assert.Equal(inode, await InodeAsync(App));
    }

    [Fact]
    public async Task A_switch_to_a_missing_release_fails_and_leaves_the_link()
    {
        Directory.CreateDirectory(Releases + "/r1");
        File.CreateSymbolicLink(App, Releases + "/r1");

        var ex = await Assert.ThrowsAsync<VaultException>(() => Store().SwitchAsync("r9", CancellationToken.None));

        Assert.Equal(ErrorIds.ReleaseSwitchFailed, ex.ErrorId);
        Assert.Equal(Releases + "/r1", LinkTarget(App));
    }

    private async Task<string> InodeAsync(string path) =>
        (await _shell.RunAsync(new CommandLine("stat", "-c", "%i", "--", path), TimeSpan.FromSeconds(10), CancellationToken.None)).StandardOutput.Trim();
}
