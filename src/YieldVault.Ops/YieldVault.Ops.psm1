# Loads the module's cmdlets into the module's own AssemblyLoadContext (see src/YieldVault.Ops.Loader):
# YieldVault.Ops.Loader.dll is the only assembly in PowerShell's default context; the cmdlets, the
# engine and every dependency come from bin/, so other copies of SSH.NET or Newtonsoft.Json in the
# session do not conflict with ours.
if (-not ('YieldVault.Ops.Loader.LoadContext' -as [type])) {
    Add-Type -LiteralPath ([IO.Path]::Combine($PSScriptRoot, 'YieldVault.Ops.Loader.dll'))
}

$assembly = [YieldVault.Ops.Loader.LoadContext]::Initialize([IO.Path]::Combine($PSScriptRoot, 'bin'))
$inner = Import-Module -Assembly $assembly -Force -PassThru -ErrorAction Stop

# On a second import (Import-Module -Force) PowerShell hands back its cached assembly module without
# adding its cmdlets to this module again (PowerShell issue 20710), so add them explicitly.
$addExportedCmdlet = [System.Management.Automation.PSModuleInfo].GetMethod('AddExportedCmdlet', [System.Reflection.BindingFlags]'Instance, NonPublic')
foreach ($cmdlet in $inner.ExportedCmdlets.Values) {
    $addExportedCmdlet.Invoke($ExecutionContext.SessionState.Module, @(, $cmdlet))
}
