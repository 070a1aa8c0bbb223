using System;
using System.Linq;
using YieldVault.Ops.Hosts;

namespace YieldVault.Ops.Services;

/// <summary>Recognises "sudo -n" (or polkit) refusing a command, so it is reported as a missing rule, not a failure of the command.</summary>
internal static class SudoRefusal
{
    private static readonly string[] SudoMarkers =
    {
        "a password is required",
        "is not allowed to execute",
        "is not in the sudoers file",
        "may not run sudo",
        "a terminal is required",
        "no tty present",
        "sudo: not found",
        "sudo: command not found",
    };

    private static readonly string[] PolkitMarkers =
    {
        "Interactive authentication required",
        "Access denied",
    };

    /// <summary>The refusal line, or null when the command ran (whatever its outcome).</summary>
    public static string? Find(CommandResult result, bool usedSudo)
    {
        if (result.Succeeded)
        {
            return null;
        }

        var markers = usedSudo ? SudoMarkers.Concat(PolkitMarkers) : PolkitMarkers;
        foreach (var line in result.StandardError.Replace("\r", "").Split('\n'))
        {
            if (markers.Any(m => line.IndexOf(m, StringComparison.OrdinalIgnoreCase) >= 0))
            {
                return line.Trim();
            }
        }

        return null;
    }
}
