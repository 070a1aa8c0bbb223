# The Docker service manager end to end, through the module's cmdlets, against the real Docker engine: the sample
# backend as a container (an image built here from this machine's node, no pulls), read and driven through the
# engine's Unix socket and over SSH (docker system dial-stdio on the far end of the target's own SSH connection),
# with PostgreSQL and the RPC stand-in on the host's 127.0.0.1.
# Two cases still call Core's DockerServiceManager by reflection, each says why: what only Core's ServiceState shows
# (image, start time, published ports, the engine's own words), and the kill, which no cmdlet reaches for Docker.
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestCommon.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot '../services/YieldVault.TestServices.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot '../services/Docker.TestServices.psm1') -Force
    Import-Module (Get-VaultModuleManifest) -Force

    $script:Dockerd = Start-TestDockerd
    [void](Grant-TestDockerAccess -User yvops)
    $script:Sshd = Start-TestSshd
    $script:Postgres = Start-TestPostgres
    $script:Rpc = Start-TestStellarRpc
    $script:Image = New-TestBackendImage

    $run = Get-TestDockerRunId
    $script:Environment = @{
        NODE_ENV          = 'production'
        STELLAR_RPC_URL   = $Rpc.Url
        VAULT_CONTRACT_ID = 'C' + ('A' * 55)
        DATABASE_URL      = $Postgres.DatabaseUrl
        ADMIN_API_KEY     = [guid]::NewGuid().ToString('N')
        LOG_FILE          = '/tmp/backend.log'
    }
    $script:Web = Start-TestBackendContainer -Name "yv-dtest-$run-web" -Environment $Environment
    $script:Published = Start-TestBackendContainer -Name "yv-dtest-$run-pub" -PublishPort (Get-FreeTcpPort) -Environment $Environment
    # No required variables: the backend exits 1 at once, and the engine restarts it over and over.
    $script:Crash = Start-TestBackendContainer -Name "yv-dtest-$run-crash" -RestartPolicy always -NoWait
    $script:Unknown = "yv-dtest-$run-nosuch"
    # Where nothing listens: the port of the targets whose container serves nothing.
    $script:Silent = Get-FreeTcpPort

    $script:SshSettings = @{ HostName = $Sshd.HostName; SshPort = $Sshd.Port; User = $Sshd.User; KeyFile = $Sshd.UserKeyFile; KnownHostsFile = $Sshd.KnownHostsFile; ConnectTimeoutSec = 5 }
    function New-DockerTarget([string] $Transport, [string] $Container, [int] $Port = $Silent, [hashtable] $Extra = @{}) {
        $p = @{ Name = "docker-$Transport"; ServiceManager = 'Docker'; ServiceName = $Container; Port = $Port }
        if ($Transport -eq 'ssh') { $p += $SshSettings }
        foreach ($k in $Extra.Keys) { $p[$k] = $Extra[$k] }
        New-VaultTarget @p
    }

    function Get-Status([string] $Transport, [string] $Container, [int] $Port = $Silent, [switch] $Detailed) {
        New-DockerTarget $Transport $Container $Port | Get-VaultBackendStatus -Detailed:$Detailed -ErrorAction Stop
    }

    # The container's exit code as the engine reports it (docker CLI, independent of the module).
    function Get-ExitCode([string] $Container) { (& docker container inspect --format '{{.State.ExitCode}}' $Container).Trim() }

    function Test-PortOpen([int] $Port) {
        $c = [Net.Sockets.TcpClient]::new()
        try { $c.ConnectAsync('127.0.0.1', $Port).Wait(1000) -and $c.Connected } catch { $false } finally { $c.Dispose() }
    }

    function Get-AcceptedLogins([string] $LogFile, [string] $User = '') { @(Select-String -LiteralPath $LogFile -Pattern "Accepted publickey for $User" -ErrorAction Ignore).Count }

    # Core by reflection, for the two cases no cmdlet reaches. Its types live in the module's own load context: reach
    # them through an object of that assembly.
    $script:Core = (New-VaultTarget -Name probe).GetType().Assembly
    $script:ManagerType = $Core.GetType('YieldVault.Ops.Services.DockerServiceManager', $true)
    $script:LocalShell = $Core.GetType('YieldVault.Ops.Hosts.LocalShell', $true)::new()
    $script:SshShell = $Core.GetType('YieldVault.Ops.Hosts.SshShell', $true)::new((New-DockerTarget ssh $Web.Name).Ssh)
    function New-Manager([string] $Transport, [string] $Container) {
        $ManagerType::new((New-DockerTarget $Transport $Container), $(if ($Transport -eq 'ssh') { $SshShell } else { $LocalShell }))
    }
    function Get-CoreState([string] $Transport, [string] $Container) {
        (New-Manager $Transport $Container).GetStateAsync([Threading.CancellationToken]::None).GetAwaiter().GetResult()
    }
}

AfterAll {
    # Only what this run made: its containers (by run label), its sshd, PostgreSQL and RPC stand-in. The engine is
    # shared with other test runs and stays up; the backend image stays cached by tag.
    Remove-AllTestDockerResources
    if ($script:SshShell) { $SshShell.Dispose() }
    if ($script:LocalShell) { $LocalShell.Dispose() }
    Stop-TestSshd $script:NoDockerSshd
    Stop-TestSshd $script:Sshd
    Stop-TestStellarRpc $script:Rpc
    Stop-TestPostgres $script:Postgres
}

Describe 'Get-VaultBackendStatus and Get-VaultBackendLog read a Docker backend over <Transport>' -ForEach @(@{ Transport = 'local' }, @{ Transport = 'ssh' }) {
    It 'reads the running backend: pid, uptime, no restarts, resources, health and version' {
        $s = Get-Status $Transport $Web.Name $Web.Port -Detailed
        $s.State | Should-Be 'Running'
        $s.Manager | Should-Be 'Docker'
        $s.Pid | Should-BeGreaterThan 1
        Test-Path "/proc/$($s.Pid)" | Should-BeTrue
        $s.Restarts | Should-Be 0
        $s.Uptime.TotalSeconds | Should-BeGreaterThan 0
        $s.Uptime.TotalMinutes | Should-BeLessThan 5
        $s.MemoryMB | Should-BeGreaterThan 1
        $s.CpuPercent | Should-BeGreaterThanOrEqual 0
        @($s.Problems | Where-Object { $_ -like 'service*' }).Count | Should-Be 0
        # Host networking: the backend serves on the host's loopback with its dependencies up.
        $s.Healthy | Should-BeTrue
        $s.Ready | Should-BeTrue
        $s.Version | Should-Be '1.2.3'
        (Invoke-RestMethod -Uri $Web.HealthUrl -TimeoutSec 5).status | Should-Be 'healthy'
    }

    It 'reads the container published on 127.0.0.1 through its published port' {
        $s = Get-Status $Transport $Published.Name $Published.Port
        $s.State | Should-Be 'Running'
        # On the bridge network the container's 127.0.0.1 is its own, so its database is down: it answered, unhealthy.
        $s.Healthy | Should-BeFalse
        $s.Checks | Should-BeLikeString '*database=down*'
        $s.Version | Should-Be '1.2.3'
        (Invoke-RestMethod -Uri "$($Published.Url)/api/v1/version" -TimeoutSec 5).version | Should-Be '1.2.3'
    }

    It 'shows the container that lacks its required variables as crash-looping, with restarts and the error in its log' {
        $sw = [Diagnostics.Stopwatch]::StartNew()
        for ($i = 0; $i -lt 100; $i++) {
            $s = Get-Status $Transport $Crash.Name
            if (($s.State -eq 'CrashLooping' -and $s.Restarts -gt 0) -or $sw.Elapsed.TotalSeconds -ge 20) { break }
            Start-Sleep -Milliseconds 250
        }
        $s.State | Should-Be 'CrashLooping'
        $s.Restarts | Should-BeGreaterThan 0
        $s.Healthy | Should-BeNull   # nothing answers
        $errors = @(New-DockerTarget $Transport $Crash.Name | Get-VaultBackendLog -Source Manager -Tail 20 -Level Error -ErrorAction Stop)
        ($errors.Message -join "`n") | Should-BeLikeString '*Missing required environment variables: STELLAR_RPC_URL, VAULT_CONTRACT_ID, DATABASE_URL*'
        $errors | Should-All { $_.Source | Should-Be 'docker' }
    }

    It 'reports NotFound, not an error, for an unknown container' {
        $s = New-DockerTarget $Transport $Unknown | Get-VaultBackendStatus -ErrorVariable errs -ErrorAction SilentlyContinue
        $errs.Count | Should-Be 0
        $s.State | Should-Be 'NotFound'
        $s.Pid | Should-BeNull
        @($s.Problems | Where-Object { $_ -like 'service*' }).Count | Should-Be 0
    }

    It 'reads the log, stdout and stderr, with timestamps, newest last' {
        $target = New-DockerTarget $Transport $Web.Name $Web.Port
        $entries = @($target | Get-VaultBackendLog -Source Manager -Tail 50 -ErrorAction Stop)
        $entries.Count | Should-BeGreaterThan 2
        $entries | Should-All { $_.Source | Should-Be 'docker' }
        $entries | Should-All { $_.Time | Should-NotBeNull }
        $entries.Message | Should-ContainCollection "Server started on port $($Web.Port)"
        $entries[0].Message | Should-BeLikeString 'Starting yieldvault-backend 1.2.3 *'
        $entries[0].Level | Should-Be 'Info'
        $entries[-1].Time | Should-BeGreaterThanOrEqual $entries[0].Time
        @($target | Get-VaultBackendLog -Source Manager -Tail 1 -ErrorAction Stop).Count | Should-Be 1
        # Nothing was logged after a time in the future.
        @($target | Get-VaultBackendLog -Source Manager -Tail 50 -Since ([DateTime]::UtcNow.AddMinutes(1)) -ErrorAction Stop).Count | Should-Be 0
    }

    It 'has image, start time, published ports and the engine''s own words in Core''s ServiceState' {
        # By reflection: VaultBackendStatus has no Image, StartedAt, Ports or Detail, so no cmdlet shows them.
        $s = Get-CoreState $Transport $Web.Name
        $s.ServiceName | Should-Be $Web.Name
        $s.Image | Should-Be 'yieldvault-backend:v1.2.3-test'
        $s.StartedAt | Should-BeGreaterThan ([DateTimeOffset]::UtcNow.AddMinutes(-5))
        $s.StartedAt | Should-BeLessThan ([DateTimeOffset]::UtcNow.AddSeconds(5))
        $s.Detail | Should-Be 'running'
        $s.Ports.Count | Should-Be 0   # host networking: nothing is published
        (Get-CoreState $Transport $Published.Name).Ports | Should-BeCollection @("127.0.0.1:$($Published.Port)->3000/tcp")
        # A crash-looping container is "running" for the moment its process lives between restarts: read again (bounded)
        # until the engine says what the loop is.
        $crashDetail = $null
        foreach ($i in 1..25) {
            $crashDetail = (Get-CoreState $Transport $Crash.Name).Detail
            if ($crashDetail -ne 'running') { break }
            Start-Sleep -Milliseconds 200
        }
        $crashDetail | Should-MatchString '^(restarting \(last exit code 1, restart policy always\)|exited \(code 1\))$'
        (Get-CoreState $Transport $Unknown).Detail | Should-BeLikeString "no container named '$Unknown' on *"
    }
}

Describe 'The Docker engine over SSH' {
    It "carries every request of a status reading over the target's one SSH connection (dial-stdio channels)" {
        # The RSA key: no other case logs in with it, so the session has no connection for this target yet.
        $target = New-DockerTarget ssh $Web.Name $Web.Port -Extra @{ KeyFile = $Sshd.UserRsaKeyFile }
        $before = Get-AcceptedLogins $Sshd.LogFile
        1..3 | ForEach-Object { ($target | Get-VaultBackendStatus -ErrorAction Stop).State | Should-Be 'Running' }
        Start-Sleep -Milliseconds 300
        (Get-AcceptedLogins $Sshd.LogFile) - $before | Should-Be 1
    }

    It 'takes a unix:// DockerHost of an SSH target as the socket on that server' {
        $target = New-DockerTarget ssh $Web.Name $Web.Port -Extra @{ DockerHost = 'unix:///var/run/docker.sock' }
        ($target | Get-VaultBackendStatus -ErrorAction Stop).State | Should-Be 'Running'

        $missing = New-DockerTarget ssh $Web.Name $Web.Port -Extra @{ DockerHost = 'unix:///run/yv-no-such/docker.sock' }
        $expected = "'docker -H unix:///run/yv-no-such/docker.sock system dial-stdio' on ssh://yvops@127.0.0.1:$($Sshd.Port) exited with status 1 before the Docker engine answered: *no such file or directory*"
        # The status reading goes on without the engine (the backend still answers) and says why there is no state.
        $s = $missing | Get-VaultBackendStatus -ErrorAction Stop
        $s.State | Should-Be 'Unknown'
        $s.Healthy | Should-BeTrue
        @($s.Problems | Where-Object { $_ -like "service (Docker): $expected" }).Count | Should-Be 1
        $e = Get-VaultCommandError $missing Get-VaultBackendLog 'DockerUnreachable,YieldVault.Ops.Commands.GetVaultBackendLogCommand' -Parameters @{ Source = 'Manager' }
        $e.Exception.Message | Should-BeLikeString $expected
    }

    It 'writes DockerUnreachable with the remote error when the SSH user may not use the engine' {
        $script:NoDockerSshd = Start-TestSshd -User yvnodocker
        $target = New-DockerTarget ssh $Web.Name $Web.Port -Extra @{ SshPort = $NoDockerSshd.Port; User = $NoDockerSshd.User; KeyFile = $NoDockerSshd.UserKeyFile; KnownHostsFile = $NoDockerSshd.KnownHostsFile }
        $e = Get-VaultCommandError $target Get-VaultBackendLog 'DockerUnreachable,YieldVault.Ops.Commands.GetVaultBackendLogCommand' -Category ConnectionError -Parameters @{ Source = 'Manager' }
        $e.Exception.Message | Should-BeLikeString "'docker system dial-stdio' on ssh://yvnodocker@127.0.0.1:$($NoDockerSshd.Port) exited with status 1 before the Docker engine answered: *permission denied*"
        $e.ErrorDetails.RecommendedAction | Should-BeLikeString '*usermod -aG docker yvnodocker*'
    }

    It 'dials an ssh:// DockerHost of another login over a connection of its own, with the target''s key' {
        # That sshd's authorized_keys serves every user, so yvops logs in there with the yvnodocker target's key; the
        # target's own login (yvnodocker) may not use the engine, so a Running state can only come from that connection.
        $target = New-DockerTarget ssh $Web.Name $Web.Port -Extra @{
            SshPort = $NoDockerSshd.Port; User = $NoDockerSshd.User; KeyFile = $NoDockerSshd.UserKeyFile; KnownHostsFile = $NoDockerSshd.KnownHostsFile
            DockerHost = "ssh://yvops@127.0.0.1:$($NoDockerSshd.Port)"
        }
        $before = Get-AcceptedLogins $NoDockerSshd.LogFile yvops
        $s = $target | Get-VaultBackendStatus -ErrorAction Stop
        $s.State | Should-Be 'Running'
        $s.Pid | Should-BeGreaterThan 1
        Start-Sleep -Milliseconds 300
        (Get-AcceptedLogins $NoDockerSshd.LogFile yvops) - $before | Should-Be 1
    }
}

Describe 'Stop-, Start- and Restart-VaultBackend change the container state' {
    BeforeAll {
        $script:LocalWeb = New-DockerTarget local $Web.Name $Web.Port
        $script:SshWeb = New-DockerTarget ssh $Web.Name $Web.Port
    }

    It 'stops it gracefully: Stopped on both transports, exit code 0, the process gone, the port free' {
        Test-PortOpen $Web.Port | Should-BeTrue
        $r = $LocalWeb | Stop-VaultBackend -TimeoutSec 10 -Confirm:$false -ErrorAction Stop
        $r.Stopped | Should-BeTrue
        $r.Forced | Should-BeFalse
        $r.StateAfter | Should-Be 'Stopped'
        $r.DurationMs | Should-BeLessThan 10000
        $r.Pid | Should-BeGreaterThan 1
        Test-Path "/proc/$($r.Pid)" | Should-BeFalse
        foreach ($transport in 'local', 'ssh') {
            $s = Get-Status $transport $Web.Name $Web.Port
            $s.State | Should-Be 'Stopped'
            $s.Pid | Should-BeNull
            $s.Uptime | Should-BeNull
            $s.Healthy | Should-BeNull
        }
        Get-ExitCode $Web.Name | Should-Be '0'
        Test-PortOpen $Web.Port | Should-BeFalse
        @($LocalWeb | Get-VaultBackendLog -Source Manager -Tail 5 -ErrorAction Stop).Message | Should-ContainCollection 'Server stopped'
        # Stopping a stopped container is not an error.
        $again = $SshWeb | Stop-VaultBackend -TimeoutSec 5 -Confirm:$false -ErrorAction Stop
        $again.Stopped | Should-BeTrue
        $again.Pid | Should-BeNull
    }

    It 'starts it again over SSH and it serves' {
        $h = $SshWeb | Start-VaultBackend -TimeoutSec 30 -Confirm:$false -ErrorAction Stop
        $h.Healthy | Should-BeTrue
        $h.Ready | Should-BeTrue
        (Invoke-RestMethod -Uri $Web.HealthUrl -TimeoutSec 5).status | Should-Be 'healthy'
        (Get-Status ssh $Web.Name $Web.Port).State | Should-Be 'Running'
        # Starting a running container is not an error either.
        ($LocalWeb | Start-VaultBackend -TimeoutSec 30 -Confirm:$false -ErrorAction Stop).Healthy | Should-BeTrue
    }

    It 'restarts it: a new process and a new start time' {
        $before = Get-Status local $Web.Name $Web.Port
        Start-Sleep -Milliseconds 1100   # so that an uptime that did not start again is over a second longer than the restart
        $sw = [Diagnostics.Stopwatch]::StartNew()
        ($LocalWeb | Restart-VaultBackend -TimeoutSec 30 -Confirm:$false -ErrorAction Stop).Healthy | Should-BeTrue
        $after = Get-Status local $Web.Name $Web.Port
        $after.State | Should-Be 'Running'
        $after.Pid | Should-NotBe $before.Pid
        Test-Path "/proc/$($before.Pid)" | Should-BeFalse
        $after.Uptime.TotalSeconds | Should-BeLessThanOrEqual ($sw.Elapsed.TotalSeconds + 0.5)
    }

    It 'kills it: exit code 137 and Stopped; killing a stopped container is not an error' {
        # By reflection: for Docker, Stop-VaultBackend -Force never needs KillAsync (the engine's own stop kills after
        # -TimeoutSec and returns), so no cmdlet reaches it.
        (New-Manager ssh $Web.Name).KillAsync([Threading.CancellationToken]::None).GetAwaiter().GetResult()
        (Get-Status local $Web.Name $Web.Port).State | Should-Be 'Stopped'
        (Get-CoreState local $Web.Name).Detail | Should-Be 'exited (code 137)'
        Get-ExitCode $Web.Name | Should-Be '137'
        Test-PortOpen $Web.Port | Should-BeFalse
        (New-Manager local $Web.Name).KillAsync([Threading.CancellationToken]::None).GetAwaiter().GetResult()
    }

    It 'writes ContainerNotFound or ServiceNotFound when asked to act on an unknown container over <Transport>' -ForEach @(@{ Transport = 'local' }, @{ Transport = 'ssh' }) {
        $target = New-DockerTarget $Transport $Unknown
        $e = Get-VaultCommandError $target Start-VaultBackend 'ContainerNotFound,YieldVault.Ops.Commands.StartVaultBackendCommand' -Category ObjectNotFound
        $e.Exception.Message | Should-BeLikeString "There is no container named '$Unknown' on the Docker engine at *"
        $e.TargetObject.ServiceName | Should-Be $Unknown
        $null = Get-VaultCommandError $target Restart-VaultBackend 'ContainerNotFound,YieldVault.Ops.Commands.RestartVaultBackendCommand' -Category ObjectNotFound
        $null = Get-VaultCommandError $target Stop-VaultBackend 'ServiceNotFound,YieldVault.Ops.Commands.StopVaultBackendCommand' -Category ObjectNotFound
    }
}
