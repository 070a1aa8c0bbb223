using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Docker.DotNet.Models;
using YieldVault.Ops.Hosts;
using YieldVault.Ops.Services;

namespace YieldVault.Ops.Releases;

/// <summary>
/// What a target can be deployed from or rolled back to, for tab completion: the tags and branches of its repository
/// (git ls-remote on its host), its releases, and the tags of the image its container runs (the images on its engine).
/// Read-only and bounded; a failure is an empty list for the caller to show nothing.
/// </summary>
public static class DeploymentSources
{
    // The repository: the target's Repository, else the origin of the release store's git cache, else of the app path.
    private const string RefsScript = @"repo=""$1""; cache=""$2""; app=""$3""
if [ -z ""$repo"" ] && [ -d ""$cache"" ]; then repo=$(git --git-dir=""$cache"" remote get-url origin 2>/dev/null); fi
if [ -z ""$repo"" ]; then repo=$(git -c safe.directory='*' -C ""$app"" remote get-url origin 2>/dev/null); fi
[ -n ""$repo"" ] || exit 3
GIT_TERMINAL_PROMPT=0 git -c safe.directory='*' ls-remote --tags --heads -- ""$repo""";

    /// <summary>Tags (newest version first) then branches of the target's repository: (name, "tag" or "branch").</summary>
    public static async Task<IReadOnlyList<(string Name, string Kind)>> RefsAsync(VaultTarget target, IHostShell shell, CancellationToken cancellationToken)
    {
        var store = new ReleaseStore(target, shell);
        var result = await shell.RunAsync(CommandLine.Script(RefsScript, target.Repository ?? "", store.GitCache, target.AppPath), TimeSpan.FromSeconds(10), cancellationToken)
            .ConfigureAwait(false);
        return result.Succeeded ? ParseRefs(result.StandardOutput) : Array.Empty<(string, string)>();
    }

    /// <summary>"&lt;sha&gt;\trefs/tags/v1.3.0" lines to names: tags (peeled ^{} lines folded) newest version first, then branches.</summary>
    public static IReadOnlyList<(string Name, string Kind)> ParseRefs(string lsRemote)
    {
        var refs = lsRemote.Replace("\r", "").Split('\n').Select(l => l.Split('\t')).Where(f => f.Length == 2).Select(f => f[1].Trim()).ToList();
        var tags = refs.Where(r => r.StartsWith("refs/tags/", StringComparison.Ordinal)).Select(r => r.Substring(10).Replace("^{}", ""))
            .Distinct(StringComparer.Ordinal).OrderByDescending(VersionKey).ThenByDescending(t => t, StringComparer.Ordinal).Select(t => (t, "tag"));
        var branches = refs.Where(r => r.StartsWith("refs/heads/", StringComparison.Ordinal)).Select(r => r.Substring(11))
            .Distinct(StringComparer.Ordinal).OrderBy(b => b, StringComparer.Ordinal).Select(b => (b, "branch"));
        return tags.Concat(branches).ToList();
    }

    /// <summary>The releases on the target, newest first: (name, "current" or "release").</summary>
    public static async Task<IReadOnlyList<(string Name, string Kind)>> ReleasesAsync(VaultTarget target, IHostShell shell, CancellationToken cancellationToken) =>
        (await new ReleaseStore(target, shell).ListAsync(cancellationToken).ConfigureAwait(false)).Reverse().Select(r => (r.Name, r.IsCurrent ? "current" : "release")).ToList();

    /// <summary>
    /// The image references on the target's Docker engine with the repository of the image its container runs (all of
    /// them when it runs none), newest first: (repository:tag, "image").
    /// </summary>
    public static async Task<IReadOnlyList<(string Name, string Kind)>> ImagesAsync(VaultTarget target, IHostShell shell, CancellationToken cancellationToken)
    {
        string? repository = null;
        try
        {
            var state = await ServiceManagers.For(target, shell).GetStateAsync(cancellationToken).ConfigureAwait(false);
            repository = state.Image is { } running ? DockerImages.Split(running).Repository : null;
        }
        catch (VaultException ex) when (!ex.IsConnectionFailure)
        {
            // No container: every image of the engine.
        }

        using var engine = DockerEngine.Open(target, shell);
        var images = await engine.CallAsync("list images", null, TimeSpan.FromSeconds(10),
            (client, token) => client.Images.ListImagesAsync(new ImagesListParameters { All = false }, token), cancellationToken).ConfigureAwait(false);
        return images.OrderByDescending(i => i.Created)
            .SelectMany(i => i.RepoTags ?? (IList<string>)Array.Empty<string>())
            .Where(tag => tag != "<none>:<none>" && (repository is null || DockerImages.Split(tag).Repository == repository))
            .Distinct(StringComparer.Ordinal).Select(tag => (tag, "image")).ToList();
    }

    // "v1.3.0" sorts above "v1.2.10" above "v1.2.9"; names without a version sort last.
    private static System.Version VersionKey(string tag)
    {
        var digits = new string(tag.SkipWhile(c => !char.IsDigit(c)).TakeWhile(c => char.IsDigit(c) || c == '.').ToArray()).Trim('.');
        return System.Version.TryParse(digits.Contains(".") ? digits : digits + ".0", out var version) ? version : new System.Version(0, 0);
    }
}
