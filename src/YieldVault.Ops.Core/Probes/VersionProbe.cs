using System;
using System.Globalization;
using System.Threading;
using System.Threading.Tasks;
using Newtonsoft.Json.Linq;
using YieldVault.Ops.Hosts;

namespace YieldVault.Ops.Probes;

/// <summary>Reads the running version from /api/v1/version, falling back to git in the app directory.</summary>
public static class VersionProbe
{
    public static async Task<VaultBackendVersion> GetAsync(VaultTarget target, IHostShell shell, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var baseUri = await shell.GetHttpBaseAsync(target.Port, cancellationToken).ConfigureAwait(false);
        var response = await HealthProbe.GetAsync(baseUri, target.VersionPath, timeout, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode == 200 && response.Json is { } json && json["version"] is not null)
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

        // The API did not answer: the version on disk is the next best truth (runbook 7.3 "Or check git commit").
        var git = await FromGitAsync(target, shell, cancellationToken).ConfigureAwait(false);
        var apiProblem = response.Error ?? $"{target.VersionPath} answered {response.StatusCode}";
        return git is null
            ? new VaultBackendVersion { Target = target, Source = "none", Error = apiProblem + "; and no git checkout at " + target.AppPath }
            : new VaultBackendVersion
            {
                Target = target,
                Commit = git.Value.Commit,
                Tag = git.Value.Tag,
                Version = git.Value.Tag?.TrimStart('v'),
                Source = "git",
                Error = apiProblem,
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
}
