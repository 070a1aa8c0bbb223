using System;
using System.Text.RegularExpressions;

namespace YieldVault.Ops.Services;

/// <summary>
/// The containers of one service: <c>&lt;name&gt;</c> serves; <c>&lt;name&gt;-previous</c> is the version before it (kept,
/// stopped, for Undo-VaultDeployment); <c>-next-&lt;id&gt;</c> is a deployment's new container until the switch;
/// <c>-failed-&lt;id&gt;</c> a version that was rolled back (kept for its log until the next good deployment);
/// <c>-retired-&lt;id&gt;</c> the older previous one while a deployment is not yet verified.
/// </summary>
internal sealed class DockerContainerNames
{
    public const string ServiceLabel = "yieldvault-ops.service";
    public const string ReleaseLabel = "yieldvault-ops.release";

    private static readonly Regex DockerName = new("^[a-zA-Z0-9][a-zA-Z0-9_.-]*$", RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));

    public DockerContainerNames(string service)
    {
        Service = service ?? throw new ArgumentNullException(nameof(service));
    }

    public string Service { get; }

    public string Previous => Service + "-previous";

    public string Next(string id) => Service + "-next-" + id;

    public string Failed(string id) => Service + "-failed-" + id;

    public string Retired(string id) => Service + "-retired-" + id;

    public string UndoSwap(string id) => Service + "-undo-" + id;

    /// <summary>Whether <paramref name="name"/> (with or without Docker's leading '/') is a leftover a good deployment may remove.</summary>
    public bool IsLeftover(string name)
    {
        var bare = name.TrimStart('/');
        foreach (var kind in new[] { "-next-", "-failed-", "-retired-", "-undo-" })
        {
            var prefix = Service + kind;
            if (bare.StartsWith(prefix, StringComparison.Ordinal) && IsShortId(bare.Substring(prefix.Length)))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>A fresh id for this run's containers.</summary>
    public static string NewId() => Guid.NewGuid().ToString("N").Substring(0, 8);

    /// <summary>Whether Docker accepts <paramref name="name"/> as a container name.</summary>
    public static bool IsValidContainerName(string name) => !string.IsNullOrEmpty(name) && name.Length <= 200 && DockerName.IsMatch(name);

    private static bool IsShortId(string text)
    {
        if (text.Length is < 4 or > 32)
        {
            return false;
        }

        foreach (var c in text)
        {
            if (c is not (>= '0' and <= '9') and not (>= 'a' and <= 'f'))
            {
                return false;
            }
        }

        return true;
    }
}
