# DockerServiceManager end to end against the real Docker engine: the sample backend as a container (an image built
# here from this machine's node, no pulls), read and driven through the engine's Unix socket and over SSH
# (docker system dial-stdio on the far end of the target's own SSH connection), with PostgreSQL and the RPC stand-in
# on the host's 127.0.0.1.
# Until the cmdlets that use it exist, Core is called directly: [DockerServiceManager]::new($target, $shell).
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

    # Core's types live in the module's own load context: reach them through an object of that assembly.
    $script:Core = (New-VaultTarget -Name probe).GetType().Assembly
    $script:ManagerType = $Core.GetType('YieldVault.Ops.Services.DockerServiceManager', $true)
    $script:LocalShell = $Core.GetType('YieldVault.Ops.Hosts.LocalShell', $true)::new()
    $script:SshTarget = New-VaultTarget -Name docker-ssh -HostName $Sshd.HostName -SshPort $Sshd.Port -User $Sshd.User -KeyFile $Sshd.UserKeyFile -KnownHostsFile $Sshd.KnownHostsFile -ConnectTimeoutSec 5
    $script:SshShell = $Core.GetType('YieldVault.Ops.Hosts.SshShell', $true)::new($SshTarget.Ssh)

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

    function New-Manager([string] $Transport, [string] $Container) {
        if ($Transport -eq 'ssh') {
            $target = New-VaultTarget -Name docker-ssh -HostName $Sshd.HostName -SshPort $Sshd.Port -User $Sshd.User -KeyFile $Sshd.UserKeyFile -KnownHostsFile $Sshd.KnownHostsFile -ServiceManager Docker -ServiceName $Container
            return $ManagerType::new($target, $SshShell)
        }
        $ManagerType::new((New-VaultTarget -Name docker-local -ServiceManager Docker -ServiceName $Container), $LocalShell)
    }

    function Wait-Core($Task) { $Task.GetAwaiter().GetResult() }

    function Get-State([string] $Transport, [string] $Container) {
        Wait-Core (New-Manager $Transport $Container).GetStateAsync([Threading.CancellationToken]::None)
    }

    function Get-VaultError([scriptblock] $Call) {
        # The VaultException a Core call threw (PowerShell wraps it in MethodInvocationException).
        try { & $Call } catch {
            for ($e = $_.Exception; $e; $e = $e.InnerException) { if ($e.GetType().Name -eq 'VaultException') { return $e } }
            throw
        }
        throw 'The call did not fail.'
    }

    function Test-PortOpen([int] $Port) {
        $c = [Net.Sockets.TcpClient]::new()
        try { $c.ConnectAsync('127.0.0.1', $Port).Wait(1000) -and $c.Connected } catch { $false } finally { $c.Dispose() }
    }

    function Get-AcceptedLogins([string] $LogFile) { @(Select-String -LiteralPath $LogFile -Pattern 'Accepted publickey for' -ErrorAction Ignore).Count }
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

Describe 'DockerServiceManager reads over <Transport>' -ForEach @(@{ Transport = 'local' }, @{ Transport = 'ssh' }) {
    It 'reads the running backend: pid, image, start time, no restarts, resources' {
        $s = Get-State $Transport $Web.Name
        $s.Status | Should-Be 'Running'
        $s.IsRunning | Should-BeTrue
        $s.Manager | Should-Be 'Docker'
        $s.ServiceName | Should-Be $Web.Name
        $s.Pid | Should-BeGreaterThan 1
        Test-Path "/proc/$($s.Pid)" | Should-BeTrue
        $s.Image | Should-Be 'yieldvault-backend:v1.2.3-test'
        $s.Restarts | Should-Be 0
        $s.StartedAt | Should-BeGreaterThan ([DateTimeOffset]::UtcNow.AddMinutes(-5))
        $s.StartedAt | Should-BeLessThan ([DateTimeOffset]::UtcNow.AddSeconds(5))
        $s.Uptime | Should-NotBeNull
        $s.Detail | Should-Be 'running'
        $s.MemoryBytes | Should-BeGreaterThan 1MB
        $s.CpuPercent | Should-BeGreaterThanOrEqual 0
        # Host networking: nothing is published, and the backend serves on the host's loopback with its dependencies up.
        $s.Ports.Count | Should-Be 0
        (Invoke-RestMethod -Uri $Web.HealthUrl -TimeoutSec 5).status | Should-Be 'healthy'
    }

    It 'shows published ports the way docker ps does' {
        $s = Get-State $Transport $Published.Name
        $s.Status | Should-Be 'Running'
        $s.Ports | Should-BeCollection @("127.0.0.1:$($Published.Port)->3000/tcp")
        (Invoke-RestMethod -Uri "$($Published.Url)/api/v1/version" -TimeoutSec 5).version | Should-Be '1.2.3'
    }

    It 'shows the container that lacks its required variables as crash-looping, with restarts' {
        $deadline = [DateTime]::UtcNow.AddSeconds(20)
        do {
            $s = Get-State $Transport $Crash.Name
            if ($s.Status -eq 'CrashLooping' -and $s.Restarts -gt 0) { break }
            Start-Sleep -Milliseconds 250
        } while ([DateTime]::UtcNow -lt $deadline)
        $s.Status | Should-Be 'CrashLooping'
        $s.Restarts | Should-BeGreaterThan 0
        $s.Detail | Should-MatchString '^(restarting \(last exit code 1, restart policy always\)|exited \(code 1\))$'
        $lines = Wait-Core (New-Manager $Transport $Crash.Name).ReadLogAsync(20, $null, [Threading.CancellationToken]::None)
        ($lines -join "`n") | Should-BeLikeString '*ERROR Missing required environment variables: STELLAR_RPC_URL, VAULT_CONTRACT_ID, DATABASE_URL*'
    }

    It 'reports NotFound, not an error, for an unknown container' {
        $s = Get-State $Transport $Unknown
        $s.Status | Should-Be 'NotFound'
        $s.Pid | Should-BeNull
        $s.Detail | Should-BeLikeString "no container named '$Unknown' on *"
    }

    It 'reads the log, stdout and stderr, with timestamps, newest last' {
        $lines = @(Wait-Core (New-Manager $Transport $Web.Name).ReadLogAsync(50, $null, [Threading.CancellationToken]::None))
        $lines.Count | Should-BeGreaterThan 2
        ($lines -join "`n") | Should-BeLikeString "*INFO Server started on port $($Web.Port)*"
        $lines[0] | Should-MatchString '^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z \d{4}-\d\d-\d\dT\S+ INFO Starting yieldvault-backend 1\.2\.3 '
        @(Wait-Core (New-Manager $Transport $Web.Name).ReadLogAsync(1, $null, [Threading.CancellationToken]::None)).Count | Should-Be 1
        # Nothing was logged after a time in the future.
        @(Wait-Core (New-Manager $Transport $Web.Name).ReadLogAsync(50, [DateTimeOffset]::UtcNow.AddMinutes(1), [Threading.CancellationToken]::None)).Count | Should-Be 0
    }
}

Describe 'The Docker engine over SSH' {
    It "carries every request over the target's one SSH connection (dial-stdio channels)" {
        $target = New-VaultTarget -Name docker-ssh-reuse -HostName $Sshd.HostName -SshPort $Sshd.Port -User $Sshd.User -KeyFile $Sshd.UserKeyFile -KnownHostsFile $Sshd.KnownHostsFile -ServiceManager Docker -ServiceName $Web.Name
        $shell = $Core.GetType('YieldVault.Ops.Hosts.SshShell', $true)::new($target.Ssh)
        try {
            $before = Get-AcceptedLogins $Sshd.LogFile
            1..3 | ForEach-Object { (Wait-Core $ManagerType::new($target, $shell).GetStateAsync([Threading.CancellationToken]::None)).Status | Should-Be 'Running' }
            Start-Sleep -Milliseconds 300
            (Get-AcceptedLogins $Sshd.LogFile) - $before | Should-Be 1
        }
        finally { $shell.Dispose() }
    }

    It 'takes a unix:// DockerHost of an SSH target as the socket on that server' {
        $target = New-VaultTarget -Name docker-ssh-socket -HostName $Sshd.HostName -SshPort $Sshd.Port -User $Sshd.User -KeyFile $Sshd.UserKeyFile -KnownHostsFile $Sshd.KnownHostsFile -ServiceManager Docker -ServiceName $Web.Name -DockerHost 'unix:///var/run/docker.sock'
        (Wait-Core $ManagerType::new($target, $SshShell).GetStateAsync([Threading.CancellationToken]::None)).Status | Should-Be 'Running'
        $missing = New-VaultTarget -Name docker-ssh-socket -HostName $Sshd.HostName -SshPort $Sshd.Port -User $Sshd.User -KeyFile $Sshd.UserKeyFile -KnownHostsFile $Sshd.KnownHostsFile -ServiceManager Docker -ServiceName $Web.Name -DockerHost 'unix:///run/yv-no-such/docker.sock'
        $e = Get-VaultError { Wait-Core $ManagerType::new($missing, $SshShell).GetStateAsync([Threading.CancellationToken]::None) }
        $e.ErrorId | Should-Be 'DockerUnreachable'
        $e.Message | Should-BeLikeString "'docker -H unix:///run/yv-no-such/docker.sock system dial-stdio' on ssh://yvops@127.0.0.1:$($Sshd.Port) exited with status 1 before the Docker engine answered: *no such file or directory*"
    }

    It 'writes DockerUnreachable with the remote error when the SSH user may not use the engine' {
        $script:NoDockerSshd = Start-TestSshd -User yvnodocker
        $target = New-VaultTarget -Name docker-denied -HostName $NoDockerSshd.HostName -SshPort $NoDockerSshd.Port -User $NoDockerSshd.User -KeyFile $NoDockerSshd.UserKeyFile -KnownHostsFile $NoDockerSshd.KnownHostsFile -ConnectTimeoutSec 5 -ServiceManager Docker -ServiceName $Web.Name
        $shell = $Core.GetType('YieldVault.Ops.Hosts.SshShell', $true)::new($target.Ssh)
        try {
            $e = Get-VaultError { Wait-Core $ManagerType::new($target, $shell).GetStateAsync([Threading.CancellationToken]::None) }
            $e.ErrorId | Should-Be 'DockerUnreachable'
            $e.Kind | Should-Be 'ConnectionError'
            $e.Message | Should-BeLikeString "'docker system dial-stdio' on ssh://yvnodocker@127.0.0.1:$($NoDockerSshd.Port) exited with status 1 before the Docker engine answered: *permission denied*"
            $e.RecommendedAction | Should-BeLikeString '*usermod -aG docker yvnodocker*'
        }
        finally { $shell.Dispose() }
    }

    It 'dials an ssh:// DockerHost of another login over a connection of its own, with the target''s key' {
        # That sshd's authorized_keys serves every user, so yvops logs in there with the yvnodocker target's key.
        $target = New-VaultTarget -Name docker-other-login -HostName $NoDockerSshd.HostName -SshPort $NoDockerSshd.Port -User $NoDockerSshd.User -KeyFile $NoDockerSshd.UserKeyFile -KnownHostsFile $NoDockerSshd.KnownHostsFile -ConnectTimeoutSec 5 -ServiceManager Docker -ServiceName $Web.Name -DockerHost "ssh://yvops@127.0.0.1:$($NoDockerSshd.Port)"
        $shell = $Core.GetType('YieldVault.Ops.Hosts.SshShell', $true)::new($target.Ssh)
        try {
            $before = @(Select-String -LiteralPath $NoDockerSshd.LogFile -Pattern 'Accepted publickey for yvops' -ErrorAction Ignore).Count
            (Wait-Core $ManagerType::new($target, $shell).GetStateAsync([Threading.CancellationToken]::None)).Status | Should-Be 'Running'
            Start-Sleep -Milliseconds 300
            @(Select-String -LiteralPath $NoDockerSshd.LogFile -Pattern 'Accepted publickey for yvops' -ErrorAction Ignore).Count - $before | Should-Be 1
            $shell.IsConnected | Should-BeFalse   # the target's own login was never needed
        }
        finally { $shell.Dispose() }
    }
}

Describe 'DockerServiceManager changes the container state' {
    It 'stops it gracefully: Stopped on both engines, exit code 0, the port is free' {
        Test-PortOpen $Web.Port | Should-BeTrue
        $watch = [Diagnostics.Stopwatch]::StartNew()
        [void](Wait-Core (New-Manager local $Web.Name).StopAsync([TimeSpan]::FromSeconds(10), [Threading.CancellationToken]::None))
        $watch.Elapsed.TotalSeconds | Should-BeLessThan 10
        foreach ($transport in 'local', 'ssh') {
            $s = Get-State $transport $Web.Name
            $s.Status | Should-Be 'Stopped'
            $s.Detail | Should-Be 'exited (code 0)'
            $s.Pid | Should-BeNull
            $s.Uptime | Should-BeNull
        }
        Test-PortOpen $Web.Port | Should-BeFalse
        $lines = Wait-Core (New-Manager local $Web.Name).ReadLogAsync(5, $null, [Threading.CancellationToken]::None)
        ($lines -join "`n") | Should-BeLikeString '*INFO Server stopped*'
        # Stopping a stopped container is not an error.
        [void](Wait-Core (New-Manager ssh $Web.Name).StopAsync([TimeSpan]::FromSeconds(5), [Threading.CancellationToken]::None))
    }

    It 'starts it again over SSH and it serves' {
        [void](Wait-Core (New-Manager ssh $Web.Name).StartAsync([Threading.CancellationToken]::None))
        $deadline = [DateTime]::UtcNow.AddSeconds(15)
        do {
            $healthy = try { (Invoke-RestMethod -Uri $Web.HealthUrl -TimeoutSec 2).status -eq 'healthy' } catch { $false }
            if (-not $healthy) { Start-Sleep -Milliseconds 200 }
        } until ($healthy -or [DateTime]::UtcNow -ge $deadline)
        $healthy | Should-BeTrue
        (Get-State ssh $Web.Name).Status | Should-Be 'Running'
        # Starting a running container is not an error either.
        [void](Wait-Core (New-Manager local $Web.Name).StartAsync([Threading.CancellationToken]::None))
    }

    It 'restarts it: a new process and a new start time' {
        $before = Get-State local $Web.Name
        [void](Wait-Core (New-Manager local $Web.Name).RestartAsync([Threading.CancellationToken]::None))
        $after = Get-State local $Web.Name
        $after.Status | Should-Be 'Running'
        $after.Pid | Should-NotBe $before.Pid
        $after.StartedAt | Should-BeGreaterThan $before.StartedAt
    }

    It 'kills it: exit code 137 and Stopped; killing a stopped container is not an error' {
        [void](Wait-Core (New-Manager ssh $Web.Name).KillAsync([Threading.CancellationToken]::None))
        $s = Get-State local $Web.Name
        $s.Status | Should-Be 'Stopped'
        $s.Detail | Should-Be 'exited (code 137)'
        Test-PortOpen $Web.Port | Should-BeFalse
        [void](Wait-Core (New-Manager local $Web.Name).KillAsync([Threading.CancellationToken]::None))
    }

    It 'writes ContainerNotFound when asked to act on an unknown container' -ForEach @(@{ Transport = 'local' }, @{ Transport = 'ssh' }) {
        $e = Get-VaultError { Wait-Core (New-Manager $Transport $Unknown).StartAsync([Threading.CancellationToken]::None) }
        $e.ErrorId | Should-Be 'ContainerNotFound'
        $e.Kind | Should-Be 'ObjectNotFound'
        $e.Message | Should-BeLikeString "There is no container named '$Unknown' on the Docker engine at *"
    }
}
