# Loads the module's cmdlets into the module's own AssemblyLoadContext (see src/YieldVault.Ops.Loader):
# YieldVault.Ops.Loader.dll is the only assembly in PowerShell's default context; the cmdlets, the
# engine and every dependency come from bin/, so other copies of SSH.NET or Newtonsoft.Json in the
# session do not conflict with ours.
if (-not ('YieldVault.Ops.Loader.LoadContext' -as [type])) {
    Add-Type -LiteralPath ([IO.Path]::Combine($PSScriptRoot, 'YieldVault.Ops.Loader.dll'))
}

$assembly = [YieldVault.Ops.Loader.LoadContext]::Initialize([IO.Path]::Combine($PSScriptRoot, 'bin'))
Import-Module -Assembly $assembly -Force -ErrorAction Stop
