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

$config = New-PesterConfiguration
$config.Run.Path = if ($TestPath) { $TestPath -split ',' } else { Join-Path $PSScriptRoot 'pester' }
$config.Run.PassThru = $true
$config.Output.Verbosity = 'Detailed'
$config.TestResult.Enabled = $true
$config.TestResult.OutputFormat = 'NUnitXml'
$config.TestResult.OutputPath = Join-Path $ResultsDirectory 'pester.xml'
$result = Invoke-Pester -Configuration $config

[pscustomobject]@{
    Passed          = $result.PassedCount
    Failed          = $result.FailedCount
    Skipped         = $result.SkippedCount
    NotRun          = $result.NotRunCount
    ContainerFailed = $result.FailedContainersCount
} | ConvertTo-Json | Set-Content -LiteralPath (Join-Path $ResultsDirectory 'pester-summary.json')
