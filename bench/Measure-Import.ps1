<#
.SYNOPSIS
    Import-Module time of the built module in a fresh pwsh (median of N runs); goal: under 1 s.
#>
param(
    [Parameter(Mandatory)] [string] $ModuleManifest,
    [int] $Runs = 5,
    [string] $OutFile = (Join-Path $PSScriptRoot 'results/import.json')
)
$ErrorActionPreference = 'Stop'
$pwsh = Join-Path $PSHOME 'pwsh'
$times = 1..$Runs | ForEach-Object {
    $ms = & $pwsh -NoProfile -NonInteractive -Command "`$w = [Diagnostics.Stopwatch]::StartNew(); Import-Module '$ModuleManifest'; `$w.Elapsed.TotalMilliseconds"
    if ($LASTEXITCODE) { throw "Import failed" }
    [double]($ms | Select-Object -Last 1)
}
$sorted = $times | Sort-Object
$result = [ordered]@{
    scenario        = 'import-module'
    runs            = $Runs
    import_ms_median = [math]::Round($sorted[[int][math]::Floor(($Runs - 1) / 2)], 1)
    import_ms_min   = [math]::Round($sorted[0], 1)
    import_ms_max   = [math]::Round($sorted[-1], 1)
    measured_at     = (Get-Date).ToUniversalTime().ToString('o')
}
New-Item -ItemType Directory -Force -Path (Split-Path -Parent $OutFile) | Out-Null
$result | ConvertTo-Json | Set-Content -LiteralPath $OutFile
[pscustomobject]$result
