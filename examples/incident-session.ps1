<#
.SYNOPSIS
    An incident session along the runbook with the on-call cmdlets: diagnose, check the deployment lock, deploy a
    fix step by step, watch it, read the run back from its journal, and roll back if the watch fails.
.DESCRIPTION
    1. Get-VaultDiagnosis: the runbook's Troubleshooting checks (service, environment, port, database, memory,
       latency); the problems are shown, the session goes on (they are what the fix is for).
    2. Get-VaultDeploymentLock: a lock left by a run that died (stale) is cleared with Unlock-VaultDeployment,
       which closes that run's journal as Abandoned; a lock a live run holds stops the session.
    3. Invoke-VaultRunbook: the deployment, each step shown before it runs; in an interactive session it asks
       before every step that changes the target (Yes, Yes to All, Skip where allowed, Rollback). A failure in
       verification or the smoke checks rolls back by itself.
    4. Watch-VaultBackend -FailOn: runbook 10.1 for -WatchSec seconds; a reading that crosses a threshold
       (by default: a failed health check, a restart, an error line in the log) fails the watch.
    5. Undo-VaultDeployment if the watch failed: the previous release is started again and verified.
    6. Get-VaultDeploymentJournal: the runs of this session read back from the target (steps, timings,
       rollback); with -ReportPath, the runbook report of the deployment for the ticket.

    What asks, in an interactive session with the default $ConfirmPreference (High): Unlock-VaultDeployment
    (ConfirmImpact High) before it clears a stale lock, Invoke-VaultRunbook before each step that changes the
    target, and Undo-VaultDeployment (ConfirmImpact High) before it rolls back. Nothing else asks.
    With -NonInteractive nothing asks (those three get -Confirm:$false; Invoke-VaultRunbook then runs as
    Invoke-VaultDeployment does); use it from a scheduler or a script, where a question would fail.
.PARAMETER Target
    The target (New-VaultTarget, Get-VaultTarget). Or -TargetsFile and -Name.
.PARAMETER TargetsFile
    A targets .psd1 (see Get-VaultTarget); with -Name.
.PARAMETER Ref
    The git tag, branch or commit to deploy. Or -Artifact and -Sha256 (a pre-built release, runbook Option C).
.PARAMETER WatchSec
    How long to watch after the deployment (runbook 10.1).
.PARAMETER FailOn
    The watch's thresholds (as Watch-VaultBackend -FailOn).
.PARAMETER DiagnosisSampleSec
    How long the diagnosis samples memory and CPU.
.PARAMETER ReportPath
    Where to write the runbook report of the deployment (markdown).
.PARAMETER NonInteractive
    Ask nothing (see above).
.OUTPUTS
    One summary object: Target, Problems (the diagnosis's), LockCleared, Deployment (its result), Watch
    (readings, Breach), Rollback (Undo's result, if any), Journals, Status (Deployed, RolledBack, Failed,
    Stopped) and ServedVersion.
.EXAMPLE
    ./examples/incident-session.ps1 -TargetsFile ./targets.psd1 -Name prod-1 -Ref v1.3.0 -Incident INC-123

    At a terminal: asks before each step of the deployment, and before a rollback.
.EXAMPLE
    ./examples/incident-session.ps1 -Target $t -Artifact ./v1.3.0.tar.gz -Sha256 $sha -NonInteractive -ReportPath ./INC-123.md

    Unattended: nothing asks; a failed watch rolls back.
#>
[CmdletBinding(DefaultParameterSetName = 'TargetRef')]
param(
    [Parameter(Mandatory, ParameterSetName = 'TargetRef')]
    [Parameter(Mandatory, ParameterSetName = 'TargetArtifact')]
    [ValidateNotNull()] $Target,

    [Parameter(Mandatory, ParameterSetName = 'FileRef')]
    [Parameter(Mandatory, ParameterSetName = 'FileArtifact')]
    [string] $TargetsFile,

    [Parameter(Mandatory, ParameterSetName = 'FileRef')]
    [Parameter(Mandatory, ParameterSetName = 'FileArtifact')]
    [string] $Name,

    [Parameter(Mandatory, ParameterSetName = 'TargetRef')]
    [Parameter(Mandatory, ParameterSetName = 'FileRef')]
    [string] $Ref,

    [Parameter(Mandatory, ParameterSetName = 'TargetArtifact')]
    [Parameter(Mandatory, ParameterSetName = 'FileArtifact')]
    [string] $Artifact,

    [Parameter(Mandatory, ParameterSetName = 'TargetArtifact')]
    [Parameter(Mandatory, ParameterSetName = 'FileArtifact')]
    [string] $Sha256,

    [string] $Incident,
    [ValidateRange(5, 3600)] [int] $WatchSec = 60,
    [hashtable] $FailOn = @{ FailedHealthChecks = 0; Restarts = 0; Errors = 0 },
    [ValidateRange(1, 300)] [int] $DiagnosisSampleSec = 10,
    [string] $ReportPath,
    [switch] $NonInteractive
)
$ErrorActionPreference = 'Stop'
if (-not (Get-Module YieldVault.Ops)) { Import-Module YieldVault.Ops }
$t = if ($TargetsFile) { Get-VaultTarget -Path $TargetsFile -Name $Name } else { $Target }
# -NonInteractive: the cmdlets that ask are told not to; otherwise they ask as their ConfirmImpact says.
$confirm = if ($NonInteractive) { @{ Confirm = $false } } else { @{} }
$source = if ($Ref) { @{ Ref = $Ref } } else { @{ Artifact = $Artifact; Sha256 = $Sha256 } }
if ($Incident) { $source['Incident'] = $Incident }
$summary = [ordered]@{
    Target = $t.Name; Problems = @(); LockCleared = $null; Deployment = $null; Watch = $null; Rollback = $null
    Journals = @(); Status = 'Failed'; ServedVersion = $null
}
function Section([string] $Title) { Write-Host "`n=== $Title" -ForegroundColor Cyan }

Section "Diagnosis of $($t.Name) (runbook Troubleshooting)"
$findings = @($t | Get-VaultDiagnosis -SampleSec $DiagnosisSampleSec)
$summary.Problems = @($findings | Where-Object Status -EQ 'Problem' | ForEach-Object { "$($_.Check): $($_.Summary)" })
if ($summary.Problems.Count) { $findings | Where-Object Status -EQ 'Problem' | Format-Table Check, Summary, Next -Wrap | Out-Host }
else { Write-Host "no problem found in $($findings.Count) checks" }

Section 'Deployment lock'
$lock = $t | Get-VaultDeploymentLock
if (-not $lock) {
    Write-Host 'no lock is held'
}
elseif ($lock.IsStale) {
    Write-Host "a stale lock is left: run $($lock.RunId) ($($lock.StaleReason))"
    $cleared = $t | Unlock-VaultDeployment @confirm
    $summary.LockCleared = $lock.RunId
    if (-not $cleared) { $summary.Status = 'Stopped'; return [pscustomobject]$summary }
    # That run's journal, now closed as Abandoned (none if the run died before it wrote one).
    if ($lock.RunId) { $summary.Journals += @($t | Get-VaultDeploymentJournal -RunId $lock.RunId -ErrorAction SilentlyContinue) }
}
else {
    throw "$($t.Name): a live run holds the deployment lock: run $($lock.RunId) by $($lock.User) on $($lock.Machine), refreshed $([int]$lock.Age.TotalSeconds) s ago. Wait for it (Get-VaultDeploymentJournal -RunId $($lock.RunId))."
}

Section "Deployment of $(if ($Ref) { $Ref } else { $Artifact })"
$result = $t | Invoke-VaultRunbook @source @confirm -ErrorAction Continue
$summary.Deployment = $result
if (-not $result) {
    # Declined at a prompt (or refused before it started): nothing was changed.
    $summary.Status = 'Stopped'
    return [pscustomobject]$summary
}
$summary.Journals += @($t | Get-VaultDeploymentJournal -RunId $result.RunId)
if ("$($result.Status)" -ne 'Succeeded') {
    # RolledBack: a failure (or the operator's Rollback after the stop) brought the previous version back;
    # Stopped: the operator's Rollback before the stop left nothing changed.
    $summary.Status = if ("$($result.Status)" -eq 'RolledBack') { 'RolledBack' } elseif ($result.ErrorId -eq 'StoppedByOperator') { 'Stopped' } else { 'Failed' }
    $summary.ServedVersion = $result.VersionAfter
    return [pscustomobject]$summary
}

Section "Watch for $WatchSec s (runbook 10.1)"
$watchErrors = $null
$samples = @($t | Watch-VaultBackend -DurationSec $WatchSec -IntervalSec ([math]::Max(1, [math]::Min(5, [int]($WatchSec / 6)))) -FailOn $FailOn -ErrorVariable watchErrors -ErrorAction SilentlyContinue)
$summary.Watch = [pscustomobject]@{ Readings = $samples.Count; Breach = if ($watchErrors) { $watchErrors[0].Exception.Message } else { $null } }
$samples | Select-Object -Last 1 | Format-List Healthy, LatencyMs, Restarts, MemoryMB, Errors | Out-Host

if ($watchErrors) {
    Section 'The watch failed: rolling back'
    Write-Host $watchErrors[0].Exception.Message -ForegroundColor Yellow
    $undo = $t | Undo-VaultDeployment @confirm -ErrorAction Continue
    $summary.Rollback = $undo
    if ($undo) { $summary.Journals += @($t | Get-VaultDeploymentJournal -RunId $undo.RunId) }
    $summary.Status = if ($undo -and "$($undo.Status)" -eq 'Succeeded') { 'RolledBack' } elseif ($undo) { 'Failed' } else { 'Stopped' }
    $summary.ServedVersion = if ($undo) { $undo.VersionAfter } else { $result.VersionAfter }
}
else {
    $summary.Status = 'Deployed'
    $summary.ServedVersion = $result.VersionAfter
}

Section 'The journal of this session'
$summary.Journals | Format-Table RunId, What, Outcome, Rollback, VersionBefore, VersionAfter, Duration -AutoSize | Out-Host
if ($ReportPath) { $result | ConvertTo-VaultRunbookReport | Set-Content -LiteralPath $ReportPath }
[pscustomobject]$summary
