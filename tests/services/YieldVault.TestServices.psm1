#Requires -Version 7.2
<#
    Real services on 127.0.0.1 for the YieldVault.Ops Pester suites: OpenSSH sshd, dockerd, PostgreSQL,
    the Stellar RPC stand-in and the sample Node backend. See README.md beside this file.

    Rules every function keeps:
    * every Start is bounded in time and throws with the tail of the service's log on timeout or early exit;
    * a missing program is an error that names the exact install command, never a silent skip;
    * per-call state lives in "<TMPDIR or /tmp>/yv-<service>-<random>", and the returned object carries
      everything its Stop needs; every Stop is idempotent and removes that directory.
#>
Set-StrictMode -Version Latest
Import-Module (Join-Path $PSScriptRoot 'TestMachine.psm1')

$script:ServicesRoot = $PSScriptRoot
$script:RepoRoot = [System.IO.Path]::GetFullPath((Join-Path $PSScriptRoot '../..'))
$script:Started = [System.Collections.Generic.List[object]]::new()
$script:DockerSocketPath = '/var/run/docker.sock'
$script:DockerdLogFile = '/tmp/yv-dockerd.log'
$script:DockerdLockFile = '/tmp/yv-dockerd.lock'
$script:BackendConfigNames = @('PORT', 'HOST', 'NODE_ENV', 'STELLAR_RPC_URL', 'VAULT_CONTRACT_ID', 'DATABASE_URL', 'ADMIN_API_KEY',
    'LOG_FILE', 'RATE_LIMIT_MAX', 'RATE_LIMIT_WINDOW_MS', 'SHUTDOWN_DRAIN_MS', 'IGNORE_SIGTERM', 'APP_COMMIT')

#region private helpers (the machine-level ones are in TestMachine.psm1)

function Register-YvStarted { param($Object) $script:Started.Add($Object) }
function Unregister-YvStarted { param($Object) [void]$script:Started.Remove($Object) }

function New-YvStartedService {
    # What a Start returns: PSTypeName, the service's own properties, then Process and Pid (when it is one process),
    # Directory and StartSeconds; registered for Stop-AllTestServices.
    param(
        [string] $TypeName,
        [System.Collections.Specialized.OrderedDictionary] $Properties,
        [System.Diagnostics.Process] $Process,
        [string] $Directory,
        [System.Diagnostics.Stopwatch] $Stopwatch
    )
    $all = [ordered]@{ PSTypeName = "YieldVault.TestServices.$TypeName" }
    foreach ($k in $Properties.Keys) { $all[$k] = $Properties[$k] }
    if ($Process) { $all['Process'] = $Process; $all['Pid'] = $Process.Id }
    $all['Directory'] = $Directory
    $all['StartSeconds'] = [math]::Round($Stopwatch.Elapsed.TotalSeconds, 2)
    $result = [pscustomobject]$all
    Register-YvStarted $result
    $result
}

function Undo-YvStart {
    # After a failed Start: stop what it started (when it got that far) and remove its directory.
    param([System.Diagnostics.Process] $Process, [string] $Directory)
    if ($Process) { Stop-YvProcessTree -Process $Process -GraceSec 3 }
    Remove-YvDirectory -Path $Directory
}

function Stop-YvStartedProcess {
    # The Stop of a service that is one process with a directory of its own: stop the process tree, remove the
    # directory, forget the object. Idempotent.
    param($Service, [double] $GraceSec)
    $ErrorActionPreference = 'Stop'
    Stop-YvProcessTree -ProcessId ([int](Get-YvProperty $Service 'Pid')) -Process (Get-YvProperty $Service 'Process') -GraceSec $GraceSec
    Remove-YvDirectory -Path (Get-YvProperty $Service 'Directory')
    Unregister-YvStarted $Service
}

function Get-YvUserPassword {
    # One random password per test user and machine, kept in a root-only file, so that two test runs at
    # the same time do not overwrite each other's password.
    param([string] $User)
    # A fixed place (not TMPDIR): runs with different TMPDIRs must still agree on the password.
    $dir = '/tmp/yv-sshd-users'
    if (-not (Test-Path -LiteralPath $dir)) { [void][System.IO.Directory]::CreateDirectory($dir, [System.IO.UnixFileMode]'UserRead, UserWrite, UserExecute') }
    $file = Join-Path $dir "$User.password"
    if (Test-Path -LiteralPath $file) {
        $pw = [System.IO.File]::ReadAllText($file).Trim()
        if ($pw.Length -ge 16) { return $pw }
    }
    $pw = New-YvRandomString -Length 24
    $tmp = "$file.$PID.tmp"
    Write-YvFile -Path $tmp -Text $pw -Mode 'UserRead, UserWrite'
    [System.IO.File]::Move($tmp, $file, $true)
    $pw
}

function Test-YvDockerSocket {
    # GET /_ping over the unix socket; $true when the engine answers 200.
    param([string] $Path = $script:DockerSocketPath)
    if (-not (Test-Path -LiteralPath $Path)) { return $false }
    $s = [System.Net.Sockets.Socket]::new([System.Net.Sockets.AddressFamily]::Unix, [System.Net.Sockets.SocketType]::Stream, [System.Net.Sockets.ProtocolType]::Unspecified)
    try {
        $s.SendTimeout = 2000
        $s.ReceiveTimeout = 2000
        $s.Connect([System.Net.Sockets.UnixDomainSocketEndPoint]::new($Path))
        [void]$s.Send([System.Text.Encoding]::ASCII.GetBytes("GET /_ping HTTP/1.1`r`nHost: docker`r`nConnection: close`r`n`r`n"))
        $buf = [byte[]]::new(512)
        $n = $s.Receive($buf)
        [System.Text.Encoding]::ASCII.GetString($buf, 0, $n).StartsWith('HTTP/1.1 200')
    } catch {
        $false
    } finally {
        $s.Dispose()
    }
}

function Get-YvEngineShimProcessIds {
    # The containerd-shims of the engine on /var/run/docker.sock (namespace moby), not those of any other containerd.
    Find-YvProcess -Where { $_ -match '^\S*containerd-shim' -and $_ -match '-namespace moby' -and $_ -match '/var/run/docker/containerd/' }
}

function Get-YvPidFromFile {
    param([string] $Path)
    try {
        $first = @(Get-Content -LiteralPath $Path -TotalCount 1 -ErrorAction Stop)[0]
        [int]$first.Trim()
    } catch { 0 }
}

function Remove-YvStalePidFile {
    # Removes a pid file unless it names a live process whose program is -Program (pids are reused after a kill).
    param([Parameter(Mandatory)] [string] $Path, [Parameter(Mandatory)] [string] $Program)
    if (-not (Test-Path -LiteralPath $Path)) { return }
    $procId = Get-YvPidFromFile $Path
    if ($procId -gt 0 -and (Test-YvProcessAlive -ProcessId $procId)) {
        $exe = @((Get-YvProcessCommandLine -ProcessId $procId) -split ' ')[0]
        if ([System.IO.Path]::GetFileName($exe) -eq $Program) { return }
    }
    Write-Verbose "Removing the stale pid file $Path (pid $procId is not a running $Program)"
    Remove-Item -LiteralPath $Path -Force -ErrorAction SilentlyContinue
}

function Get-YvPostgresBin {
    $dirs = @(Get-ChildItem -Path '/usr/lib/postgresql/*/bin' -Directory -ErrorAction SilentlyContinue |
            Where-Object { (Test-Path (Join-Path $_.FullName 'initdb')) -and (Test-Path (Join-Path $_.FullName 'pg_ctl')) } |
            Sort-Object { [int]($_.Parent.Name -replace '\D', '0') } -Descending)
    if (-not $dirs) {
        throw "The test services need PostgreSQL server binaries (initdb, pg_ctl under /usr/lib/postgresql/*/bin), which are not installed. Install them with: apt-get install -y postgresql"
    }
    $dirs[0].FullName
}

#endregion

#region sshd

function Start-TestSshd {
    <#
    .SYNOPSIS Starts a throwaway OpenSSH sshd on 127.0.0.1 with its own host keys, user keys and known_hosts.
    .PARAMETER ConfigLines sshd_config lines put before the defaults (sshd takes the first value of a keyword), e.g.
             'LogLevel DEBUG1' or 'AllowTcpForwarding no'; a Match block must be the last of them.
    .OUTPUTS Object with HostName, Port, User, UserKeyFile, UserRsaKeyFile, Credential, KnownHostsFile,
             WrongKnownHostsFile, HostKeyFingerprint, HostKeyLines, Pid, Directory, LogFile, ConfigFile, Process, StartSeconds.
    #>
    [CmdletBinding()]
    param(
        [string] $User = 'yvops',
        [int] $Port,
        [string[]] $ConfigLines = @(),
        [int] $TimeoutSec = 15
    )
    Set-StrictMode -Version Latest
    $ErrorActionPreference = 'Stop'
    $sw = [System.Diagnostics.Stopwatch]::StartNew()

    $sshd = Resolve-YvProgram -Name sshd -Install 'apt-get install -y openssh-server' -Candidates '/usr/sbin/sshd'
    $keygen = Resolve-YvProgram -Name ssh-keygen -Install 'apt-get install -y openssh-client'
    $useradd = Resolve-YvProgram -Name useradd -Install 'apt-get install -y passwd' -Candidates '/usr/sbin/useradd'
    $chpasswd = Resolve-YvProgram -Name chpasswd -Install 'apt-get install -y passwd' -Candidates '/usr/sbin/chpasswd'
    $runuser = Resolve-YvProgram -Name runuser -Install 'apt-get install -y util-linux' -Candidates '/usr/sbin/runuser', '/sbin/runuser'
    $getent = Resolve-YvProgram -Name getent -Install 'apt-get install -y libc-bin' -Candidates '/usr/bin/getent'
    if ($User -notmatch '^[a-z_][a-z0-9_-]{0,30}$') { throw "Start-TestSshd: '$User' is not a valid user name for a test user." }
    if ($User -eq 'root') { throw 'Start-TestSshd: the test sshd does not allow root (PermitRootLogin no); use a plain user such as yvops.' }
    if (-not $Port) { $Port = Get-FreeTcpPort }

    # 755: the test user must be able to reach authorized_keys (sshd reads it with the user's uid).
    $dir = New-YvTempDirectory -Service sshd -Mode 'UserRead, UserWrite, UserExecute, GroupRead, GroupExecute, OtherRead, OtherExecute'
    $proc = $null
    try {
        # The test user: a plain home with Debian's skeleton, so an SSH command does not pay for root's .bashrc.
        $exists = Invoke-YvProcess -FilePath $getent -ArgumentList 'passwd', $User -AllowFailure -TimeoutSec 10
        if ($exists.ExitCode -ne 0) {
            # Two test runs (or Pester lanes) can add the user at the same time: the one that loses finds it there.
            $added = Invoke-YvProcess -FilePath $useradd -ArgumentList '-m', '-s', '/bin/bash', $User -TimeoutSec 30 -AllowFailure
            if ($added.ExitCode -ne 0 -and (Invoke-YvProcess -FilePath $getent -ArgumentList 'passwd', $User -AllowFailure -TimeoutSec 10).ExitCode -ne 0) {
                throw "useradd $User failed (exit $($added.ExitCode)): $($added.Output)"
            }
        }
        Write-Verbose "Start-TestSshd: user done at $([math]::Round($sw.Elapsed.TotalSeconds, 2)) s"
        $password = Get-YvUserPassword -User $User
        $pwInput = Join-Path $dir 'chpasswd.in'
        [System.IO.File]::WriteAllText($pwInput, "${User}:$password`n")
        [System.IO.File]::SetUnixFileMode($pwInput, [System.IO.UnixFileMode]'UserRead, UserWrite')
        try { [void](Invoke-YvProcess -FilePath $chpasswd -InputFile $pwInput -TimeoutSec 30 -Description "chpasswd for $User") }
        finally { Remove-Item -LiteralPath $pwInput -Force -ErrorAction SilentlyContinue }

        $hostEd = Join-Path $dir 'ssh_host_ed25519_key'
        $hostRsa = Join-Path $dir 'ssh_host_rsa_key'
        $userEd = Join-Path $dir 'id_ed25519'
        $userRsa = Join-Path $dir 'id_rsa'
        $wrongEd = Join-Path $dir 'wrong_host_ed25519_key'
        $keys = @(
            @('-t', 'ed25519', '-C', 'yv-test-host', '-f', $hostEd),
            @('-t', 'rsa', '-b', '2048', '-C', 'yv-test-host', '-f', $hostRsa),
            @('-t', 'ed25519', '-C', "yv-test-$User", '-f', $userEd),
            @('-t', 'rsa', '-b', '2048', '-m', 'PEM', '-C', "yv-test-$User", '-f', $userRsa),
            @('-t', 'ed25519', '-C', 'yv-wrong-host', '-f', $wrongEd)
        )
        Write-Verbose "Start-TestSshd: chpasswd done at $([math]::Round($sw.Elapsed.TotalSeconds, 2)) s"
        # In parallel: RSA generation dominates (0.1-0.7 s each).
        $keygenLog = Join-Path $dir 'ssh-keygen.log'
        $jobs = foreach ($k in $keys) { Start-YvBackgroundProcess -FilePath $keygen -ArgumentList (@('-q', '-N', '') + $k) -LogFile $keygenLog -WorkingDirectory $dir }
        foreach ($j in $jobs) {
            if (-not $j.WaitForExit(30000)) { try { $j.Kill() } catch { Write-Verbose "$_" } ; throw "Start-TestSshd: ssh-keygen did not finish within 30 s.`n$(Get-YvLogTail -Path $keygenLog)" }
            $j.WaitForExit()
            if ($j.ExitCode -ne 0) { throw "Start-TestSshd: ssh-keygen failed with exit code $($j.ExitCode).`n$(Get-YvLogTail -Path $keygenLog)" }
        }

        Write-Verbose "Start-TestSshd: keygen done at $([math]::Round($sw.Elapsed.TotalSeconds, 2)) s"
        $authorized = Join-Path $dir 'authorized_keys'
        [System.IO.File]::WriteAllText($authorized, [System.IO.File]::ReadAllText("$userEd.pub") + [System.IO.File]::ReadAllText("$userRsa.pub"))
        [System.IO.File]::SetUnixFileMode($authorized, [System.IO.UnixFileMode]'UserRead, UserWrite, GroupRead, OtherRead')
        $canRead = Invoke-YvProcess -FilePath $runuser -ArgumentList '-u', $User, '--', 'test', '-r', $authorized -AllowFailure -TimeoutSec 10
        if ($canRead.ExitCode -ne 0) {
            throw "Start-TestSshd: user '$User' cannot read '$authorized' (a parent directory of '$dir' is not world-executable). Set TMPDIR to a directory every user can traverse, e.g. /tmp."
        }

        $hostPattern = "[127.0.0.1]:$Port"
        $pubLine = { param($f) ($(([System.IO.File]::ReadAllText($f)).Trim() -split '\s+')[0..1]) -join ' ' }
        $knownHosts = Join-Path $dir 'known_hosts'
        $wrongKnownHosts = Join-Path $dir 'known_hosts.wrong'
        [System.IO.File]::WriteAllText($knownHosts, "$hostPattern $(& $pubLine "$hostEd.pub")`n$hostPattern $(& $pubLine "$hostRsa.pub")`n")
        [System.IO.File]::WriteAllText($wrongKnownHosts, "$hostPattern $(& $pubLine "$wrongEd.pub")`n")
        $fp = (Invoke-YvProcess -FilePath $keygen -ArgumentList '-l', '-E', 'sha256', '-f', "$hostEd.pub" -TimeoutSec 10).StdOut
        $fingerprint = (($fp.Trim() -split '\s+')[1])
        if ($fingerprint -notlike 'SHA256:*') { throw "Start-TestSshd: unexpected ssh-keygen -l output: $fp" }

        Write-Verbose "Start-TestSshd: knownhosts done at $([math]::Round($sw.Elapsed.TotalSeconds, 2)) s"
        $config = Join-Path $dir 'sshd_config'
        $log = Join-Path $dir 'sshd.log'
        $pidFile = Join-Path $dir 'sshd.pid'
        $q = { param($p) '"' + $p + '"' }
        # Lines before a Match line go first (first value wins); the Match block goes last, as sshd requires.
        $matchAt = [array]::FindIndex([string[]]$ConfigLines, [Predicate[string]] { param($l) $l -match '^\s*Match\s' })
        $head = if ($matchAt -lt 0) { $ConfigLines } elseif ($matchAt -eq 0) { @() } else { $ConfigLines[0..($matchAt - 1)] }
        $tail = if ($matchAt -lt 0) { @() } else { $ConfigLines[$matchAt..($ConfigLines.Count - 1)] }
        $cfg = @(
            $head
            "Port $Port"
            'ListenAddress 127.0.0.1'
            "HostKey $(& $q $hostEd)"
            "HostKey $(& $q $hostRsa)"
            "PidFile $(& $q $pidFile)"
            "AuthorizedKeysFile $(& $q $authorized)"
            'PubkeyAuthentication yes'
            'PasswordAuthentication yes'
            'PermitEmptyPasswords no'
            'KbdInteractiveAuthentication no'
            'UsePAM no'
            'StrictModes no'
            'AllowTcpForwarding yes'
            'PermitRootLogin no'
            'PrintMotd no'
            'MaxStartups 50:30:100'
            'Subsystem sftp internal-sftp'
            'LogLevel VERBOSE'
            $tail
        ) -join "`n"
        [System.IO.File]::WriteAllText($config, $cfg + "`n")

        if (-not (Test-Path -LiteralPath '/run/sshd')) { [void][System.IO.Directory]::CreateDirectory('/run/sshd', [System.IO.UnixFileMode]'UserRead, UserWrite, UserExecute, GroupRead, GroupExecute, OtherRead, OtherExecute') }
        [void](Invoke-YvProcess -FilePath $sshd -ArgumentList '-t', '-f', $config -TimeoutSec 15 -Description "sshd -t -f $config")

        Write-Verbose "Start-TestSshd: sshd -t done at $([math]::Round($sw.Elapsed.TotalSeconds, 2)) s"
        $proc = Start-YvBackgroundProcess -FilePath $sshd -ArgumentList '-D', '-f', $config, '-E', $log -LogFile (Join-Path $dir 'sshd.stdout.log') -WorkingDirectory $dir
        $banner = {
            $c = [System.Net.Sockets.TcpClient]::new()
            try {
                if (-not $c.ConnectAsync('127.0.0.1', $Port).Wait(500)) { return $false }
                $stream = $c.GetStream()
                $stream.ReadTimeout = 1000
                $buf = [byte[]]::new(64)
                $n = $stream.Read($buf, 0, $buf.Length)
                [System.Text.Encoding]::ASCII.GetString($buf, 0, $n).StartsWith('SSH-2.0-')
            } catch { $false } finally { $c.Dispose() }
        }
        Wait-YvCondition -Condition $banner -TimeoutSec $TimeoutSec -IntervalMs 50 -Process $proc `
            -What "Start-TestSshd: sshd on 127.0.0.1:$Port" -LogFile $log, (Join-Path $dir 'sshd.stdout.log')

        Write-Verbose "Start-TestSshd: ready done at $([math]::Round($sw.Elapsed.TotalSeconds, 2)) s"
        New-YvStartedService -TypeName Sshd -Process $proc -Directory $dir -Stopwatch $sw -Properties ([ordered]@{
                HostName            = '127.0.0.1'
                Port                = $Port
                User                = $User
                UserKeyFile         = $userEd
                UserRsaKeyFile      = $userRsa
                Credential          = [pscredential]::new($User, (ConvertTo-SecureString -String $password -AsPlainText -Force))
                KnownHostsFile      = $knownHosts
                WrongKnownHostsFile = $wrongKnownHosts
                HostKeyFingerprint  = $fingerprint
                HostKeyLines        = [System.IO.File]::ReadAllText($knownHosts)
                LogFile             = $log
                ConfigFile          = $config
            })
    } catch {
        Undo-YvStart -Process $proc -Directory $dir
        throw
    }
}

function Stop-TestSshd {
    <# .SYNOPSIS Stops a Start-TestSshd sshd (and its session children) and removes its directory. Idempotent. #>
    [CmdletBinding()]
    param([Parameter(Mandatory, ValueFromPipeline)] [AllowNull()] $Sshd)
    process { if ($null -ne $Sshd) { Stop-YvStartedProcess -Service $Sshd -GraceSec 5 } }
}

function Start-TestSshAgent {
    <#
    .SYNOPSIS Starts a real OpenSSH ssh-agent on a socket of its own (ssh-agent -D -a) and loads keys into it with ssh-add.
    .OUTPUTS Object with Socket, KeyFiles, Pid, Directory, LogFile, Process, StartSeconds. Set SSH_AUTH_SOCK to Socket to use it.
    #>
    [CmdletBinding()]
    param([string[]] $KeyFile = @(), [int] $TimeoutSec = 10)
    Set-StrictMode -Version Latest
    $ErrorActionPreference = 'Stop'
    $sw = [System.Diagnostics.Stopwatch]::StartNew()
    $agent = Resolve-YvProgram -Name ssh-agent -Install 'apt-get install -y openssh-client'
    $add = Resolve-YvProgram -Name ssh-add -Install 'apt-get install -y openssh-client'
    $dir = New-YvTempDirectory -Service ssh-agent
    $proc = $null
    try {
        $socket = Join-Path $dir 'agent.sock'
        $log = Join-Path $dir 'ssh-agent.log'
        # -D: in the foreground, so the process started is the agent itself (and stopping it stops the agent).
        $proc = Start-YvBackgroundProcess -FilePath $agent -ArgumentList '-D', '-a', $socket -LogFile $log -WorkingDirectory $dir
        Wait-YvCondition -Condition { Test-Path -LiteralPath $socket } -TimeoutSec $TimeoutSec -IntervalMs 50 -Process $proc `
            -What "Start-TestSshAgent: ssh-agent on $socket" -LogFile $log
        foreach ($k in $KeyFile) {
            [void](Invoke-YvProcess -FilePath $add -ArgumentList '-q', $k -Environment @{ SSH_AUTH_SOCK = $socket } -TimeoutSec 15 -Description "ssh-add $k")
        }
        New-YvStartedService -TypeName SshAgent -Process $proc -Directory $dir -Stopwatch $sw -Properties ([ordered]@{
                Socket   = $socket
                KeyFiles = $KeyFile
                LogFile  = $log
            })
    } catch {
        Undo-YvStart -Process $proc -Directory $dir
        throw
    }
}

function Stop-TestSshAgent {
    <# .SYNOPSIS Stops a Start-TestSshAgent agent and removes its directory (and socket). Idempotent. #>
    [CmdletBinding()]
    param([Parameter(Mandatory, ValueFromPipeline)] [AllowNull()] $Agent)
    process { if ($null -ne $Agent) { Stop-YvStartedProcess -Service $Agent -GraceSec 5 } }
}

#endregion

#region docker

function Start-TestDockerd {
    <#
    .SYNOPSIS Makes sure a Docker engine answers on /var/run/docker.sock: reuses a running one, else starts dockerd.
    .OUTPUTS Object with Socket, StartedByUs, Pid, LogFile, StartSeconds.
    #>
    [CmdletBinding()]
    param([int] $TimeoutSec = 60)
    Set-StrictMode -Version Latest
    $ErrorActionPreference = 'Stop'
    $sw = [System.Diagnostics.Stopwatch]::StartNew()
    [void](Resolve-YvProgram -Name docker -Install 'apt-get install -y docker.io')
    $dockerd = Resolve-YvProgram -Name dockerd -Install 'apt-get install -y docker.io' -Candidates '/usr/sbin/dockerd', '/usr/bin/dockerd'

    $make = {
        param([bool] $ByUs, [int] $ProcId, $Proc)
        $r = [pscustomobject]@{
            PSTypeName   = 'YieldVault.TestServices.Dockerd'
            Socket       = "unix://$script:DockerSocketPath"
            StartedByUs  = $ByUs
            Pid          = $ProcId
            LogFile      = $script:DockerdLogFile
            Process      = $Proc
            StartSeconds = [math]::Round($sw.Elapsed.TotalSeconds, 2)
        }
        if ($ByUs) { Register-YvStarted $r }
        $r
    }

    if (Test-YvDockerSocket) { return (& $make $false (Get-YvPidFromFile '/var/run/docker.pid') $null) }

    # Another test run may be starting dockerd at this very moment: serialise on a lock file (flock).
    $lock = Enter-YvFileLock -Path $script:DockerdLockFile -TimeoutSec $TimeoutSec -What 'Start-TestDockerd (another test run is starting dockerd)'
    try {
        if (Test-YvDockerSocket) { return (& $make $false (Get-YvPidFromFile '/var/run/docker.pid') $null) }
        # Pid files a killed engine left behind (no graceful stop removes them) may name a process that now has that
        # pid and is something else: dockerd then refuses to start, or waits for "containerd is still running" until it
        # gives up (~15 s). Only a live dockerd / containerd keeps its file.
        Remove-YvStalePidFile -Path '/var/run/docker.pid' -Program 'dockerd'
        Remove-YvStalePidFile -Path '/var/run/docker/containerd/containerd.pid' -Program 'containerd'
        $existing = Get-YvPidFromFile '/var/run/docker.pid'
        if ($existing -and (Test-YvProcessAlive -ProcessId $existing)) {
            # Someone else's dockerd is still coming up: wait for it rather than start a second one.
            Wait-YvCondition -Condition { Test-YvDockerSocket } -TimeoutSec $TimeoutSec -IntervalMs 250 `
                -What "Start-TestDockerd: the running dockerd (pid $existing)" -LogFile $script:DockerdLogFile
            return (& $make $false $existing $null)
        }
        Add-Content -LiteralPath $script:DockerdLogFile -Value "===== $(Get-Date -Format o) Start-TestDockerd (pwsh pid $PID) ====="
        # Plain `dockerd` works on this kind of machine (iptables, overlay2, cgroupfs); no extra flags needed.
        $proc = Start-YvBackgroundProcess -FilePath $dockerd -LogFile $script:DockerdLogFile -WorkingDirectory '/'
        try {
            Wait-YvCondition -Condition { Test-YvDockerSocket } -TimeoutSec $TimeoutSec -IntervalMs 200 -Process $proc `
                -What "Start-TestDockerd: dockerd (pid $($proc.Id)) on $script:DockerSocketPath" -LogFile $script:DockerdLogFile
        } catch {
            Stop-YvProcessTree -Process $proc -GraceSec 10
            throw
        }
        & $make $true $proc.Id $proc
    } finally {
        $lock.Dispose()
    }
}

function Stop-TestDockerd {
    <# .SYNOPSIS Stops dockerd only when Start-TestDockerd started it (StartedByUs). Idempotent. #>
    [CmdletBinding()]
    param([Parameter(Mandatory, ValueFromPipeline)] [AllowNull()] $Dockerd)
    process {
        Set-StrictMode -Version Latest
        $ErrorActionPreference = 'Stop'
        if ($null -eq $Dockerd) { return }
        if (-not (Get-YvProperty $Dockerd 'StartedByUs')) { return }
        $procId = [int](Get-YvProperty $Dockerd 'Pid')
        $containerdPid = Get-YvPidFromFile '/var/run/docker/containerd/containerd.pid'
        # dockerd stops its containers (10 s each by default) and its containerd on SIGTERM.
        Stop-YvProcessTree -ProcessId $procId -Process (Get-YvProperty $Dockerd 'Process') -GraceSec 30
        if ($containerdPid -and (Test-YvProcessAlive -ProcessId $containerdPid)) {
            $cmdline = try { [System.IO.File]::ReadAllText("/proc/$containerdPid/cmdline") } catch { '' }
            if ($cmdline -match 'containerd') { Stop-YvProcessTree -ProcessId $containerdPid -GraceSec 10 }
        }
        # containerd-shims re-parent themselves to PID 1, so they are nobody's descendants; those of this
        # engine (namespace moby, address under /var/run/docker) exit shortly after their containers: wait for that.
        $shims = @(Get-YvEngineShimProcessIds)
        foreach ($shim in $shims) {
            if (-not (Wait-YvProcessExit -ProcessId $shim -TimeoutSec 10)) { Stop-YvProcessTree -ProcessId $shim -GraceSec 3 }
        }
        Unregister-YvStarted $Dockerd
    }
}

function New-TestBusyboxImage {
    <#
    .SYNOPSIS Builds (once per tag) a tiny FROM-scratch image from the static /bin/busybox; no registry needed.
    .PARAMETER Files Extra files for the build context: name -> content (text). Scripts get mode 755.
    .PARAMETER DockerfileLines Extra Dockerfile lines appended after the default ones (e.g. COPY app.sh /app.sh, CMD [...]).
    .OUTPUTS Object with Tag, Id, Cached.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)] [string] $Tag,
        [hashtable] $Files = @{},
        [string[]] $DockerfileLines = @(),
        [int] $TimeoutSec = 120
    )
    Set-StrictMode -Version Latest
    $ErrorActionPreference = 'Stop'
    [void](Resolve-YvProgram -Name docker -Install 'apt-get install -y docker.io')
    if (-not (Test-Path -LiteralPath '/bin/busybox' -PathType Leaf)) {
        throw "New-TestBusyboxImage needs the static busybox at /bin/busybox, which is not installed. Install it with: apt-get install -y busybox-static"
    }
    $ldd = Get-Command -Name ldd -CommandType Application -ErrorAction SilentlyContinue | Select-Object -First 1
    if ($ldd) {
        $l = Invoke-YvProcess -FilePath $ldd.Source -ArgumentList '/bin/busybox' -AllowFailure -TimeoutSec 10
        if ($l.Output -notmatch 'not a dynamic executable|statically linked') {
            throw "New-TestBusyboxImage: /bin/busybox is dynamically linked and cannot run in a FROM scratch image. Install the static one with: apt-get install -y busybox-static"
        }
    }
    if (-not (Test-YvDockerSocket)) { throw "New-TestBusyboxImage: no Docker engine answers on $script:DockerSocketPath; call Start-TestDockerd first." }
    $inspect = Invoke-YvDocker -ArgumentList 'image', 'inspect', '--format', '{{.Id}}', $Tag -AllowFailure -TimeoutSec 30
    if ($inspect.ExitCode -eq 0) {
        return [pscustomobject]@{ PSTypeName = 'YieldVault.TestServices.Image'; Tag = $Tag; Id = $inspect.StdOut.Trim(); Cached = $true }
    }
    $ctx = New-YvTempDirectory -Service busybox-image
    try {
        Copy-Item -LiteralPath '/bin/busybox' -Destination (Join-Path $ctx 'busybox')
        foreach ($name in $Files.Keys) {
            $target = Join-Path $ctx $name
            [void][System.IO.Directory]::CreateDirectory([System.IO.Path]::GetDirectoryName($target))
            [System.IO.File]::WriteAllText($target, ([string]$Files[$name]).Replace("`r`n", "`n"))
            [System.IO.File]::SetUnixFileMode($target, [System.IO.UnixFileMode]'UserRead, UserWrite, UserExecute, GroupRead, GroupExecute, OtherRead, OtherExecute')
        }
        $dockerfile = @(
            'FROM scratch'
            'COPY busybox /bin/busybox'
            'RUN ["/bin/busybox", "--install", "-s", "/bin"]'
            'ENV PATH=/bin'
            'LABEL org.yieldvault.test=busybox'
            'CMD ["/bin/sh"]'
        ) + $DockerfileLines
        [System.IO.File]::WriteAllText((Join-Path $ctx 'Dockerfile'), ($dockerfile -join "`n") + "`n")
        [void](Invoke-YvDocker -ArgumentList 'build', '-q', '-t', $Tag, $ctx -TimeoutSec $TimeoutSec)
        $id = (Invoke-YvDocker -ArgumentList 'image', 'inspect', '--format', '{{.Id}}', $Tag -TimeoutSec 30).StdOut.Trim()
        [pscustomobject]@{ PSTypeName = 'YieldVault.TestServices.Image'; Tag = $Tag; Id = $id; Cached = $false }
    } finally {
        Remove-YvDirectory -Path $ctx
    }
}

#endregion

#region postgres

function Start-TestPostgres {
    <#
    .SYNOPSIS Starts a throwaway PostgreSQL cluster on 127.0.0.1 with role yv and database yieldvault.
    .OUTPUTS Object with Port, Database, User, Password, DatabaseUrl, DataDir, Directory, SocketDirectory,
             LogFile, Pid, BinDirectory, StartSeconds.
    #>
    [CmdletBinding()]
    param(
        [int] $Port,
        [int] $TimeoutSec = 60
    )
    Set-StrictMode -Version Latest
    $ErrorActionPreference = 'Stop'
    $sw = [System.Diagnostics.Stopwatch]::StartNew()
    $bin = Get-YvPostgresBin
    $runuser = Resolve-YvProgram -Name runuser -Install 'apt-get install -y util-linux' -Candidates '/usr/sbin/runuser', '/sbin/runuser'
    $psql = Resolve-YvProgram -Name psql -Install 'apt-get install -y postgresql-client' -Candidates (Join-Path $bin 'psql')
    $getent = Resolve-YvProgram -Name getent -Install 'apt-get install -y libc-bin' -Candidates '/usr/bin/getent'
    if ((Invoke-YvProcess -FilePath $getent -ArgumentList 'passwd', 'postgres' -AllowFailure -TimeoutSec 10).ExitCode -ne 0) {
        throw "Start-TestPostgres: the system user 'postgres' does not exist. Install PostgreSQL with: apt-get install -y postgresql"
    }
    if (-not $Port) { $Port = Get-FreeTcpPort }

    $dir = New-YvTempDirectory -Service postgres
    $data = Join-Path $dir 'data'
    $sock = Join-Path $dir 'sock'
    $log = Join-Path $dir 'postgres.log'
    $started = $false
    try {
        [void][System.IO.Directory]::CreateDirectory($sock)
        [void](Invoke-YvProcess -FilePath 'chown' -ArgumentList '-R', 'postgres:postgres', $dir -TimeoutSec 10)
        $canWrite = Invoke-YvProcess -FilePath $runuser -ArgumentList '-u', 'postgres', '--', 'test', '-w', $dir -AllowFailure -TimeoutSec 10
        if ($canWrite.ExitCode -ne 0) {
            throw "Start-TestPostgres: user 'postgres' cannot write '$dir' (a parent directory is not world-executable). Set TMPDIR to a directory every user can traverse, e.g. /tmp."
        }
        [void](Invoke-YvProcess -FilePath $runuser -TimeoutSec $TimeoutSec -WorkingDirectory $dir -Description 'initdb' -ArgumentList @(
                '-u', 'postgres', '--', (Join-Path $bin 'initdb'), '-D', $data, '-U', 'postgres',
                '--auth-local=trust', '--auth-host=scram-sha-256', '--no-sync', '-E', 'UTF8', '--locale=C.UTF-8'))
        # Exactly two rules: local (socket) trust for setup, password (scram) for TCP so a wrong password fails.
        $hba = Join-Path $data 'pg_hba.conf'
        [System.IO.File]::WriteAllText($hba, "local all all trust`nhost all all 127.0.0.1/32 scram-sha-256`n")
        [void](Invoke-YvProcess -FilePath 'chown' -ArgumentList 'postgres:postgres', $hba -TimeoutSec 10)

        $opts = "-p $Port -k `"$sock`" -c listen_addresses=127.0.0.1 -c fsync=off -c password_encryption=scram-sha-256"
        $started = $true
        [void](Invoke-YvProcess -FilePath $runuser -TimeoutSec ($TimeoutSec + 10) -WorkingDirectory $dir -Description 'pg_ctl start' -ArgumentList @(
                '-u', 'postgres', '--', (Join-Path $bin 'pg_ctl'), '-D', $data, '-l', $log, '-o', $opts, '-w', '-t', [string]$TimeoutSec, 'start'))

        $password = New-YvRandomString -Length 24
        [void](Invoke-YvProcess -FilePath $psql -TimeoutSec 30 -Description 'psql create role/database' -RemoveEnvironment 'PGPASSWORD', 'PGSERVICE', 'PGOPTIONS' -ArgumentList @(
                '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-h', $sock, '-p', [string]$Port, '-U', 'postgres', '-d', 'postgres',
                '-c', "CREATE ROLE yv LOGIN PASSWORD '$password'",
                '-c', 'CREATE DATABASE yieldvault OWNER yv'))

        New-YvStartedService -TypeName Postgres -Directory $dir -Stopwatch $sw -Properties ([ordered]@{
                HostName        = '127.0.0.1'
                Port            = $Port
                Database        = 'yieldvault'
                User            = 'yv'
                Password        = $password
                DatabaseUrl     = "postgres://yv:$password@127.0.0.1:$Port/yieldvault"
                DataDir         = $data
                SocketDirectory = $sock
                LogFile         = $log
                Pid             = Get-YvPidFromFile (Join-Path $data 'postmaster.pid')
                BinDirectory    = $bin
            })
    } catch {
        $err = $_
        $tail = if (Test-Path -LiteralPath $log) { Get-YvLogTail -Path $log } else { '' }
        if ($started) {
            try { Stop-TestPostgres -Postgres ([pscustomobject]@{ DataDir = $data; Directory = $dir; BinDirectory = $bin; Pid = (Get-YvPidFromFile (Join-Path $data 'postmaster.pid')) }) }
            catch { Write-Verbose "cleanup after failed start: $_" }
        }
        Remove-YvDirectory -Path $dir
        throw ("Start-TestPostgres failed: $($err.Exception.Message)`n$tail").TrimEnd()
    }
}

function Stop-TestPostgres {
    <# .SYNOPSIS pg_ctl -m fast stop (kill if that fails) and remove the directory. Idempotent. #>
    [CmdletBinding()]
    param([Parameter(Mandatory, ValueFromPipeline)] [AllowNull()] $Postgres)
    process {
        Set-StrictMode -Version Latest
        $ErrorActionPreference = 'Stop'
        if ($null -eq $Postgres) { return }
        $data = Get-YvProperty $Postgres 'DataDir'
        $procId = [int](Get-YvProperty $Postgres 'Pid')
        $children = @()
        if ($procId -and (Test-YvProcessAlive -ProcessId $procId)) { $children = Get-YvDescendantProcessIds -ProcessId $procId }
        if ($data -and (Test-Path -LiteralPath (Join-Path $data 'postmaster.pid'))) {
            $bin = Get-YvProperty $Postgres 'BinDirectory'
            if (-not $bin) { $bin = Get-YvPostgresBin }
            $runuser = Resolve-YvProgram -Name runuser -Install 'apt-get install -y util-linux' -Candidates '/usr/sbin/runuser', '/sbin/runuser'
            $r = Invoke-YvProcess -FilePath $runuser -AllowFailure -TimeoutSec 40 -WorkingDirectory '/' -Description 'pg_ctl stop' -ArgumentList @(
                '-u', 'postgres', '--', (Join-Path $bin 'pg_ctl'), '-D', $data, '-m', 'fast', '-w', '-t', '30', 'stop')
            if ($r.ExitCode -ne 0) { Write-Verbose "pg_ctl stop: $($r.Output)" }
        }
        # postgres' own shutdown signal is SIGINT (fast); fall back to it and then SIGKILL.
        if ($procId -and (Test-YvProcessAlive -ProcessId $procId)) { Stop-YvProcessTree -ProcessId $procId -Signal INT -GraceSec 10 }
        foreach ($c in $children) {
            if (-not (Wait-YvProcessExit -ProcessId $c -TimeoutSec 5)) { Stop-YvProcessTree -ProcessId $c -GraceSec 2 }
        }
        Remove-YvDirectory -Path (Get-YvProperty $Postgres 'Directory')
        Unregister-YvStarted $Postgres
    }
}

#endregion

#region stellar rpc stand-in

function Start-TestStellarRpc {
    <#
    .SYNOPSIS Starts tests/services/stellar-rpc-standin.js on a free port.
    .OUTPUTS Object with Port, Url (http://127.0.0.1:<port>/), Process, Pid, Directory, LogFile, StartSeconds.
    #>
    [CmdletBinding()]
    param([int] $TimeoutSec = 15)
    Set-StrictMode -Version Latest
    $ErrorActionPreference = 'Stop'
    $sw = [System.Diagnostics.Stopwatch]::StartNew()
    $node = Resolve-YvProgram -Name node -Install 'apt-get install -y nodejs'
    $script = Join-Path $script:ServicesRoot 'stellar-rpc-standin.js'
    if (-not (Test-Path -LiteralPath $script -PathType Leaf)) { throw "Start-TestStellarRpc: '$script' does not exist." }
    $dir = New-YvTempDirectory -Service stellar-rpc
    $log = Join-Path $dir 'stellar-rpc.log'
    $proc = $null
    try {
        $proc = Start-YvBackgroundProcess -FilePath $node -ArgumentList $script, '--port', '0' -LogFile $log -WorkingDirectory $dir
        $script:yvRpcPort = 0
        $found = {
            if (-not (Test-Path -LiteralPath $log)) { return $false }
            $m = [regex]::Match([System.IO.File]::ReadAllText($log), '(?m)^LISTENING (\d+)\s*$')
            if ($m.Success) { $script:yvRpcPort = [int]$m.Groups[1].Value }
            $m.Success
        }
        Wait-YvCondition -Condition $found -TimeoutSec $TimeoutSec -IntervalMs 50 -Process $proc -What 'Start-TestStellarRpc: LISTENING line' -LogFile $log
        $port = $script:yvRpcPort
        New-YvStartedService -TypeName StellarRpc -Process $proc -Directory $dir -Stopwatch $sw -Properties ([ordered]@{
                Port    = $port
                Url     = "http://127.0.0.1:$port/"
                LogFile = $log
            })
    } catch {
        Undo-YvStart -Process $proc -Directory $dir
        throw
    }
}

function Set-TestStellarRpcMode {
    <# .SYNOPSIS Switches the stand-in: up (healthy), down (JSON-RPC gets HTTP 503), slow (answers after -DelayMs, default 3000). #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)] $Rpc,
        [Parameter(Mandatory)] [ValidateSet('up', 'down', 'slow')] [string] $Mode,
        [ValidateRange(0, 600000)] [int] $DelayMs = -1
    )
    Set-StrictMode -Version Latest
    $ErrorActionPreference = 'Stop'
    $ProgressPreference = 'SilentlyContinue'
    $bodyTable = @{ mode = $Mode }
    if ($PSBoundParameters.ContainsKey('DelayMs')) { $bodyTable['delayMs'] = $DelayMs }
    $body = $bodyTable | ConvertTo-Json -Compress
    Invoke-RestMethod -Method Post -Uri ((Get-YvProperty $Rpc 'Url').TrimEnd('/') + '/__control') -ContentType 'application/json' -Body $body -TimeoutSec 5
}

function Stop-TestStellarRpc {
    <# .SYNOPSIS Stops the stand-in and removes its directory. Idempotent. #>
    [CmdletBinding()]
    param([Parameter(Mandatory, ValueFromPipeline)] [AllowNull()] $Rpc)
    process { if ($null -ne $Rpc) { Stop-YvStartedProcess -Service $Rpc -GraceSec 5 } }
}

#endregion

#region sample backend

function New-TestSampleOrigin {
    <#
    .SYNOPSIS Runs tests/fixtures/new-sample-origin.sh in a fresh yv-origin-* directory; returns the bare repo path.
    .PARAMETER Directory Put origin.git here instead (must exist; used by Start-TestBackendStack).
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param([string] $Directory, [int] $TimeoutSec = 300)
    Set-StrictMode -Version Latest
    $ErrorActionPreference = 'Stop'
    $bash = Resolve-YvProgram -Name bash -Install 'apt-get install -y bash' -Candidates '/bin/bash'
    [void](Resolve-YvProgram -Name git -Install 'apt-get install -y git')
    $script = Join-Path $script:RepoRoot 'tests/fixtures/new-sample-origin.sh'
    if (-not (Test-Path -LiteralPath $script -PathType Leaf)) { throw "New-TestSampleOrigin: '$script' does not exist." }
    $own = -not $Directory
    if ($own) { $Directory = New-YvTempDirectory -Service origin }
    try {
        $r = Invoke-YvProcess -FilePath $bash -ArgumentList $script, $Directory -TimeoutSec $TimeoutSec -WorkingDirectory $Directory -Description "new-sample-origin.sh $Directory"
        # stdout's last line is the bare repo (progress goes to stderr): the last line that names an existing directory.
        $last = @($r.StdOut -split "`n" | ForEach-Object { $_.Trim() } |
                Where-Object { $_.StartsWith('/') -and (Test-Path -LiteralPath $_ -PathType Container) }) | Select-Object -Last 1
        if (-not $last) {
            throw "New-TestSampleOrigin: the script printed no path of a bare repository. Output:`n$($r.Output)"
        }
        $last
    } catch {
        if ($own) { Remove-YvDirectory -Path $Directory }
        throw
    }
}

function Remove-TestSampleOrigin {
    <# .SYNOPSIS Removes the yv-origin-* directory that holds a New-TestSampleOrigin bare repo. Idempotent. #>
    [CmdletBinding()]
    param([Parameter(Mandatory, ValueFromPipeline)] [AllowNull()] [AllowEmptyString()] [string] $Origin)
    process {
        Set-StrictMode -Version Latest
        $ErrorActionPreference = 'Stop'
        if (-not $Origin) { return }
        Remove-YvDirectory -Path ([System.IO.Path]::GetDirectoryName([System.IO.Path]::GetFullPath($Origin.TrimEnd('/'))))
    }
}

function New-TestSampleCheckout {
    <#
    .SYNOPSIS git clone + checkout <Ref> + npm ci + npm run build; returns the checkout path.
    .PARAMETER Path Target directory (must not exist or be empty). Default: <tmp>/yv-checkout-*/yieldvault-backend.
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [Parameter(Mandatory)] [string] $Origin,
        [string] $Ref = 'v1.2.3',
        [string] $Path,
        [int] $TimeoutSec = 300
    )
    Set-StrictMode -Version Latest
    $ErrorActionPreference = 'Stop'
    $git = Resolve-YvProgram -Name git -Install 'apt-get install -y git'
    $npm = Resolve-YvProgram -Name npm -Install 'apt-get install -y npm'
    [void](Resolve-YvProgram -Name node -Install 'apt-get install -y nodejs')
    $ownDir = $null
    if (-not $Path) {
        $ownDir = New-YvTempDirectory -Service checkout
        $Path = Join-Path $ownDir 'yieldvault-backend'
    }
    try {
        [void](Invoke-YvProcess -FilePath $git -ArgumentList 'clone', '--quiet', $Origin, $Path -TimeoutSec 60)
        [void](Invoke-YvProcess -FilePath $git -ArgumentList '-c', 'advice.detachedHead=false', '-C', $Path, 'checkout', '--quiet', $Ref -TimeoutSec 30)
        [void](Invoke-YvProcess -FilePath $npm -ArgumentList 'ci', '--no-audit', '--no-fund', '--prefer-offline' -WorkingDirectory $Path -TimeoutSec $TimeoutSec -Description "npm ci in $Path ($Ref)")
        [void](Invoke-YvProcess -FilePath $npm -ArgumentList 'run', 'build' -WorkingDirectory $Path -TimeoutSec $TimeoutSec -Description "npm run build in $Path ($Ref)")
        $Path
    } catch {
        if ($ownDir) { Remove-YvDirectory -Path $ownDir }
        throw
    }
}

function Remove-TestSampleCheckout {
    <# .SYNOPSIS Removes a checkout made by New-TestSampleCheckout (its yv-checkout-* directory). Idempotent. #>
    [CmdletBinding()]
    param([Parameter(Mandatory, ValueFromPipeline)] [AllowNull()] [AllowEmptyString()] [string] $Path)
    process {
        Set-StrictMode -Version Latest
        $ErrorActionPreference = 'Stop'
        if (-not $Path) { return }
        $full = [System.IO.Path]::GetFullPath($Path.TrimEnd('/'))
        $parent = [System.IO.Path]::GetDirectoryName($full)
        if ([System.IO.Path]::GetFileName($parent) -like 'yv-checkout-*') { Remove-YvDirectory -Path $parent }
        else { Remove-YvDirectory -Path $full }
    }
}

function Invoke-TestSampleMigration {
    <# .SYNOPSIS npm run migrate in a checkout with DATABASE_URL set; throws with npm's output tail on failure. #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)] [string] $Path,
        [Parameter(Mandatory)] [string] $DatabaseUrl,
        [int] $TimeoutSec = 120
    )
    Set-StrictMode -Version Latest
    $ErrorActionPreference = 'Stop'
    $npm = Resolve-YvProgram -Name npm -Install 'apt-get install -y npm'
    Invoke-YvProcess -FilePath $npm -ArgumentList 'run', 'migrate' -WorkingDirectory $Path -Environment @{ DATABASE_URL = $DatabaseUrl } `
        -TimeoutSec $TimeoutSec -Description "npm run migrate in $Path"
}

function Start-TestSampleBackend {
    <#
    .SYNOPSIS Writes <checkout>/.env (mode 600) and starts node dist/index.js until GET /health answers 200.
    .DESCRIPTION PORT=<Port> is added to .env unless the hashtable has PORT. The keys of the hashtable are removed
                 from the child's inherited environment so that .env is what the backend sees (dotenv does not
                 override variables that are already set).
    .OUTPUTS Object with Pid, Port, Url (http://127.0.0.1:<port>, no trailing slash), HealthUrl, LogFile (the
             process' stdout+stderr), Path, EnvFile, Directory, Process, StartSeconds.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)] [string] $Path,
        [int] $Port,
        [hashtable] $Environment = @{},
        [int] $TimeoutSec = 30
    )
    Set-StrictMode -Version Latest
    $ErrorActionPreference = 'Stop'
    $ProgressPreference = 'SilentlyContinue'
    $sw = [System.Diagnostics.Stopwatch]::StartNew()
    $node = Resolve-YvProgram -Name node -Install 'apt-get install -y nodejs'
    $entry = Join-Path $Path 'dist/index.js'
    if (-not (Test-Path -LiteralPath $entry -PathType Leaf)) { throw "Start-TestSampleBackend: '$entry' does not exist; build the checkout first (New-TestSampleCheckout)." }
    $envCopy = [ordered]@{}
    foreach ($k in ($Environment.Keys | Sort-Object)) { $envCopy[[string]$k] = [string]$Environment[$k] }
    if ($envCopy.Contains('PORT')) {
        if ($Port -and [int]$envCopy['PORT'] -ne $Port) { throw "Start-TestSampleBackend: -Port $Port and Environment.PORT $($envCopy['PORT']) disagree." }
        $Port = [int]$envCopy['PORT']
    } else {
        if (-not $Port) { $Port = Get-FreeTcpPort }
        $envCopy['PORT'] = [string]$Port
    }

    $envFile = Join-Path $Path '.env'
    $lines = foreach ($k in $envCopy.Keys) {
        if ($k -notmatch '^[A-Za-z_][A-Za-z0-9_]*$') { throw "Start-TestSampleBackend: '$k' is not a valid environment variable name." }
        "$k=$(ConvertTo-YvDotEnvValue $envCopy[$k])"
    }
    Write-YvFile -Path $envFile -Text (($lines -join "`n") + "`n") -Mode 'UserRead, UserWrite'

    $dir = New-YvTempDirectory -Service backend
    $log = Join-Path $dir 'backend.log'
    $proc = $null
    try {
        # The backend's own config names are dropped from the inherited environment too: .env is the only source.
        $remove = @($envCopy.Keys) + $script:BackendConfigNames
        $proc = Start-YvBackgroundProcess -FilePath $node -ArgumentList $entry -LogFile $log -WorkingDirectory $Path -RemoveEnvironment $remove
        $url = "http://127.0.0.1:$Port"
        $healthy = {
            try { (Invoke-WebRequest -Uri "$url/health" -SkipHttpErrorCheck -TimeoutSec 2 -UseBasicParsing).StatusCode -eq 200 }
            catch { $false }
        }
        Wait-YvCondition -Condition $healthy -TimeoutSec $TimeoutSec -IntervalMs 100 -Process $proc -What "Start-TestSampleBackend: node dist/index.js in $Path (waiting for GET $url/health to answer 200)" -LogFile $log
        New-YvStartedService -TypeName SampleBackend -Process $proc -Directory $dir -Stopwatch $sw -Properties ([ordered]@{
                Port      = $Port
                Url       = $url
                HealthUrl = "$url/health"
                LogFile   = $log
                Path      = $Path
                EnvFile   = $envFile
            })
    } catch {
        $err = $_
        Undo-YvStart -Process $proc -Directory $dir
        throw $err
    }
}

function Stop-TestSampleBackend {
    <# .SYNOPSIS SIGTERM, SIGKILL after 10 s; removes the log directory (not the checkout). Idempotent. #>
    [CmdletBinding()]
    param([Parameter(Mandatory, ValueFromPipeline)] [AllowNull()] $Backend)
    process { if ($null -ne $Backend) { Stop-YvStartedProcess -Service $Backend -GraceSec 10 } }
}

function Start-TestBackendStack {
    <#
    .SYNOPSIS PostgreSQL + Stellar RPC stand-in + sample origin + checkout of -Ref + migrations + backend.
    .OUTPUTS Object with Postgres, Rpc, Origin, Checkout, Backend, Environment, Port, Url, HealthUrl, Directory,
             StartSeconds, Timings.
    #>
    [CmdletBinding()]
    param(
        [string] $Ref = 'v1.2.3',
        [int] $Port,
        [hashtable] $ExtraEnvironment = @{},
        [int] $TimeoutSec = 30
    )
    Set-StrictMode -Version Latest
    $ErrorActionPreference = 'Stop'
    $sw = [System.Diagnostics.Stopwatch]::StartNew()
    $timings = [ordered]@{}
    $lap = [System.Diagnostics.Stopwatch]::StartNew()
    $stack = [pscustomobject]@{
        PSTypeName   = 'YieldVault.TestServices.BackendStack'
        Postgres     = $null
        Rpc          = $null
        Origin       = $null
        Checkout     = $null
        Backend      = $null
        Environment  = $null
        Port         = 0
        Url          = $null
        HealthUrl    = $null
        Directory    = (New-YvTempDirectory -Service stack)
        StartSeconds = 0
        Timings      = $timings
    }
    try {
        $stack.Postgres = Start-TestPostgres; $timings['Postgres'] = [math]::Round($lap.Elapsed.TotalSeconds, 2); $lap.Restart()
        $stack.Rpc = Start-TestStellarRpc; $timings['StellarRpc'] = [math]::Round($lap.Elapsed.TotalSeconds, 2); $lap.Restart()
        $stack.Origin = New-TestSampleOrigin -Directory $stack.Directory; $timings['Origin'] = [math]::Round($lap.Elapsed.TotalSeconds, 2); $lap.Restart()
        $stack.Checkout = New-TestSampleCheckout -Origin $stack.Origin -Ref $Ref -Path (Join-Path $stack.Directory 'yieldvault-backend'); $timings['Checkout'] = [math]::Round($lap.Elapsed.TotalSeconds, 2); $lap.Restart()
        [void](Invoke-TestSampleMigration -Path $stack.Checkout -DatabaseUrl $stack.Postgres.DatabaseUrl); $timings['Migration'] = [math]::Round($lap.Elapsed.TotalSeconds, 2); $lap.Restart()
        if (-not $Port) { $Port = Get-FreeTcpPort }
        [void][System.IO.Directory]::CreateDirectory((Join-Path $stack.Directory 'logs'))
        $envTable = @{
            NODE_ENV          = 'production'
            PORT              = [string]$Port
            STELLAR_RPC_URL   = $stack.Rpc.Url
            VAULT_CONTRACT_ID = 'C' + (New-YvRandomString -Length 55 -Alphabet 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567')
            DATABASE_URL      = $stack.Postgres.DatabaseUrl
            ADMIN_API_KEY     = New-YvRandomString -Length 32
            LOG_FILE          = Join-Path $stack.Directory 'logs/backend.log'
        }
        foreach ($k in $ExtraEnvironment.Keys) { $envTable[$k] = $ExtraEnvironment[$k] }
        $stack.Environment = $envTable
        $stack.Backend = Start-TestSampleBackend -Path $stack.Checkout -Environment $envTable -TimeoutSec $TimeoutSec; $timings['Backend'] = [math]::Round($lap.Elapsed.TotalSeconds, 2)
        $stack.Port = $stack.Backend.Port
        $stack.Url = $stack.Backend.Url
        $stack.HealthUrl = $stack.Backend.HealthUrl
        $stack.StartSeconds = [math]::Round($sw.Elapsed.TotalSeconds, 2)
        Register-YvStarted $stack
        $stack
    } catch {
        $err = $_
        try { Stop-TestBackendStack -Stack $stack } catch { Write-Verbose "cleanup after failed stack start: $_" }
        throw $err
    }
}

function Stop-TestBackendStack {
    <# .SYNOPSIS Stops backend, RPC, PostgreSQL and removes origin and checkout. Idempotent. #>
    [CmdletBinding()]
    param([Parameter(Mandatory, ValueFromPipeline)] [AllowNull()] $Stack)
    process {
        Set-StrictMode -Version Latest
        $ErrorActionPreference = 'Stop'
        if ($null -eq $Stack) { return }
        $errors = @()
        foreach ($step in @(
                @{ Name = 'Backend'; Stop = { param($o) Stop-TestSampleBackend -Backend $o } },
                @{ Name = 'Rpc'; Stop = { param($o) Stop-TestStellarRpc -Rpc $o } },
                @{ Name = 'Postgres'; Stop = { param($o) Stop-TestPostgres -Postgres $o } })) {
            try { & $step.Stop (Get-YvProperty $Stack $step.Name) } catch { $errors += "$($step.Name): $_" }
        }
        try { Remove-YvDirectory -Path (Get-YvProperty $Stack 'Directory') } catch { $errors += "Directory: $_" }
        Unregister-YvStarted $Stack
        if ($errors) { throw "Stop-TestBackendStack: $($errors -join '; ')" }
    }
}

#endregion

function Stop-AllTestServices {
    <# .SYNOPSIS Stops everything this module instance started and has not stopped yet (for AfterAll safety nets). #>
    [CmdletBinding()]
    param()
    Set-StrictMode -Version Latest
    $ErrorActionPreference = 'Stop'
    $items = $script:Started.ToArray()
    [array]::Reverse($items)
    foreach ($o in $items) {
        $type = @($o.PSObject.TypeNames)[0]
        try {
            switch ($type) {
                'YieldVault.TestServices.BackendStack' { Stop-TestBackendStack -Stack $o }
                'YieldVault.TestServices.SampleBackend' { Stop-TestSampleBackend -Backend $o }
                'YieldVault.TestServices.StellarRpc' { Stop-TestStellarRpc -Rpc $o }
                'YieldVault.TestServices.Postgres' { Stop-TestPostgres -Postgres $o }
                'YieldVault.TestServices.Sshd' { Stop-TestSshd -Sshd $o }
                'YieldVault.TestServices.SshAgent' { Stop-TestSshAgent -Agent $o }
                'YieldVault.TestServices.Dockerd' { Stop-TestDockerd -Dockerd $o }
                default { Unregister-YvStarted $o }
            }
        } catch {
            Write-Warning "Stop-AllTestServices: stopping $type failed: $_"
        }
    }
}

Export-ModuleMember -Function @(
    'Get-FreeTcpPort'
    'Start-TestSshd', 'Stop-TestSshd', 'Start-TestSshAgent', 'Stop-TestSshAgent'
    'Start-TestDockerd', 'Stop-TestDockerd', 'New-TestBusyboxImage'
    'Start-TestPostgres', 'Stop-TestPostgres'
    'Start-TestStellarRpc', 'Set-TestStellarRpcMode', 'Stop-TestStellarRpc'
    'New-TestSampleOrigin', 'Remove-TestSampleOrigin'
    'New-TestSampleCheckout', 'Remove-TestSampleCheckout'
    'Invoke-TestSampleMigration'
    'Start-TestSampleBackend', 'Stop-TestSampleBackend'
    'Start-TestBackendStack', 'Stop-TestBackendStack'
    'Stop-AllTestServices'
)
