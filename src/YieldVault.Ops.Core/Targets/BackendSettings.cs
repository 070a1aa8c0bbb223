using System;
using System.Linq;

namespace YieldVault.Ops;

/// <summary>
/// The rules for the settings that describe the backend itself (health rules, release recipe, smoke and log
/// checks), so any Node backend can be run: every value is refused early, with the setting it belongs to.
/// </summary>
internal static class BackendSettings
{
    public const int MaxListItems = 20;
    public const int MaxBuildWords = 64;

    public static (string Key, string Message)? FindProblem(VaultTarget target)
    {
        if (target.HealthyStatusCodes.Count is 0 or > MaxListItems)
        {
            return ("HealthyStatusCodes", $"HealthyStatusCodes needs 1-{MaxListItems} status codes.");
        }

        if (target.HealthyStatusCodes.FirstOrDefault(code => code is < 100 or > 599) is var bad and not 0)
        {
            return ("HealthyStatusCodes", $"HealthyStatusCodes: {bad} is outside 100-599.");
        }

        if (target.HealthyValues.Count is 0 or > MaxListItems)
        {
            return ("HealthyValues", $"HealthyValues needs 1-{MaxListItems} values.");
        }

        if (target.HealthyValues.FirstOrDefault(v => string.IsNullOrWhiteSpace(v) || v.Length > 64 || v.Any(char.IsControl)) is { } value)
        {
            return ("HealthyValues", $"HealthyValues: '{value}' must be 1-64 characters of text.");
        }

        if (!SmokeCheck.IsValidJsonPath(target.HealthJsonPath))
        {
            return ("HealthJsonPath", $"HealthJsonPath '{target.HealthJsonPath}' is not a dotted path such as 'status' or 'health.state'.");
        }

        if (target.StartupMarkers is { } markers)
        {
            if (markers.Count > MaxListItems)
            {
                return ("StartupMarkers", $"StartupMarkers holds at most {MaxListItems} lines.");
            }

            if (markers.FirstOrDefault(m => string.IsNullOrWhiteSpace(m) || m.Length > 200 || m.Any(char.IsControl)) is { } marker)
            {
                return ("StartupMarkers", $"StartupMarkers: '{marker}' must be 1-200 characters of text on one line.");
            }
        }

        if (target.BuildCommand is { } build)
        {
            if (build.Count is 0 or > MaxBuildWords)
            {
                return ("BuildCommand", $"BuildCommand needs a program and at most {MaxBuildWords - 1} arguments.");
            }

            if (build.Any(word => word is null || word.Length == 0 || word.Length > 4096 || word.Any(char.IsControl)))
            {
                return ("BuildCommand", "BuildCommand words must be non-empty text without control characters.");
            }

            if (build[0].StartsWith("-", StringComparison.Ordinal))
            {
                return ("BuildCommand", $"BuildCommand must start with the program to run, not '{build[0]}'.");
            }
        }

        if (target.EntryPoint is { } entry && !IsSafeRelative(entry))
        {
            return ("EntryPoint", $"EntryPoint '{entry}' must be a file path relative to the app directory, without '..' segments or control characters.");
        }

        if (target.AppSubdirectory is { } sub && !IsSafeRelative(sub))
        {
            return ("AppSubdirectory", $"AppSubdirectory '{sub}' must be a directory path relative to the repository root, without '..' segments or control characters.");
        }

        return null;
    }

    /// <summary>A path inside the release: relative, no '..', no control characters, not only dots and slashes.</summary>
    public static bool IsSafeRelative(string? path) =>
        !string.IsNullOrEmpty(path)
        && !path!.StartsWith("/", StringComparison.Ordinal)
        && !path.StartsWith("-", StringComparison.Ordinal)
        && RemotePaths.IsSafeRelativeOrAbsolute(path)
        && path.Split('/').Any(segment => segment.Length > 0 && segment != ".");
}
