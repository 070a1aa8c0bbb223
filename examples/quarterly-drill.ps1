<#
.SYNOPSIS
    The quarterly runbook drill, for a scheduler (cron or a systemd timer; entries in examples/scheduler/).
.DESCRIPTION
    Deploys -Ref to every staging target in the targets file, verifies, smoke-tests, rolls back, verifies
    again, and writes a dated report per target. Exits 1 when any drill did not pass, so the scheduler (and
    whoever reads its mail or journal) sees it. Secrets come from the environment of the scheduled job:
      YIELDVAULT_SLACK_WEBHOOK_URL  Slack incoming webhook (optional)
      YIELDVAULT_SMOKE_API_KEY      admin API key for the smoke write test (optional)
.EXAMPLE
    pwsh -NoProfile -File examples/quarterly-drill.ps1 -TargetsFile /etc/yieldvault/targets.psd1 -Ref main -ReportDirectory /var/lib/yieldvault-ops/drills
#>
param(
    [Parameter(Mandatory)] [string] $TargetsFile,
    [Parameter(Mandatory)] [string] $Ref,
    [Parameter(Mandatory)] [string] $ReportDirectory,
    [string] $Environment = 'staging',
    [string] $ModulePath = 'YieldVault.Ops'
)
$ErrorActionPreference = 'Stop'
Import-Module $ModulePath

$secret = @{}
if ($env:YIELDVAULT_SLACK_WEBHOOK_URL) { $secret.WebhookUrl = ConvertTo-SecureString $env:YIELDVAULT_SLACK_WEBHOOK_URL -AsPlainText -Force }
if ($env:YIELDVAULT_SMOKE_API_KEY) { $secret.SmokeApiKey = ConvertTo-SecureString $env:YIELDVAULT_SMOKE_API_KEY -AsPlainText -Force }

New-Item -ItemType Directory -Force -Path $ReportDirectory | Out-Null
$stamp = (Get-Date).ToUniversalTime().ToString('yyyy-MM-dd')
$failed = 0
foreach ($target in Get-VaultTarget -Path $TargetsFile -Environment $Environment) {
    $report = Join-Path $ReportDirectory "drill-$stamp-$($target.Name).md"
    $drill = $target | Invoke-VaultRunbookTest -Ref $Ref -ReportPath $report -Incident "DRILL-$stamp" -Confirm:$false @secret -ErrorAction Continue
    $rto = if ($drill.Rto) { '{0:N1} min' -f $drill.Rto.TotalMinutes } else { 'n/a' }
    Write-Output ("{0}: {1}; RTO {2}; rollback {3}; report {4}" -f $target.Name, ($(if ($drill.Passed) { 'PASSED' } else { 'FAILED' })), $rto, $drill.Rollback.Status, $report)
    if (-not $drill.Passed) { $failed++ }
}
exit ([int]($failed -gt 0))
