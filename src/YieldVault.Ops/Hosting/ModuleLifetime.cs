using System.Management.Automation;

namespace YieldVault.Ops.Hosting;

/// <summary>Closes every SSH connection the module opened when the module is removed.</summary>
public sealed class ModuleLifetime : IModuleAssemblyCleanup
{
    public void OnRemove(PSModuleInfo psModuleInfo) => VaultSessions.CloseAll();
}
