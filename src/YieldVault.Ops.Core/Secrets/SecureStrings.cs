using System;
using System.Runtime.InteropServices;
using System.Security;

namespace YieldVault.Ops;

/// <summary>The one place a SecureString becomes text, at the moment it is needed (a login, a header, a URL).</summary>
public static class SecureStrings
{
    public static string Unprotect(SecureString secure)
    {
        if (secure is null)
        {
            throw new ArgumentNullException(nameof(secure));
        }

        var pointer = IntPtr.Zero;
        try
        {
            pointer = Marshal.SecureStringToGlobalAllocUnicode(secure);
            return Marshal.PtrToStringUni(pointer) ?? "";
        }
        finally
        {
            if (pointer != IntPtr.Zero)
            {
                Marshal.ZeroFreeGlobalAllocUnicode(pointer);
            }
        }
    }
}
