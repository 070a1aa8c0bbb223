<#
.SYNOPSIS
    An interactive incident session, step by step: the runbook's sections as commands, each confirmed and
    shown before the next. Dot-source it or paste the steps you need; every state change asks first
    (-Confirm) and can be previewed (-WhatIf).
.EXAMPLE
    ./examples/incident-session.ps1 -TargetsFile ./targets.psd1 -Name prod-1 -Ref v1.3.0 -Incident INCIDENT-123
#>
param(
    [Parameter(Mandatory)] [string] $TargetsFile,
    [Parameter(Mandatory)] [string] $Name,
    [Parameter(Mandatory)] [string] $Ref,
    [Parameter(Mandatory)] [string] $Incident
)
$ErrorActionPreference = 'Stop'
Import-Module YieldVault.Ops
$t = Get-VaultTarget -Path $TargetsFile -Name $Name

function Step([string] $Title) { Write-Host "`n=== $Title" -ForegroundColor Cyan; Read-Host 'Enter to run (Ctrl+C to stop)' | Out-Null }

Step 'Step 1: assess the current state (service, health, version, resources, logs)'
$t | Get-VaultBackendStatus -Detailed | Format-List
$t | Test-VaultDependency | Format-Table
$t | Get-VaultBackendLog -Level Error -Tail 200 | Format-Table

Step 'Pre-deployment checklist'
$t | Test-VaultDeploymentReadiness | Format-Table

Step 'Step 2: back up (and, if this is a planned window, maintenance mode)'
$backup = $t | Backup-VaultDeployment
$backup | Format-List
# $t | Enable-VaultMaintenanceMode

Step "Steps 3-8: the plan for $Ref, then the deployment (it rolls back by itself if verification fails)"
$t | Invoke-VaultDeployment -Ref $Ref -Incident $Incident -WhatIf
$result = $t | Invoke-VaultDeployment -Ref $Ref -Incident $Incident
$result | Format-List Status, VersionBefore, VersionAfter, DowntimeMs, JournalPath, Error
$result.Steps | Format-Table

Step 'Step 8-9: smoke tests, including through the public URL if the target has one'
$t | Test-VaultSmoke | Format-Table
if ($t.PublicUrl) { $t | Test-VaultSmoke -BaseUrl $t.PublicUrl | Format-Table }

Step 'Step 10: record and notify; the report for the ticket'
$t | Get-VaultDeploymentHistory -Last 3 | Format-Table
if ($env:YIELDVAULT_SLACK_WEBHOOK_URL) { $result | Send-VaultNotification }
$result | ConvertTo-VaultRunbookReport | Set-Content "./$Incident-report.md"

Write-Host "`nIf anything is wrong now: `$t | Undo-VaultDeployment   (or -Backup `$backup -RestoreEnvFile)" -ForegroundColor Yellow
