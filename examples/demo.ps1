<#
.SYNOPSIS
    The main job on a local default: starts the sample YieldVault backend on this machine (with a real
    PostgreSQL and the Stellar RPC stand-in, all on 127.0.0.1) and runs the module against it.
.DESCRIPTION
    Run through `dotnet pwsh ./build.ps1 -Task Demo`, which builds the module first. Everything the demo
    starts is stopped at the end, also on Ctrl+C.
#>
param(
    [Parameter(Mandatory)] [string] $ModuleManifest
)
$ErrorActionPreference = 'Stop'
$root = Split-Path -Parent $PSScriptRoot
Import-Module (Join-Path $root 'tests/services/YieldVault.TestServices.psm1') -Force
Import-Module $ModuleManifest -Force

function Show([string] $Title) { Write-Host "`n### $Title" -ForegroundColor Yellow }

$stack = $null
try {
    Show 'Starting the sample backend v1.2.3 (PostgreSQL, Stellar RPC stand-in, Node) on 127.0.0.1'
    $stack = Start-TestBackendStack
    Write-Host "Backend on $($stack.Url) (started in $([math]::Round($stack.StartSeconds, 1)) s)"

    Show 'A target for it (runbook defaults, port changed to the demo port)'
    $target = New-VaultTarget -Name demo-local -Environment staging -Port $stack.Port -AppPath $stack.Checkout
    $target | Format-Table | Out-Host

    Show 'Runbook 1.2: health and readiness'
    $target | Test-VaultBackendHealth -Ready | Format-Table | Out-Host
    $target | Test-VaultBackendHealth -Ready | Format-List Target, Healthy, Status, StatusCode, Checks, Ready, Dependencies, LatencyMs, Url | Out-Host

    Show 'The Stellar RPC goes down: the same check now says why the backend is unhealthy'
    $null = Set-TestStellarRpcMode -Rpc $stack.Rpc -Mode down
    Start-Sleep -Milliseconds 400
    $target | Test-VaultBackendHealth | Format-Table | Out-Host
    $null = Set-TestStellarRpcMode -Rpc $stack.Rpc -Mode up
    Start-Sleep -Milliseconds 400
    $target | Test-VaultBackendHealth | Format-Table | Out-Host
}
finally {
    if ($stack) { Stop-TestBackendStack $stack }
    Stop-AllTestServices
}
