using System;
using System.Linq;

namespace YieldVault.Ops.Services;

/// <summary>Unit names as systemctl expects them.</summary>
internal static class SystemdUnits
{
    private static readonly string[] UnitSuffixes =
    {
        ".service", ".socket", ".target", ".timer", ".path", ".mount", ".automount", ".swap", ".slice", ".scope", ".device",
    };

    public static string UnitName(string serviceName) =>
        UnitSuffixes.Any(s => serviceName.EndsWith(s, StringComparison.Ordinal)) ? serviceName : serviceName + ".service";
}
