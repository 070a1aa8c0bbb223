#Requires -Version 7.2
<#
    PM2 for the Pester suites: a throwaway PM2_HOME per suite, owned by the user the daemon runs as (the SSH
    test user yvops by default, so the same daemon is reachable locally as root and over SSH as yvops), the pm2
    CLI run as that user with a clean environment, and a stop that leaves no God daemon or app process behind.
    Never touches ~/.pm2: every pm2 call here has PM2_HOME set. Linux only, run as root (like YieldVault.TestServices).

    PM2 facts these helpers rely on (PM2 7.0.4):
    * any pm2 command, even "pm2 --version" or "pm2 jlist", spawns a God daemon for its PM2_HOME if none runs;
    * the daemon outlives the command (it daemonizes; PID 1 here does not reap, so a killed daemon stays a zombie);
    * "pm2 kill" stops the daemon and every app it runs.
#>
Set-StrictMode -Version Latest
Import-Module (Join-Path $PSScriptRoot 'TestMachine.psm1')

$script:CleanPath = '/usr/local/bin:/usr/bin:/bin'

function New-TestPm2Workspace {
    <#
    .SYNOPSIS A fresh <tmp>/yv-pm2-* directory (mode 755) owned by -User, with PM2_HOME at <dir>/pm2 (not created:
              the first pm2 command creates it as the user that runs it).
    .OUTPUTS Object with Directory, Pm2Home, User, Home (the user's home directory).
    #>
    [CmdletBinding()]
    param([string] $User = 'yvops')
    $ErrorActionPreference = 'Stop'
    $getent = Resolve-YvProgram -Name getent -Install 'apt-get install -y libc-bin' -Candidates '/usr/bin/getent'
    $entry = (Invoke-YvProcess -FilePath $getent -ArgumentList 'passwd', $User -AllowFailure -TimeoutSec 10).StdOut.Trim()
    if (-not $entry) { throw "New-TestPm2Workspace: user '$User' does not exist (Start-TestSshd creates yvops)." }
    $dir = New-YvTempDirectory -Service pm2 -Mode 'UserRead, UserWrite, UserExecute, GroupRead, GroupExecute, OtherRead, OtherExecute'
    try { [void](Invoke-YvProcess -FilePath 'chown' -ArgumentList "$User`:", $dir -TimeoutSec 10 -Description "New-TestPm2Workspace: chown $User $dir") }
    catch { Remove-YvDirectory -Path $dir; throw }
    [pscustomobject]@{
        PSTypeName = 'YieldVault.TestServices.Pm2Workspace'
        Directory  = $dir
        Pm2Home    = Join-Path $dir 'pm2'
        User       = $User
        Home       = ($entry -split ':')[5]
    }
}

function Invoke-TestPm2 {
    <#
    .SYNOPSIS Runs the pm2 CLI as the workspace's user with only PATH, HOME and PM2_HOME set; bounded in time.
    .OUTPUTS Object with ExitCode and Output (stdout and stderr). Throws on timeout, and on failure unless -AllowFailure.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)] $Workspace,
        [Parameter(Mandatory)] [string[]] $ArgumentList,
        [string] $WorkingDirectory = '/',
        [int] $TimeoutSec = 30,
        [switch] $AllowFailure
    )
    $ErrorActionPreference = 'Stop'
    $pm2 = Resolve-YvProgram -Name pm2 -Install 'npm install -g pm2 (or ./build.ps1 -Task Bootstrap)' -Candidates '/usr/bin/pm2'
    $runuser = Resolve-YvProgram -Name runuser -Install 'apt-get install -y util-linux' -Candidates '/usr/sbin/runuser', '/sbin/runuser'
    $r = Invoke-YvProcess -FilePath $runuser -WorkingDirectory $WorkingDirectory -TimeoutSec $TimeoutSec -AllowFailure:$AllowFailure `
        -Description "pm2 $($ArgumentList -join ' ') (as $($Workspace.User))" -ArgumentList (@(
            '-u', $Workspace.User, '--', '/usr/bin/env', '-i', "PATH=$script:CleanPath", "HOME=$($Workspace.Home)", "PM2_HOME=$($Workspace.Pm2Home)", $pm2) + $ArgumentList)
    [pscustomobject]@{ ExitCode = $r.ExitCode; Output = $r.Output }
}

function Get-TestPm2List {
    <# .SYNOPSIS The workspace daemon's process list (pm2 jlist as its user), as objects. Spawns a daemon if none runs. #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] $Workspace)
    $r = Invoke-TestPm2 -Workspace $Workspace -ArgumentList 'jlist'
    $json = @($r.Output -split "`n" | Where-Object { $_ -match '^\[(\{|\])' }) | Select-Object -Last 1
    if (-not $json) { throw "pm2 jlist printed no process list:`n$($r.Output)" }
    @(ConvertFrom-Json -InputObject $json -NoEnumerate) | ForEach-Object { $_ }
}

function Get-TestPm2Daemon {
    <# .SYNOPSIS Process ids of live PM2 God daemons serving this PM2_HOME (zombies do not count). #>
    [CmdletBinding()]
    [OutputType([int])]
    param([Parameter(Mandatory)] [string] $Pm2Home)
    Find-YvProcess -Where { $_ -like "PM2 v*God Daemon ($Pm2Home)*" }
}

function Get-TestPm2WorkspaceProcess {
    <# .SYNOPSIS Process ids of live processes whose command line mentions the workspace directory (apps, daemons). #>
    [CmdletBinding()]
    [OutputType([int])]
    param([Parameter(Mandatory)] $Workspace)
    Find-YvProcess -Where { $_.Contains($Workspace.Directory) }
}

function Stop-TestPm2 {
    <#
    .SYNOPSIS "pm2 kill" for the workspace's PM2_HOME (only if a daemon runs: pm2 kill would spawn one first), then
              SIGKILL for any daemon or app process of the workspace still alive. Idempotent.
    .PARAMETER RemoveDirectory Also delete the workspace directory.
    .OUTPUTS The ids of processes that survived "pm2 kill" and had to be killed (none when PM2 cleaned up itself).
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] [AllowNull()] $Workspace, [switch] $RemoveDirectory)
    $ErrorActionPreference = 'Stop'
    if ($null -eq $Workspace) { return }
    if (@(Get-TestPm2Daemon -Pm2Home $Workspace.Pm2Home).Count -gt 0) {
        [void](Invoke-TestPm2 -Workspace $Workspace -ArgumentList 'kill' -AllowFailure -TimeoutSec 30)
    }
    $deadline = [DateTime]::UtcNow.AddSeconds(5)
    $left = @()
    for ($i = 0; $i -lt 100; $i++) {
        $left = @(@(Get-TestPm2Daemon -Pm2Home $Workspace.Pm2Home) + @(Get-TestPm2WorkspaceProcess -Workspace $Workspace) | Sort-Object -Unique)
        if ($left.Count -eq 0 -or [DateTime]::UtcNow -ge $deadline) { break }
        Start-Sleep -Milliseconds 100
    }
    foreach ($id in $left) { Send-YvSignal -ProcessId $id -Signal KILL }
    if ($RemoveDirectory) { Remove-YvDirectory -Path $Workspace.Directory }
    $left
}

Export-ModuleMember -Function New-TestPm2Workspace, Invoke-TestPm2, Get-TestPm2List, Get-TestPm2Daemon, Get-TestPm2WorkspaceProcess, Stop-TestPm2
