<#
.SYNOPSIS
    Runs the Pester suites against the built module, in the fresh pwsh that build.ps1 starts.
    Writes a JSON summary (counts) for build.ps1 to add to the xunit counts.
#>
param(
    [Parameter(Mandatory)] [string] $ModuleManifest,
    [Parameter(Mandatory)] [string] $PesterManifest,
    [Parameter(Mandatory)] [string] $ResultsDirectory,
    [string] $TestPath
)
$ErrorActionPreference = 'Stop'
Import-Module $PesterManifest -Force
# The suites import the module from here (each in its own BeforeAll), and the test services from tests/services.
$env:YIELDVAULT_MODULE_PATH = $ModuleManifest
$env:YIELDVAULT_REPO_ROOT = Split-Path -Parent $PSScriptRoot
# Invoke-VaultDeployment, Undo-VaultDeployment, Stop-VaultBackend and Switch-VaultTraffic ask first (ConfirmImpact High);
# the suites run without a person, as a scheduled script does, so nothing asks here. Confirm.Tests.ps1 checks the asking
# itself in a pwsh of its own, and a child pwsh a suite starts sets the same preference in its script.
$global:ConfirmPreference = 'None'

$config = New-PesterConfiguration
$config.Run.Path = if ($TestPath) { $TestPath -split ',' } else { Join-Path $PSScriptRoot 'pester' }
$config.Run.PassThru = $true
$config.Output.Verbosity = 'Detailed'
$config.TestResult.Enabled = $true
$config.TestResult.OutputFormat = 'NUnitXml'
$config.TestResult.OutputPath = Join-Path $ResultsDirectory 'pester.xml'
# Everything the suites print goes to a transcript, which is then scanned for the secrets the suites plant
# (all named "Planted-..."): a planted value in any output, warning, verbose line or error fails the run.
$transcript = Join-Path $ResultsDirectory 'pester-transcript.txt'
Start-Transcript -LiteralPath $transcript -Force | Out-Null
try { $result = Invoke-Pester -Configuration $config }
finally { Stop-Transcript | Out-Null }

$leaks = @(Select-String -LiteralPath $transcript, $config.TestResult.OutputPath.Value -Pattern 'Planted-[A-Za-z]+(-[A-Za-z]+)*-[0-9A-Fa-f]{1,}' -AllMatches |
    ForEach-Object { $_.Matches.Value } | Sort-Object -Unique)
$scan = if ($leaks.Count -eq 0) { 'passed' } else { 'FAILED' }
Write-Host "Secret scan of the run's output and results: $scan" -ForegroundColor $(if ($leaks.Count) { 'Red' } else { 'Green' })
if ($leaks.Count) { Write-Host "  planted values found (shown so they can be traced; they are test-only): $($leaks -join ', ')" -ForegroundColor Red }

# What failed and why, in a few lines each, for build.ps1 to print again at the very end of the run: a CI log keeps only
# its tail, and a failed BeforeAll's reason is otherwise printed once, far up, at the Describe it stopped.
function Get-Reason($ErrorRecords) {
    $text = (@($ErrorRecords) | Select-Object -First 1 | ForEach-Object { "$($_.Exception.Message)" }) -join ''
    $lines = @($text -split "`r?`n" | Where-Object { $_.Trim() } | Select-Object -First 6)
    $reason = $lines -join "`n"
    if ($reason.Length -gt 900) { $reason = $reason.Substring(0, 900) + ' ...' }
    $reason
}
$failures = @(
    foreach ($c in $result.Containers | Where-Object Result -EQ 'Failed') {
        if ($c.ErrorRecord.Count) { [pscustomobject]@{ Name = "file $($c.Item)"; Reason = Get-Reason $c.ErrorRecord } }
    }
    foreach ($b in $result.FailedBlocks) { [pscustomobject]@{ Name = "BeforeAll/AfterAll of '$($b.ExpandedPath)'"; Reason = Get-Reason $b.ErrorRecord } }
    foreach ($t in $result.Failed) {
        $reason = Get-Reason $t.ErrorRecord
        [pscustomobject]@{ Name = $t.ExpandedPath; Reason = $(if ($reason) { $reason } else { '(no error of its own: its block failed, see above)' }) }
    }
    foreach ($t in $result.Skipped) { [pscustomobject]@{ Name = "$($t.ExpandedPath) (skipped)"; Reason = Get-Reason $t.ErrorRecord } }
    if ($leaks.Count) { [pscustomobject]@{ Name = 'secret scan'; Reason = "planted values in the output: $($leaks -join ', ')" } }
)

[pscustomobject]@{
    Failures        = $failures
    Passed          = $result.PassedCount + [int]($leaks.Count -eq 0)
    Failed          = $result.FailedCount + [int]($leaks.Count -gt 0)
    Skipped         = $result.SkippedCount
    NotRun          = $result.NotRunCount
    ContainerFailed = $result.FailedContainersCount
} | ConvertTo-Json -Depth 4 | Set-Content -LiteralPath (Join-Path $ResultsDirectory 'pester-summary.json')
