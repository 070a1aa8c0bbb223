#Requires -Version 7.2
<#
    What the test services need from this machine, in one place: programs (found, or an error that names the
    install command), processes (started with no pipe tied to this pwsh, run to completion within a time limit,
    signalled, stopped with their descendants), TCP ports on 127.0.0.1, yv-* temp directories, files with a mode,
    lock files and bounded waits. The *.TestServices.psm1 modules import it; it keeps no state of its own.

    Rules every function keeps:
    * every loop is bounded in time and in iterations, and a timeout throws with what explains it (log tails);
    * a missing program is an error naming the exact install command, never a silent skip;
    * only yv-<purpose>-<random> directories (or paths inside one) are ever removed.
#>
Set-StrictMode -Version Latest

# Environment of a docker CLI that must talk to this machine's engine (the socket), whatever the caller's shell
# points DOCKER_HOST or a context at. The legacy builder: buildx is not installed and the legacy builder works offline.
$script:LocalDockerRemove = @('DOCKER_HOST', 'DOCKER_CONTEXT', 'DOCKER_TLS_VERIFY', 'DOCKER_CERT_PATH')
$script:LocalDockerEnvironment = @{ DOCKER_BUILDKIT = '0' }

#region names, directories and files

function Get-YvTempRoot {
    # $env:TMPDIR or /tmp, without a trailing slash.
    $root = $env:TMPDIR
    if ([string]::IsNullOrWhiteSpace($root)) { $root = '/tmp' }
    $root = $root.TrimEnd('/')
    if ($root -eq '') { $root = '/' }
    $root
}

function New-YvRandomString {
    # Cryptographically random; the default alphabet has no look-alike characters.
    param(
        [int] $Length = 24,
        [string] $Alphabet = 'abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789'
    )
    $chars = [char[]]::new($Length)
    for ($i = 0; $i -lt $Length; $i++) {
        $chars[$i] = $Alphabet[[System.Security.Cryptography.RandomNumberGenerator]::GetInt32($Alphabet.Length)]
    }
    -join $chars
}

function New-YvTempDirectory {
    # A fresh "<TMPDIR or /tmp>/yv-<Service>-<10 random>" directory with exactly Mode (default 700).
    param(
        [Parameter(Mandatory)] [ValidatePattern('^[a-z0-9][a-z0-9-]*$')] [string] $Service,
        [System.IO.UnixFileMode] $Mode = 'UserRead, UserWrite, UserExecute',
        [string] $Parent
    )
    if (-not $Parent) { $Parent = Get-YvTempRoot }
    for ($i = 0; $i -lt 20; $i++) {
        $path = Join-Path $Parent ("yv-$Service-" + (New-YvRandomString -Length 10 -Alphabet 'abcdefghijkmnopqrstuvwxyz23456789'))
        if (-not (Test-Path -LiteralPath $path)) {
            [void][System.IO.Directory]::CreateDirectory($path, $Mode)
            [System.IO.File]::SetUnixFileMode($path, $Mode)   # umask must not narrow it
            return $path
        }
    }
    throw "Could not create a fresh yv-$Service-* directory under '$Parent'."
}

function Remove-YvDirectory {
    # Only ever removes a directory New-YvTempDirectory made (yv-<service>-<10 random>) or a path inside one, never
    # anything else: not /tmp/yv-sshd-users (the machine's test passwords), not a yv-* directory someone named by hand.
    param([string] $Path)
    if ([string]::IsNullOrWhiteSpace($Path)) { return }
    if (-not (Test-Path -LiteralPath $Path)) { return }
    $full = [System.IO.Path]::GetFullPath($Path)
    if ($full -notmatch '/yv-[a-z0-9-]+-[a-z0-9]{10}(/|$)') {
        throw "Refusing to remove '$full': it is not inside a yv-* test directory."
    }
    for ($i = 0; $i -lt 5; $i++) {
        try { Remove-Item -LiteralPath $full -Recurse -Force -ErrorAction Stop; return }
        catch { Start-Sleep -Milliseconds 200 }
    }
    Remove-Item -LiteralPath $full -Recurse -Force
}

function Write-YvFile {
    # Writes Text (LF line ends) to a new file that has Mode from its creation on, so a secret is never readable by
    # others, not even for a moment; an existing file is replaced. Creates the parent directory.
    param(
        [Parameter(Mandatory)] [string] $Path,
        [Parameter(Mandatory)] [AllowEmptyString()] [string] $Text,
        [System.IO.UnixFileMode] $Mode = 'UserRead, UserWrite, GroupRead, OtherRead'
    )
    [void][System.IO.Directory]::CreateDirectory([System.IO.Path]::GetDirectoryName($Path))
    if (Test-Path -LiteralPath $Path) { Remove-Item -LiteralPath $Path -Force }
    $options = [System.IO.FileStreamOptions]::new()
    $options.Mode = [System.IO.FileMode]::CreateNew
    $options.Access = [System.IO.FileAccess]::Write
    $options.UnixCreateMode = $Mode
    $writer = [System.IO.StreamWriter]::new($Path, [System.Text.UTF8Encoding]::new($false), $options)
    try { $writer.Write($Text.Replace("`r`n", "`n")) } finally { $writer.Dispose() }
    [System.IO.File]::SetUnixFileMode($Path, $Mode)   # umask must not narrow it
}

function ConvertTo-YvDotEnvValue {
    # A value as dotenv reads it back unchanged: bare when plain, else single-quoted; throws for what it cannot quote.
    param([string] $Value)
    if ($Value -match '^[A-Za-z0-9_./:@%+=,~-]*$') { return $Value }
    if ($Value -notmatch "['\r\n]") { return "'$Value'" }
    throw "The .env value '$($Value.Substring(0, [math]::Min(8, $Value.Length)))...' contains characters this helper cannot quote for dotenv."
}

function Get-YvLogTail {
    param([string[]] $Path, [int] $Lines = 30)
    $parts = foreach ($p in $Path) {
        if ($p -and (Test-Path -LiteralPath $p -PathType Leaf)) {
            $tail = @(Get-Content -LiteralPath $p -Tail $Lines -ErrorAction SilentlyContinue)
            "--- last $($tail.Count) line(s) of ${p}:`n" + ($tail -join "`n")
        } elseif ($p) {
            "--- $p does not exist"
        }
    }
    $parts -join "`n"
}

function Get-YvProperty {
    # StrictMode-safe property read of an object or a dictionary; $null when there is no such property.
    param($InputObject, [string] $Name)
    if ($null -eq $InputObject) { return $null }
    if ($InputObject -is [System.Collections.IDictionary]) { return $InputObject[$Name] }
    $p = $InputObject.PSObject.Properties[$Name]
    if ($p) { $p.Value } else { $null }
}

function Enter-YvFileLock {
    # An exclusive lock on Path (held until the returned stream is disposed), waiting at most TimeoutSec for another
    # test run that holds it.
    param(
        [Parameter(Mandatory)] [string] $Path,
        [Parameter(Mandatory)] [double] $TimeoutSec,
        [Parameter(Mandatory)] [string] $What
    )
    [void][System.IO.Directory]::CreateDirectory([System.IO.Path]::GetDirectoryName($Path))
    $deadline = [DateTime]::UtcNow.AddSeconds($TimeoutSec)
    $maxIterations = [int][math]::Ceiling($TimeoutSec * 1000 / 200) + 10
    for ($i = 0; $i -lt $maxIterations; $i++) {
        try { return [System.IO.File]::Open($Path, 'OpenOrCreate', 'ReadWrite', 'None') }
        catch [System.IO.IOException] {
            if ([DateTime]::UtcNow -ge $deadline) { break }
            Start-Sleep -Milliseconds 200
        }
    }
    throw "${What}: $Path stayed locked for $TimeoutSec s (another test run holds it)."
}

#endregion

#region programs and processes

function Resolve-YvProgram {
    # The full path of a program (Candidates first, then PATH, then /usr/sbin and /sbin, which a non-login PATH may
    # lack), or an error naming the exact install command.
    param(
        [Parameter(Mandatory)] [string] $Name,
        [Parameter(Mandatory)] [string] $Install,
        [string[]] $Candidates = @()
    )
    foreach ($c in $Candidates) {
        if (Test-Path -LiteralPath $c -PathType Leaf) { return $c }
    }
    $cmd = Get-Command -Name $Name -CommandType Application -ErrorAction SilentlyContinue | Select-Object -First 1
    if ($cmd) { return $cmd.Source }
    foreach ($dir in '/usr/sbin', '/sbin') {
        if (Test-Path -LiteralPath "$dir/$Name" -PathType Leaf) { return "$dir/$Name" }
    }
    $where = (@($Candidates) + 'PATH', '/usr/sbin', '/sbin') -join ', '
    throw "The test services need the program '$Name', which is not installed (looked in $where). Install it with: $Install"
}

function Start-YvBackgroundProcess {
    # Starts FilePath with stdin from InputFile (default /dev/null), stdout appended to LogFile and stderr appended to
    # ErrorLogFile (default: LogFile too), so no pipe ties the child to this pwsh. The returned Process is the program
    # itself (sh execs into it). -LocalDocker: a docker CLI that talks to this machine's engine (see the top).
    param(
        [Parameter(Mandatory)] [string] $FilePath,
        [string[]] $ArgumentList = @(),
        [Parameter(Mandatory)] [string] $LogFile,
        [string] $ErrorLogFile,
        [string] $WorkingDirectory,
        [hashtable] $Environment,
        [string[]] $RemoveEnvironment = @(),
        [string] $InputFile = '/dev/null',
        [switch] $LocalDocker
    )
    if (-not $ErrorLogFile) { $ErrorLogFile = $LogFile }
    $psi = [System.Diagnostics.ProcessStartInfo]::new('/bin/sh')
    $psi.UseShellExecute = $false
    $redirect = if ($ErrorLogFile -eq $LogFile) { 'exec "$@" <"$in" >>"$log" 2>&1' } else { 'exec "$@" <"$in" >>"$log" 2>>"$err"' }
    foreach ($a in @('-c', ('log=$1; err=$2; in=$3; shift 3; ' + $redirect), 'yv-process', $LogFile, $ErrorLogFile, $InputFile, $FilePath)) {
        $psi.ArgumentList.Add($a)
    }
    foreach ($a in $ArgumentList) { $psi.ArgumentList.Add([string]$a) }
    if (-not $WorkingDirectory) {
        $loc = Get-Location
        $WorkingDirectory = if ($loc.Provider.Name -eq 'FileSystem') { $loc.ProviderPath } else { '/' }
    }
    $psi.WorkingDirectory = $WorkingDirectory
    if ($LocalDocker) {
        foreach ($k in $script:LocalDockerRemove) { [void]$psi.Environment.Remove($k) }
        foreach ($k in $script:LocalDockerEnvironment.Keys) { $psi.Environment[$k] = $script:LocalDockerEnvironment[$k] }
    }
    foreach ($k in $RemoveEnvironment) { [void]$psi.Environment.Remove($k) }
    if ($Environment) {
        foreach ($k in $Environment.Keys) { $psi.Environment[[string]$k] = [string]$Environment[$k] }
    }
    [System.Diagnostics.Process]::Start($psi)
}

function Invoke-YvProcess {
    # Runs a program to completion with a time limit. Output goes through files, so a daemon the program leaves
    # behind cannot hold a pipe open. Returns ExitCode, Output (stdout, then stderr), StdOut, Seconds. Throws (with the
    # output tail) on timeout, and on a non-zero exit code unless -AllowFailure.
    param(
        [Parameter(Mandatory)] [string] $FilePath,
        [string[]] $ArgumentList = @(),
        [string] $WorkingDirectory,
        [hashtable] $Environment,
        [string[]] $RemoveEnvironment = @(),
        [string] $InputFile = '/dev/null',
        [int] $TimeoutSec = 60,
        [string] $Description,
        [switch] $AllowFailure,
        [switch] $LocalDocker
    )
    if (-not $Description) { $Description = (@($FilePath) + $ArgumentList) -join ' ' }
    $base = Join-Path (Get-YvTempRoot) ('yv-cmd-' + (New-YvRandomString -Length 12 -Alphabet 'abcdefghijkmnopqrstuvwxyz23456789'))
    $out = "$base.out"
    $err = "$base.err"
    $read = { param([string] $File) if (Test-Path -LiteralPath $File) { [System.IO.File]::ReadAllText($File) } else { '' } }
    $tail = { param([string] $Text) (@($Text.TrimEnd() -split "`n") | Select-Object -Last 40) -join "`n" }
    $sw = [System.Diagnostics.Stopwatch]::StartNew()
    try {
        $p = Start-YvBackgroundProcess -FilePath $FilePath -ArgumentList $ArgumentList -LogFile $out -ErrorLogFile $err `
            -WorkingDirectory $WorkingDirectory -Environment $Environment -RemoveEnvironment $RemoveEnvironment -InputFile $InputFile -LocalDocker:$LocalDocker
        if (-not $p.WaitForExit($TimeoutSec * 1000)) {
            try { $p.Kill($true) } catch { Write-Verbose "kill after timeout: $_" }
            [void]$p.WaitForExit(5000)
            $o = & $read $out
            $e = & $read $err
            throw "'$Description' did not finish within $TimeoutSec s and was killed. Last lines of its output:`n$(& $tail ($o + $e))"
        }
        $p.WaitForExit()
        $o = & $read $out
        $e = & $read $err
        $result = [pscustomobject]@{ ExitCode = $p.ExitCode; Output = $o + $e; StdOut = $o; Seconds = [math]::Round($sw.Elapsed.TotalSeconds, 2) }
        if ($p.ExitCode -ne 0 -and -not $AllowFailure) {
            throw "'$Description' failed with exit code $($p.ExitCode). Last lines of its output:`n$(& $tail ($o + $e))"
        }
        $result
    } finally {
        Remove-Item -LiteralPath $out, $err -Force -ErrorAction SilentlyContinue
    }
}

function Invoke-YvDocker {
    # The docker CLI against this machine's engine (Invoke-YvProcess -LocalDocker).
    param([Parameter(Mandatory)] [string[]] $ArgumentList, [int] $TimeoutSec = 60, [switch] $AllowFailure, [string] $Description)
    $docker = Resolve-YvProgram -Name docker -Install 'apt-get install -y docker.io'
    if (-not $Description) { $Description = "docker $($ArgumentList -join ' ')" }
    Invoke-YvProcess -FilePath $docker -ArgumentList $ArgumentList -TimeoutSec $TimeoutSec -AllowFailure:$AllowFailure -LocalDocker -Description $Description
}

function Test-YvProcessAlive {
    # True while the process exists and is not a zombie.
    param([int] $ProcessId, [System.Diagnostics.Process] $Process)
    if ($Process) {
        try { if ($Process.HasExited) { return $false } } catch { Write-Verbose "HasExited: $_" }
    }
    if ($ProcessId -le 0) { return $false }
    try { $stat = [System.IO.File]::ReadAllText("/proc/$ProcessId/stat") } catch { return $false }
    # "pid (comm) S ..."; comm may contain spaces/parens, so read the state after the last ')'.
    $state = $stat.Substring($stat.LastIndexOf(')') + 2, 1)
    $state -notin @('Z', 'X')
}

function Get-YvProcessCommandLine {
    # The command line of a process, arguments separated by spaces; '' when it is gone.
    param([int] $ProcessId)
    try { ([System.IO.File]::ReadAllText("/proc/$ProcessId/cmdline")).Replace([char]0, ' ').Trim() } catch { '' }
}

function Find-YvProcess {
    # Ids of the live processes (not zombies, never this pwsh) whose command line ($_) satisfies Where.
    param([Parameter(Mandatory)] [scriptblock] $Where)
    foreach ($d in [System.IO.Directory]::EnumerateDirectories('/proc')) {
        $name = [System.IO.Path]::GetFileName($d)
        if ($name -notmatch '^\d+$' -or [int]$name -eq $PID) { continue }
        $cmdline = Get-YvProcessCommandLine -ProcessId ([int]$name)
        if ($cmdline -and (@($cmdline) | Where-Object $Where) -and (Test-YvProcessAlive -ProcessId ([int]$name))) { [int]$name }
    }
}

function Get-YvDescendantProcessIds {
    param([int] $ProcessId)
    $children = @{}
    foreach ($d in [System.IO.Directory]::EnumerateDirectories('/proc')) {
        $name = [System.IO.Path]::GetFileName($d)
        if ($name -notmatch '^\d+$') { continue }
        try { $stat = [System.IO.File]::ReadAllText("$d/stat") } catch { continue }
        $rest = $stat.Substring($stat.LastIndexOf(')') + 2).Split(' ')
        $ppid = [int]$rest[1]
        if (-not $children.ContainsKey($ppid)) { $children[$ppid] = [System.Collections.Generic.List[int]]::new() }
        $children[$ppid].Add([int]$name)
    }
    $result = [System.Collections.Generic.List[int]]::new()
    $queue = [System.Collections.Generic.Queue[int]]::new()
    $queue.Enqueue($ProcessId)
    while ($queue.Count -gt 0 -and $result.Count -lt 10000) {
        $p = $queue.Dequeue()
        if ($children.ContainsKey($p)) {
            foreach ($c in $children[$p]) { $result.Add($c); $queue.Enqueue($c) }
        }
    }
    , $result.ToArray()
}

function Send-YvSignal {
    param([int] $ProcessId, [string] $Signal = 'TERM')
    if ($ProcessId -le 0) { return }
    & /bin/sh -c 'kill -s "$1" "$2" 2>/dev/null' yv-kill $Signal $ProcessId
}

function Wait-YvProcessExit {
    param([int] $ProcessId, [System.Diagnostics.Process] $Process, [double] $TimeoutSec)
    $deadline = [DateTime]::UtcNow.AddSeconds($TimeoutSec)
    for ($i = 0; $i -lt 100000; $i++) {
        if (-not (Test-YvProcessAlive -ProcessId $ProcessId -Process $Process)) { return $true }
        if ([DateTime]::UtcNow -ge $deadline) { return $false }
        Start-Sleep -Milliseconds 50
    }
    $false
}

function Stop-YvProcessTree {
    # SIGTERM (or -Signal) to the process, wait up to GraceSec, then SIGKILL; afterwards the same for any
    # descendants that are still alive (e.g. sshd session children). Idempotent.
    param(
        [int] $ProcessId,
        [System.Diagnostics.Process] $Process,
        [double] $GraceSec = 10,
        [string] $Signal = 'TERM'
    )
    if (-not $ProcessId -and $Process) { $ProcessId = $Process.Id }
    if ($ProcessId -le 0) { return }
    $descendants = @()
    if (Test-YvProcessAlive -ProcessId $ProcessId -Process $Process) {
        $descendants = Get-YvDescendantProcessIds -ProcessId $ProcessId
        Send-YvSignal -ProcessId $ProcessId -Signal $Signal
        if (-not (Wait-YvProcessExit -ProcessId $ProcessId -Process $Process -TimeoutSec $GraceSec)) {
            Send-YvSignal -ProcessId $ProcessId -Signal KILL
            [void](Wait-YvProcessExit -ProcessId $ProcessId -Process $Process -TimeoutSec 5)
        }
    }
    foreach ($d in $descendants) {
        if (Test-YvProcessAlive -ProcessId $d) {
            Send-YvSignal -ProcessId $d -Signal TERM
            if (-not (Wait-YvProcessExit -ProcessId $d -TimeoutSec 3)) {
                Send-YvSignal -ProcessId $d -Signal KILL
                [void](Wait-YvProcessExit -ProcessId $d -TimeoutSec 2)
            }
        }
    }
}

#endregion

#region ports and waits

function Get-FreeTcpPort {
    <# .SYNOPSIS A TCP port that is free on 127.0.0.1 right now (the OS picks it). #>
    [CmdletBinding()]
    [OutputType([int])]
    param()
    $ErrorActionPreference = 'Stop'
    $l = [System.Net.Sockets.TcpListener]::new([System.Net.IPAddress]::Loopback, 0)
    try {
        $l.Start()
        [int]([System.Net.IPEndPoint]$l.LocalEndpoint).Port
    } finally {
        $l.Stop()
    }
}

function Test-YvTcpPort {
    # True when something accepts a connection on 127.0.0.1:Port within TimeoutMs.
    param([int] $Port, [int] $TimeoutMs = 500)
    $c = [System.Net.Sockets.TcpClient]::new()
    try {
        $task = $c.ConnectAsync('127.0.0.1', $Port)
        ($task.Wait($TimeoutMs)) -and $c.Connected
    } catch {
        $false
    } finally {
        $c.Dispose()
    }
}

function Wait-YvCondition {
    # Polls Condition until it returns $true; bounded by TimeoutSec and an iteration count. Throws on timeout, or when
    # the watched Process exits first, with the tails of LogFile and what Explain says (diagnostics collected only then).
    param(
        [Parameter(Mandatory)] [scriptblock] $Condition,
        [Parameter(Mandatory)] [double] $TimeoutSec,
        [Parameter(Mandatory)] [string] $What,
        [System.Diagnostics.Process] $Process,
        [string[]] $LogFile = @(),
        [scriptblock] $Explain,
        [int] $IntervalMs = 100
    )
    $why = {
        $text = @(Get-YvLogTail -Path $LogFile)
        if ($Explain) { $text += try { & $Explain } catch { "(could not collect diagnostics: $_)" } }
        ($text | Where-Object { $_ }) -join "`n"
    }
    $sw = [System.Diagnostics.Stopwatch]::StartNew()
    $maxIterations = [int][math]::Ceiling($TimeoutSec * 1000 / [math]::Max($IntervalMs, 1)) + 10
    for ($i = 0; $i -lt $maxIterations; $i++) {
        if (& $Condition) { return }
        if ($Process -and $Process.HasExited) {
            throw "$What`: the process exited with code $($Process.ExitCode) before it was ready.`n$(& $why)".TrimEnd()
        }
        if ($sw.Elapsed.TotalSeconds -ge $TimeoutSec) { break }
        Start-Sleep -Milliseconds $IntervalMs
    }
    throw "$What`: not ready within $TimeoutSec s.`n$(& $why)".TrimEnd()
}

#endregion

Export-ModuleMember -Function @(
    'Get-YvTempRoot', 'New-YvRandomString', 'New-YvTempDirectory', 'Remove-YvDirectory', 'Write-YvFile', 'ConvertTo-YvDotEnvValue'
    'Get-YvLogTail', 'Get-YvProperty', 'Enter-YvFileLock'
    'Resolve-YvProgram', 'Start-YvBackgroundProcess', 'Invoke-YvProcess', 'Invoke-YvDocker'
    'Test-YvProcessAlive', 'Get-YvProcessCommandLine', 'Find-YvProcess', 'Get-YvDescendantProcessIds', 'Send-YvSignal', 'Wait-YvProcessExit', 'Stop-YvProcessTree'
    'Get-FreeTcpPort', 'Test-YvTcpPort', 'Wait-YvCondition'
)
