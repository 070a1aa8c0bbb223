# What the fault suites (Faults.Tests.ps1, Faults.Locks.Tests.ps1) check on a workspace after a fault: the version
# served, the PM2 process, the state before a run, that nothing was lost, and journals and processes to wait for.
# A workspace ($Ws) is the suites' PM2 workspace object: Port, App, Directory, State, Lock, Pm2Ws.
Import-Module (Join-Path $PSScriptRoot '../services/Pm2.TestServices.psm1')

function Get-Served($Ws) {
    $health = Invoke-WebRequest -Uri "http://127.0.0.1:$($Ws.Port)/health" -TimeoutSec 5 -SkipHttpErrorCheck
    $version = Invoke-RestMethod -Uri "http://127.0.0.1:$($Ws.Port)/api/v1/version" -TimeoutSec 5
    [pscustomobject]@{ Health = [int]$health.StatusCode; Version = $version.version; Commit = $version.commit }
}

function Get-Pm2Pid($Ws) { (Get-TestPm2List -Workspace $Ws.Pm2Ws | Where-Object name -EQ 'yieldvault-backend').pid }

# What must survive any fault: the env file's bytes, the backups, the release that served.
function Get-WsState($Ws) {
    [pscustomobject]@{
        EnvHash  = (Get-FileHash -LiteralPath "$($Ws.App)/.env").Hash
        Backups  = @(Get-ChildItem -LiteralPath "$($Ws.Directory)/backups" -Directory -ErrorAction Ignore | ForEach-Object FullName)
        Current  = [string](& readlink -f -- $Ws.App)
        Journals = @(Get-ChildItem -LiteralPath "$($Ws.State)/journal" -Filter *.jsonl -ErrorAction Ignore | ForEach-Object FullName)
        Served   = Get-Served $Ws
    }
}

function Assert-Recovered($Ws, $Before, [string] $Version, $Result) {
    $served = Get-Served $Ws
    $served.Health | Should-Be 200
    $served.Version | Should-Be $Version
    Test-Path -LiteralPath $Ws.Lock | Should-BeFalse -Because 'the lock is released'
    (Get-FileHash -LiteralPath "$($Ws.App)/.env").Hash | Should-Be $Before.EnvHash -Because 'the shared .env is untouched'
    foreach ($b in $Before.Backups) { Test-Path -LiteralPath "$b/env.backup" | Should-BeTrue -Because "backup $b is kept" }
    Test-Path -LiteralPath $Before.Current -PathType Container | Should-BeTrue -Because 'the release that served is kept'
    if ($Result) {
        if ($Result.ReleaseBefore) { Test-Path -LiteralPath "$($Ws.App)-releases/releases/$($Result.ReleaseBefore)" -PathType Container | Should-BeTrue }
        $Result.JournalPath | Should-NotBeEmptyString
        (Get-Content -LiteralPath $Result.JournalPath -Raw) | Should-MatchString '"step":"run","phase":"end"'
        $backup = $Result.Steps | Where-Object Number -EQ 3
        if ($backup.Outcome -eq 'Succeeded') {
            (Get-FileHash -LiteralPath "$($backup.Detail)/env.backup").Hash | Should-Be $Before.EnvHash -Because 'this run backed up the env file'
        }
    }
}

function Wait-Journal($Ws, [string[]] $Known, [string] $Pattern, [int] $TimeoutSec = 120) {
    $deadline = [DateTime]::UtcNow.AddSeconds($TimeoutSec)
    while ([DateTime]::UtcNow -lt $deadline) {
        foreach ($f in @(Get-ChildItem -LiteralPath "$($Ws.State)/journal" -Filter *.jsonl -ErrorAction Ignore | Where-Object FullName -NotIn $Known)) {
            if ((Get-Content -LiteralPath $f.FullName -Raw) -match $Pattern) { return $f.FullName }
        }
        Start-Sleep -Milliseconds 100
    }
    throw "No new journal in $($Ws.State)/journal matched $Pattern within $TimeoutSec s."
}

function Get-Descendants([int] $Id) {
    $children = @(& ps -o pid= --ppid $Id | ForEach-Object { [int]$_.Trim() })
    foreach ($c in $children) { $c; Get-Descendants $c }
}

Export-ModuleMember -Function 'Get-Served', 'Get-Pm2Pid', 'Get-WsState', 'Assert-Recovered', 'Wait-Journal', 'Get-Descendants'
