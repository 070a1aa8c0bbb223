using System;
using System.Globalization;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;
using YieldVault.Ops.Hosts;
using YieldVault.Ops.Runbook;
using YieldVault.Ops.Services;

namespace YieldVault.Ops.Probes;

/// <summary>
/// Reads the running version: from the target's version endpoint when it has one and it answers; else from what is
/// deployed: the release's package.json and git commit (runbook 7.3 "Or check git commit"), or for a Docker target
/// the labels and tag of the container's image.
/// </summary>
public static class VersionProbe
{
    /// <summary>The most of a package.json that is read.</summary>
    private const int MaxPackageBytes = 1024 * 1024;

    public static async Task<VaultBackendVersion> GetAsync(VaultTarget target, IHostShell shell, TimeSpan timeout, CancellationToken cancellationToken)
    {
        string? apiProblem = null;
        if (target.HasVersionPath)
        {
            var baseUri = await shell.GetHttpBaseAsync(target.Port, cancellationToken).ConfigureAwait(false);
            var response = await HealthProbe.GetAsync(baseUri, target.VersionPath, timeout, cancellationToken).ConfigureAwait(false);
            if (response.StatusCode == 200 && response.Json is { } json && json["version"] is not null)
            {
                return FromApi(target, json);
            }

            apiProblem = response.Error ?? $"{target.VersionPath} answered {response.StatusCode}";
        }

        // The API did not answer (or there is none): what is deployed is the next best truth.
        return target.ServiceManager switch
        {
            ServiceManagerKind.Docker => await FromImageAsync(target, shell, apiProblem, cancellationToken).ConfigureAwait(false),
            ServiceManagerKind.Swarm => await FromServiceAsync(target, shell, apiProblem, cancellationToken).ConfigureAwait(false),
            _ => await FromReleaseAsync(target, shell, apiProblem, cancellationToken).ConfigureAwait(false),
        };
    }

    /// <summary>HEAD commit and its exact tag (if any) in the app directory, or null when it is not a git checkout.</summary>
    public static async Task<(string Commit, string? Tag)?> FromGitAsync(VaultTarget target, IHostShell shell, CancellationToken cancellationToken)
    {
        // -C follows the `current` link of a release layout too; safe.directory because the checkout may belong to the service user.
        var result = await shell.RunAsync(
            CommandLine.Script("git -c safe.directory='*' -C \"$1\" rev-parse HEAD && (git -c safe.directory='*' -C \"$1\" describe --tags --exact-match HEAD 2>/dev/null || true)", target.AppPath),
            TimeSpan.FromSeconds(30), cancellationToken).ConfigureAwait(false);
        if (!result.Succeeded)
        {
            return null;
        }

        var lines = result.StandardOutput.Trim().Split('\n');
        var commit = lines[0].Trim();
        var tag = lines.Length > 1 && lines[1].Trim().Length > 0 ? lines[1].Trim() : null;
        return commit.Length >= 7 ? (commit, tag) : null;
    }

    /// <summary>The "version" of a package.json text, or null.</summary>
    public static string? PackageVersion(string? packageJson)
    {
        if (string.IsNullOrWhiteSpace(packageJson))
        {
            return null;
        }

        try
        {
            return JToken.Parse(packageJson!) is JObject package && package["version"] is { Type: JTokenType.String } version ? ((string?)version)?.Trim() : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static VaultBackendVersion FromApi(VaultTarget target, JObject json)
    {
        DateTimeOffset? started = null;
        if (json["startedAt"]?.Type == JTokenType.Date)
        {
            started = new DateTimeOffset(json["startedAt"]!.Value<DateTime>().ToUniversalTime(), TimeSpan.Zero);
        }
        else if (DateTimeOffset.TryParse((string?)json["startedAt"], CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var parsed))
        {
            started = parsed;
        }

        return new VaultBackendVersion
        {
            Target = target,
            Version = (string?)json["version"],
            Commit = (string?)json["commit"] is { } c && c != "unknown" ? c : null,
            StartedAt = started,
            NodeVersion = (string?)json["nodeVersion"],
            Source = "api",
        };
    }

    /// <summary>The release on disk: package.json of the app directory (the version) and git in the app path (the commit, its tag).</summary>
    private static async Task<VaultBackendVersion> FromReleaseAsync(VaultTarget target, IHostShell shell, string? apiProblem, CancellationToken cancellationToken)
    {
        const string script =
            "c=$(git -c safe.directory='*' -C \"$1\" rev-parse HEAD 2>/dev/null) || c=''\n" +
            "t=''; if [ -n \"$c\" ]; then t=$(git -c safe.directory='*' -C \"$1\" describe --tags --exact-match HEAD 2>/dev/null) || t=''; fi\n" +
            "printf 'commit=%s\\ntag=%s\\n' \"$c\" \"$t\"\n" +
            "head -c \"$3\" -- \"$2/package.json\" 2>/dev/null || true\n";
        var result = await shell.RunAsync(CommandLine.Script(script, target.AppPath, target.AppDirectory, MaxPackageBytes.ToString(CultureInfo.InvariantCulture)),
            TimeSpan.FromSeconds(30), cancellationToken).ConfigureAwait(false);
        var output = result.StandardOutput.Replace("\r", "");
        var lines = output.Split(new[] { '\n' }, 3);
        var commit = lines.Length > 0 && lines[0].StartsWith("commit=", StringComparison.Ordinal) ? lines[0].Substring(7).Trim() : "";
        var tag = lines.Length > 1 && lines[1].StartsWith("tag=", StringComparison.Ordinal) ? lines[1].Substring(4).Trim() : "";
        var version = PackageVersion(lines.Length > 2 ? lines[2] : null);
        var hasCommit = commit.Length >= 7 && commit.All(Uri.IsHexDigit);
        if (!hasCommit && version is null)
        {
            return new VaultBackendVersion
            {
                Target = target, Source = "none",
                Error = (apiProblem is null ? "no version endpoint (VersionPath '')" : apiProblem) + $"; and neither package.json in {target.AppDirectory} nor a git checkout at {target.AppPath}",
            };
        }

        return new VaultBackendVersion
        {
            Target = target,
            Commit = hasCommit ? commit : null,
            Tag = tag.Length > 0 ? tag : null,
            Version = version ?? (tag.Length > 0 ? tag.TrimStart('v') : null),
            Source = hasCommit ? "git" : "package.json",
            Error = apiProblem,
        };
    }

    /// <summary>A Swarm target's service: the version label (else a version-like tag) and revision label of the image its spec names.</summary>
    private static async Task<VaultBackendVersion> FromServiceAsync(VaultTarget target, IHostShell shell, string? apiProblem, CancellationToken cancellationToken)
    {
        string? image = null;
        System.Collections.Generic.IDictionary<string, string>? labels = null;
        string? problem = null;
        try
        {
            using var swarm = SwarmServices.Open(target, shell);
            image = (await swarm.RequireAsync(cancellationToken).ConfigureAwait(false)).Spec?.TaskTemplate?.ContainerSpec?.Image;
            if (image is not null)
            {
                using var containers = DockerContainers.Open(target, shell);
                labels = (await containers.InspectImageAsync(image, cancellationToken).ConfigureAwait(false))?.Config?.Labels;
            }
        }
        catch (VaultException ex) when (!ex.IsConnectionFailure)
        {
            problem = ex.Message;
        }

        var shown = image is null ? null : SwarmImages.Display(image);
        var version = shown is null ? null : DockerImages.VersionOf(labels, shown);
        var commit = DockerImages.CommitOf(labels);
        if (version is null && commit is null)
        {
            return new VaultBackendVersion
            {
                Target = target, Source = "none",
                Error = (apiProblem is null ? "no version endpoint (VersionPath '')" : apiProblem) +
                        $"; and the service {target.ServiceName} " + (problem is null ? $"runs {shown ?? "no image"} without a version label or version tag" : $"could not be read: {problem}"),
            };
        }

        return new VaultBackendVersion { Target = target, Version = version, Commit = commit, Tag = shown is null ? null : DockerImages.TagOf(shown), Source = "image", Error = apiProblem };
    }

    /// <summary>A Docker target's container: its image's version label (else a version-like tag) and revision label.</summary>
    private static async Task<VaultBackendVersion> FromImageAsync(VaultTarget target, IHostShell shell, string? apiProblem, CancellationToken cancellationToken)
    {
        Docker.DotNet.Models.ContainerInspectResponse? container = null;
        string? problem = null;
        try
        {
            using var engine = DockerEngine.Open(target, shell);
            container = await engine.CallAsync("inspect the container", target.ServiceName, DockerServiceManager.RequestTimeout,
                (client, token) => client.Containers.InspectContainerAsync(target.ServiceName, token), cancellationToken).ConfigureAwait(false);
        }
        catch (VaultException ex) when (!ex.IsConnectionFailure)
        {
            problem = ex.Message;
        }

        var image = string.IsNullOrEmpty(container?.Config?.Image) ? container?.Image : container!.Config!.Image;
        var labels = container?.Config?.Labels;
        var version = image is null ? null : DockerImages.VersionOf(labels, image);
        var commit = DockerImages.CommitOf(labels);
        if (version is null && commit is null)
        {
            return new VaultBackendVersion
            {
                Target = target, Source = "none",
                Error = (apiProblem is null ? "no version endpoint (VersionPath '')" : apiProblem) +
                        $"; and the container {target.ServiceName} " + (problem is null ? $"runs {image ?? "no image"} without a version label or version tag" : $"could not be read: {problem}"),
            };
        }

        return new VaultBackendVersion { Target = target, Version = version, Commit = commit, Tag = image is null ? null : DockerImages.TagOf(image), Source = "image", Error = apiProblem };
    }
}
