using System;
using System.IO;
using System.Text.RegularExpressions;

namespace YieldVault.Ops.Hosts;

/// <summary>
/// Which machine and pid namespace this process runs in, beyond its host name: the kernel's boot id (new at every boot,
/// so a restarted machine's old pids mean nothing) and the pid namespace (a container sees other pids than its host).
/// Two processes may compare pids only when both match.
/// </summary>
public static class MachineIdentity
{
    private static readonly Lazy<string> Boot = new(() => Read(() => File.ReadAllText("/proc/sys/kernel/random/boot_id").Trim()));
    private static readonly Lazy<string> Pid = new(() => Read(() =>
    {
        var buffer = new byte[128];
        var length = NativeMethods.readlink("/proc/self/ns/pid", buffer, buffer.Length);
        var link = length > 0 ? System.Text.Encoding.ASCII.GetString(buffer, 0, length) : "";
        var match = Regex.Match(link, @"\[(\d+)\]", RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));
        return match.Success ? match.Groups[1].Value : "";
    }));

    /// <summary>The kernel's boot id, or "unknown" where there is none (not Linux).</summary>
    public static string BootId => Boot.Value;

    /// <summary>The inode of this process's pid namespace, or "unknown".</summary>
    public static string PidNamespace => Pid.Value;

    private static class NativeMethods
    {
        [System.Runtime.InteropServices.DllImport("libc", SetLastError = true, CharSet = System.Runtime.InteropServices.CharSet.Ansi, BestFitMapping = false, ThrowOnUnmappableChar = true)]
        [System.Runtime.InteropServices.DefaultDllImportSearchPaths(System.Runtime.InteropServices.DllImportSearchPath.SafeDirectories)]
        internal static extern int readlink(string path, byte[] buffer, int size);
    }

    private static string Read(Func<string> read)
    {
        try
        {
            var value = read();
            return Regex.IsMatch(value, "^[0-9A-Za-z-]{1,64}$", RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1)) ? value : "unknown";
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or NotSupportedException or DllNotFoundException or EntryPointNotFoundException)
        {
            return "unknown";
        }
    }
}
