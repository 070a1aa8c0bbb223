<#
.SYNOPSIS
    The main job on a local default: the sample YieldVault backend runs under PM2 on this machine (with a real
    PostgreSQL and the Stellar RPC stand-in, all on 127.0.0.1); the module assesses it, deploys v1.3.0 over
    v1.2.3, rolls back, and shows what a failed deployment does.
.DESCRIPTION
    Run through `dotnet pwsh ./build.ps1 -Task Demo`, which builds the module first. Everything the demo starts
    is stopped at the end, also on Ctrl+C.
#>
param(
    [Parameter(Mandatory)] [string] $ModuleManifest
)
$ErrorActionPreference = 'Stop'
$root = Split-Path -Parent $PSScriptRoot
Import-Module (Join-Path $root 'tests/services/YieldVault.TestServices.psm1') -Force
Import-Module $ModuleManifest -Force

function Show([string] $Title) { Write-Host "`n### $Title" -ForegroundColor Yellow }

$postgres = $rpc = $null
$work = Join-Path ([IO.Path]::GetTempPath()) ('yv-demo-' + [guid]::NewGuid().ToString('N').Substring(0, 8))
$pm2Home = Join-Path $work 'pm2'
try {
    Show 'Setting up: PostgreSQL, the Stellar RPC stand-in, a git origin of the backend, a v1.2.3 checkout'
    New-Item -ItemType Directory -Path $work | Out-Null
    $postgres = Start-TestPostgres
    $rpc = Start-TestStellarRpc
    $origin = New-TestSampleOrigin -Directory $work
    $app = New-TestSampleCheckout -Origin $origin -Ref v1.2.3 -Path (Join-Path $work 'app')
    $port = Get-FreeTcpPort
    @("PORT=$port", 'NODE_ENV=production', "STELLAR_RPC_URL=$($rpc.Url)", "DATABASE_URL=$($postgres.DatabaseUrl)",
        'VAULT_CONTRACT_ID=CDLZFC3SYJYDZT7K67VZ75HPJVIEUVNIXF47ZG2FB2RMQQVU2HHGCYSC', "LOG_FILE=$work/logs/backend.log", 'SHUTDOWN_DRAIN_MS=300') |
        Set-Content -LiteralPath (Join-Path $app '.env')
    & chmod 600 (Join-Path $app '.env')
    $null = Invoke-TestSampleMigration -Path $app -DatabaseUrl $postgres.DatabaseUrl

    Show 'A target: the runbook defaults, with this demo''s paths and port, run by PM2'
    $target = New-VaultTarget -Name demo-local -Environment staging -Port $port -AppPath $app -ServiceManager Pm2 -Pm2Home $pm2Home `
        -MigrationPreset NodePgMigrate -LogPath "$work/logs/backend.log" -BackupPath "$work/backups" -StatePath "$work/state"
    $target | Format-Table | Out-Host

    Show 'Runbook Step 6: start it under PM2 and wait until healthy'
    $target | Start-VaultBackend -Confirm:$false | Format-Table | Out-Host

    Show 'Runbook Step 1: assess (status, health, version, resources)'
    $target | Get-VaultBackendStatus -Detailed | Format-List Target, State, Pid, UptimeText, Version, Commit, Healthy, Ready, Checks, ActiveConnections, MemoryMB, AppDiskFreeMB | Out-Host
    $target | Test-VaultDependency | Format-Table | Out-Host

    Show 'Pre-deployment checklist'
    $target | Test-VaultDeploymentReadiness -MinimumFreeMB 100 | Format-Table | Out-Host

    Show 'The plan, without changing anything (-WhatIf)'
    $target | Invoke-VaultDeployment -Ref v1.3.0 -WhatIf

    Show 'Deploy v1.3.0 (built while v1.2.3 serves; a prober measures downtime)'
    $deploy = $target | Invoke-VaultDeployment -Ref v1.3.0 -Incident DEMO-1 -Confirm:$false
    $deploy | Format-List Status, VersionBefore, VersionAfter, ReleaseBefore, ReleaseAfter, Duration, DowntimeMs, FailedProbes, Probes, JournalPath | Out-Host
    $deploy.Steps | Format-Table | Out-Host

    Show 'Roll back to v1.2.3 (a link switch and a restart, no rebuild)'
    $undo = $target | Undo-VaultDeployment -Force
    $undo | Format-List Status, VersionBefore, VersionAfter, Duration, DowntimeMs | Out-Host
    $target | Get-VaultRelease | Format-Table | Out-Host

    Show 'A broken release (its /health fails): the deployment rolls back by itself'
    $broken = $target | Invoke-VaultDeployment -Ref v1.3.1-broken -HealthTimeoutSec 8 -Confirm:$false -ErrorAction SilentlyContinue
    $broken | Format-List Status, ErrorId, VersionAfter, Duration, DowntimeMs | Out-Host

    Show 'A release that does not build: it fails before the stop; v1.2.3 never stopped serving'
    $badbuild = $target | Invoke-VaultDeployment -Ref v1.3.2-badbuild -Confirm:$false -ErrorAction SilentlyContinue
    $badbuild | Format-List Status, ErrorId, FailedProbes, VersionAfter | Out-Host
    $target | Get-VaultBackendVersion | Format-Table | Out-Host
}
finally {
    if (Test-Path $pm2Home) { $env:PM2_HOME = $pm2Home; & pm2 kill *> $null; Remove-Item Env:PM2_HOME }
    if ($rpc) { Stop-TestStellarRpc $rpc }
    if ($postgres) { Stop-TestPostgres $postgres }
    Stop-AllTestServices
    Remove-Item -LiteralPath $work -Recurse -Force -ErrorAction Ignore
}
