using System;
using System.Runtime.InteropServices;

namespace YieldVault.Ops.Hosts;

/// <summary>Sets Unix file modes on local files that hold secrets or trust (known_hosts, backups).</summary>
internal static class FileModes
{
    [DllImport("libc", EntryPoint = "chmod", SetLastError = true)]
    private static extern int Chmod(string path, int mode);

    public static bool TrySet(string path, string octalMode)
    {
        if (RuntimeInformation.IsOSPlatform(OSPlatform.Windows))
        {
            return false;
        }

        try
        {
            return Chmod(path, Convert.ToInt32(octalMode, 8)) == 0;
        }
        catch (DllNotFoundException)
        {
            return false;
        }
        catch (EntryPointNotFoundException)
        {
            return false;
        }
    }
}
