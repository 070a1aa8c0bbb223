using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Runtime.Loader;

namespace YieldVault.Ops.Loader;

/// <summary>
/// Called by YieldVault.Ops.psm1 on import. The cmdlets (YieldVault.Ops.dll), the engine and their
/// dependencies (SSH.NET, Docker.DotNet, Newtonsoft.Json, ...) are loaded from bin/ into one
/// AssemblyLoadContext of the module's own, so another copy of SSH.NET or Newtonsoft.Json already in
/// the session (PowerShell ships Newtonsoft.Json; other modules ship SSH.NET) neither breaks us nor is
/// broken by us.
/// </summary>
public static class LoadContext
{
    private static readonly object Gate = new();
    private static VaultLoadContext? _context;

    /// <summary>Returns the cmdlet assembly, loaded in the module's context (the same one on re-import).</summary>
    public static Assembly Initialize(string dependencyDirectory)
    {
        lock (Gate)
        {
            _context ??= new VaultLoadContext(dependencyDirectory);
            return _context.LoadFromAssemblyName(new AssemblyName("YieldVault.Ops"));
        }
    }
}

/// <summary>Loads from bin/, leaving the runtime's own assemblies to the default context.</summary>
internal sealed class VaultLoadContext : AssemblyLoadContext
{
    private readonly string _directory;
    private readonly HashSet<string> _sharedAssemblies;

    public VaultLoadContext(string directory)
    {
        _directory = directory;

        // The runtime's own assemblies (System.*, netstandard) and PowerShell's engine must be shared
        // with PowerShell: one System.Object, one Cmdlet type. Anything else, even if PowerShell ships a
        // copy (Newtonsoft.Json, Microsoft.Bcl.AsyncInterfaces), comes from bin/.
        var runtimeDirectory = Path.GetDirectoryName(typeof(object).Assembly.Location) ?? "";
        _sharedAssemblies = new HashSet<string>(
            Directory.Exists(runtimeDirectory) ? Directory.EnumerateFiles(runtimeDirectory, "*.dll").Select(Path.GetFileNameWithoutExtension) : Enumerable.Empty<string>(),
            StringComparer.OrdinalIgnoreCase)
        {
            "System.Management.Automation",
            "Microsoft.PowerShell.CoreCLR.Eventing",
        };
    }

    protected override Assembly? Load(AssemblyName assemblyName)
    {
        var name = assemblyName.Name ?? "";
        if (_sharedAssemblies.Contains(name))
        {
            return null;
        }

        var path = Path.Combine(_directory, name + ".dll");
        return File.Exists(path) ? LoadFromAssemblyPath(path) : null;
    }
}
