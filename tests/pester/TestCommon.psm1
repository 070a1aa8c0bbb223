# Shared by the Pester suites: where the built module is, and how to start a fresh pwsh.
Set-StrictMode -Version Latest

function Get-VaultModuleManifest {
    if ($env:YIELDVAULT_MODULE_PATH) { return $env:YIELDVAULT_MODULE_PATH }
    $root = Split-Path -Parent (Split-Path -Parent $PSScriptRoot)
    $built = Get-ChildItem -Path (Join-Path $root 'out/YieldVault.Ops') -Filter YieldVault.Ops.psd1 -Recurse -ErrorAction Ignore | Select-Object -First 1
    if (-not $built) { throw "The module is not built: run ./build.ps1 -Task Build (or set `$env:YIELDVAULT_MODULE_PATH)." }
    $built.FullName
}

function Get-PwshPath {
    # The pwsh apphost of the running PowerShell (works for `dotnet pwsh` too).
    $apphost = Join-Path $PSHOME 'pwsh'
    if (Test-Path -LiteralPath $apphost) { return $apphost }
    throw "No pwsh executable in $PSHOME."
}

function Invoke-FreshPwsh {
    <# Runs a script in a new pwsh process and returns its JSON output as objects (the last line). #>
    param([Parameter(Mandatory)][string] $Script, [int] $TimeoutSec = 120)
    $file = Join-Path ([IO.Path]::GetTempPath()) ("yv-fresh-" + [guid]::NewGuid().ToString('N') + '.ps1')
    Set-Content -LiteralPath $file -Value $Script
    try {
        $psi = [Diagnostics.ProcessStartInfo]::new((Get-PwshPath))
        foreach ($a in '-NoProfile', '-NonInteractive', '-File', $file) { $psi.ArgumentList.Add($a) }
        $psi.RedirectStandardOutput = $true
        $psi.RedirectStandardError = $true
        $p = [Diagnostics.Process]::Start($psi)
        $out = $p.StandardOutput.ReadToEndAsync()
        $err = $p.StandardError.ReadToEndAsync()
        if (-not $p.WaitForExit($TimeoutSec * 1000)) { $p.Kill($true); throw "The fresh pwsh did not finish within $TimeoutSec s." }
        $p.WaitForExit()
        [pscustomobject]@{ ExitCode = $p.ExitCode; Output = $out.Result; Error = $err.Result }
    }
    finally {
        Remove-Item -LiteralPath $file -ErrorAction Ignore
    }
}

function Get-VaultCommandError {
    <#
    Runs a module cmdlet for one target where it must fail (no confirmation asked): asserts that it wrote no output
    and exactly one error with this FullyQualifiedErrorId (and Category), and returns that error record.
    #>
    param(
        [Parameter(Mandatory)] $Target,
        [Parameter(Mandatory)] [string] $Command,
        [Parameter(Mandatory)] [string] $FullyQualifiedErrorId,
        [System.Management.Automation.ErrorCategory] $Category,
        [hashtable] $Parameters = @{}
    )
    $p = @{} + $Parameters
    if ((Get-Command -Name $Command).Parameters.ContainsKey('Confirm')) { $p['Confirm'] = $false }
    $errs = $null
    $out = $Target | & $Command @p -ErrorVariable errs -ErrorAction SilentlyContinue -WarningAction SilentlyContinue
    $out | Should-BeNull
    $errs.Count | Should-Be 1
    $errs[0].FullyQualifiedErrorId | Should-Be $FullyQualifiedErrorId
    if ($PSBoundParameters.ContainsKey('Category')) { $errs[0].CategoryInfo.Category | Should-Be $Category }
    $errs[0]
}

Export-ModuleMember -Function Get-VaultModuleManifest, Get-PwshPath, Invoke-FreshPwsh, Get-VaultCommandError
