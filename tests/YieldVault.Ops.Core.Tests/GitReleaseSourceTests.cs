using System;
using System.IO;
using System.Threading;
using System.Threading.Tasks;
using YieldVault.Ops.Hosts;
using YieldVault.Ops.Releases;

namespace YieldVault.Ops.Core.Tests;

/// <summary>The fetch into the cache mirror, with real git on a temporary origin: what a killed fetch leaves, and what is cleared.</summary>
public sealed class GitReleaseSourceTests : IDisposable
{
    private readonly string _root = Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), "yv-git-" + Guid.NewGuid().ToString("N"))).FullName;
    private readonly LocalShell _shell = new();

    public void Dispose()
    {
        _shell.Dispose();
        Directory.Delete(_root, true);
    }

    private async Task<string> GitAsync(params string[] arguments)
    {
        var result = await _shell.RunAsync(new CommandLine("git", arguments)
        {
            Environment = new System.Collections.Generic.Dictionary<string, string>
            {
                ["GIT_AUTHOR_NAME"] = "t", ["GIT_AUTHOR_EMAIL"] = "t@example.com", ["GIT_COMMITTER_NAME"] = "t", ["GIT_COMMITTER_EMAIL"] = "t@example.com",
            },
        }, TimeSpan.FromSeconds(60), CancellationToken.None);
        Assert.True(result.Succeeded, result.Tail());
        return result.StandardOutput.Trim();
    }

    private async Task<(VaultTarget Target, ReleaseStore Store, string Origin)> MirrorWithNewBranchAsync()
    {
        var origin = _root + "/origin.git";
        await GitAsync("init", "--quiet", "--bare", origin);
        await GitAsync("-C", _root, "clone", "--quiet", origin, "work");
        await GitAsync("-C", _root + "/work", "commit", "--quiet", "--allow-empty", "-m", "one");
        await GitAsync("-C", _root + "/work", "tag", "v1");
        await GitAsync("-C", _root + "/work", "push", "--quiet", "origin", "HEAD:refs/heads/main", "v1");
        var target = new VaultTarget { Name = "git-1", AppPath = _root + "/app", Repository = origin };
        var store = new ReleaseStore(target, _shell);
        await GitAsync("clone", "--quiet", "--mirror", origin, store.GitCache);
        await GitAsync("-C", _root + "/work", "push", "--quiet", "origin", "HEAD:refs/heads/feature");
        return (target, store, origin);
    }

    [Fact]
    public async Task A_ref_lock_older_than_the_run_is_removed_and_the_fetch_goes_on()
    {
        var (target, store, _) = await MirrorWithNewBranchAsync();
        var stale = store.GitCache + "/refs/heads/feature.lock";
        File.WriteAllText(stale, "");
        File.SetLastWriteTimeUtc(stale, DateTime.UtcNow.AddMinutes(-10));

        var commit = await GitReleaseSource.ResolveAsync(target, _shell, store, target.Repository!, "feature", TimeSpan.FromSeconds(30), CancellationToken.None);

        Assert.Equal(await GitAsync("-C", _root + "/work", "rev-parse", "HEAD"), commit);
        Assert.False(File.Exists(stale));
    }

    [Fact]
    public async Task A_lock_newer_than_the_run_is_not_this_killed_fetch_and_stays()
    {
        var (target, store, _) = await MirrorWithNewBranchAsync();
        var fresh = store.GitCache + "/refs/heads/feature.lock";
        File.WriteAllText(fresh, "");

        var ex = await Assert.ThrowsAsync<VaultException>(() => GitReleaseSource.ResolveAsync(target, _shell, store, target.Repository!, "feature", TimeSpan.FromMinutes(5), CancellationToken.None));

        Assert.Equal(ErrorIds.FetchFailed, ex.ErrorId);
        Assert.True(File.Exists(fresh));
    }

    [Fact]
    public async Task A_mirror_a_killed_clone_left_without_HEAD_is_cloned_again()
    {
        var (target, store, _) = await MirrorWithNewBranchAsync();
        File.Delete(store.GitCache + "/HEAD");

        var commit = await GitReleaseSource.ResolveAsync(target, _shell, store, target.Repository!, "v1", TimeSpan.FromSeconds(30), CancellationToken.None);

        Assert.Equal(40, commit.Length);
        Assert.True(File.Exists(store.GitCache + "/HEAD"));
    }
}
