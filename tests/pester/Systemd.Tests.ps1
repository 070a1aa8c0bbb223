# The systemd service manager end to end: the sample backend as yieldvault-backend.service under a real
# systemd (PID 1 of an app-server container, tests/services/AppServer.TestServices.psm1), driven over real
# SSH as 'deploy', whose only sudo rules are systemctl and journalctl. PostgreSQL and the RPC stand-in run on
# the host's 127.0.0.1, which the container shares (host network).
# Until the lead's service cmdlets exist, the suite calls Core's SystemdServiceManager directly.
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestCommon.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot '../services/YieldVault.TestServices.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot '../services/AppServer.TestServices.psm1') -Force
    Import-Module (Get-VaultModuleManifest) -Force

    $script:Timings = [ordered]@{}
    $lap = [Diagnostics.Stopwatch]::StartNew()
    $script:Dockerd = Start-TestDockerd
    # Cold on a fresh machine (debootstrap, ~1-2 min), cached afterwards.
    $script:Image = New-TestAppServerImage
    $Timings['Image'] = $lap.Elapsed.TotalSeconds; $lap.Restart()
    $script:Postgres = Start-TestPostgres
    $script:Rpc = Start-TestStellarRpc
    $script:Origin = New-TestSampleOrigin
    $script:Checkout = New-TestSampleCheckout -Origin $Origin -Ref v1.2.3
    [void](Invoke-TestSampleMigration -Path $Checkout -DatabaseUrl $Postgres.DatabaseUrl)
    $Timings['Dependencies'] = $lap.Elapsed.TotalSeconds; $lap.Restart()
    $script:Server = Start-TestAppServer -AppSource $Checkout -Environment @{
        NODE_ENV          = 'production'
        STELLAR_RPC_URL   = $Rpc.Url
        VAULT_CONTRACT_ID = 'CDYIELDVAULTTESTCONTRACT00000000000000000000000000000000'
        DATABASE_URL      = $Postgres.DatabaseUrl
        ADMIN_API_KEY     = [guid]::NewGuid().ToString('N')
    }
    $Timings['AppServer'] = $lap.Elapsed.TotalSeconds
    $imageSteps = ($Image.Timings.GetEnumerator() | ForEach-Object { "$($_.Key) $($_.Value) s" }) -join ', '
    Write-Host ("Systemd suite set-up: image {0:0.0} s ({1}: {2}), dependencies {3:0.0} s, app server {4:0.0} s" -f
        $Timings['Image'], $(if ($Image.Cached) { 'cached' } else { 'built' }), $imageSteps, $Timings['Dependencies'], $Timings['AppServer'])

    $script:GoodEnv = (Invoke-TestAppServerCommand -Server $Server -User deploy -ArgumentList 'cat', $Server.EnvFile).Output
    $script:None = [Threading.CancellationToken]::None

    function New-AppTarget([string] $User = 'deploy', [string] $ServiceName = 'yieldvault-backend') {
        New-VaultTarget -Name app -HostName $Server.HostName -SshPort $Server.SshPort -User $User -KeyFile $Server.KeyFile `
            -KnownHostsFile $Server.KnownHostsFile -ServiceManager Systemd -ServiceName $ServiceName -Port $Server.AppPort -ConnectTimeoutSec 10
    }

    # Core's types live in the module's own load context, where [TypeName] literals do not look.
    $script:Target = New-AppTarget
    $script:Core = $Target.GetType().Assembly
    $script:SshShellType = $Core.GetType('YieldVault.Ops.Hosts.SshShell', $true)
    $script:ManagerType = $Core.GetType('YieldVault.Ops.Services.SystemdServiceManager', $true)
    $script:Shells = [Collections.Generic.List[object]]::new()
    function New-Manager($VaultTarget) {
        $shell = $SshShellType::new($VaultTarget.Ssh)
        $Shells.Add($shell)
        $ManagerType::new($VaultTarget, $shell)
    }
    $script:Manager = New-Manager $Target

    function Get-State($M = $Manager) { $M.GetStateAsync($None).GetAwaiter().GetResult() }

    function Get-VaultError([scriptblock] $Call) {
        # The VaultException a Core call throws (PowerShell wraps it in a MethodInvocationException).
        try { & $Call } catch {
            $e = $_.Exception
            while ($e -and $e.GetType().FullName -ne 'YieldVault.Ops.VaultException') { $e = $e.InnerException }
            if ($e) { return $e }
            throw
        }
        throw 'The call did not fail.'
    }

    function Wait-State([scriptblock] $Until, [double] $TimeoutSec = 20, [string] $What) {
        # Polls the manager (bounded in time and tries) until $Until is true for the state ($_).
        $sw = [Diagnostics.Stopwatch]::StartNew()
        $state = $null
        for ($i = 0; $i -lt 500; $i++) {
            $state = Get-State
            if ($state | Where-Object $Until) { return $state }
            if ($sw.Elapsed.TotalSeconds -ge $TimeoutSec) { break }
            Start-Sleep -Milliseconds 200
        }
        throw "Waited $TimeoutSec s for $What; the unit is $($state.Status) ($($state.Detail), restarts $($state.Restarts))."
    }

    function Wait-Healthy([double] $TimeoutSec = 20) {
        $sw = [Diagnostics.Stopwatch]::StartNew()
        for ($i = 0; $i -lt 200; $i++) {
            $r = Test-VaultBackendHealth -Target $Target -ErrorAction SilentlyContinue
            if ($r -and $r.Healthy) { return $r }
            if ($sw.Elapsed.TotalSeconds -ge $TimeoutSec) { break }
            Start-Sleep -Milliseconds 250
        }
        throw "The backend did not report healthy within $TimeoutSec s."
    }

    function Set-EnvFile([string] $Text) {
        [void](Invoke-TestAppServerCommand -Server $Server -User deploy -ArgumentList 'sh', '-c', 'printf %s "$1" > "$2"', 'sh', $Text, $Server.EnvFile)
    }

    function Test-AppPortOpen {
        $c = [Net.Sockets.TcpClient]::new()
        try { $c.ConnectAsync('127.0.0.1', $Server.AppPort).Wait(1000) -and $c.Connected } catch { $false } finally { $c.Dispose() }
    }

    function Get-Journal([int] $Tail = 100, $Since = $null) { @($Manager.ReadLogAsync($Tail, $Since, $None).GetAwaiter().GetResult()) }
}

AfterAll {
    if ($script:Shells) { foreach ($s in $Shells) { $s.Dispose() } }
    if ($script:Server) { Stop-TestAppServer $Server }
    if ($script:Checkout) { Remove-TestSampleCheckout $Checkout }
    if ($script:Origin) { Remove-TestSampleOrigin $Origin }
    if ($script:Rpc) { Stop-TestStellarRpc $Rpc }
    if ($script:Postgres) { Stop-TestPostgres $Postgres }
    Stop-AllTestAppServers
    # The engine is shared with other suites running at the same time: stop it only when this suite started it
    # and no container runs on it any more (Stop-AllTestServices would stop it regardless).
    if ($script:Dockerd -and $Dockerd.StartedByUs) {
        $running = @(& docker ps -q 2>$null | Where-Object { $_ })
        if ($running.Count -eq 0) { Stop-TestDockerd $Dockerd } else { Write-Host "Leaving dockerd running: $($running.Count) other container(s) use it." }
    }
}

Describe 'SystemdServiceManager against systemd in an app server, over SSH' {
    It 'reads the running backend: Running, with its pid and start time' {
        $s = Get-State
        $s.Status | Should-Be 'Running'
        $s.Manager | Should-Be 'Systemd'
        $s.ServiceName | Should-Be 'yieldvault-backend.service'
        $s.Detail | Should-Be 'active (running)'
        $s.Pid | Should-BeGreaterThan 1
        (Invoke-TestAppServerCommand -Server $Server -ArgumentList 'ps', '-o', 'comm=', '-p', $s.Pid).Output.Trim() | Should-Be 'node'
        $s.StartedAt.UtcDateTime | Should-BeAfter ([DateTime]::UtcNow.AddMinutes(-10))
        $s.StartedAt.UtcDateTime | Should-BeBefore ([DateTime]::UtcNow.AddSeconds(5))
        $s.Uptime.TotalSeconds | Should-BeGreaterThan 0
        $s.Restarts | Should-Be 0
        $s.MemoryBytes | Should-BeGreaterThan 1MB
    }

    It 'sees the backend healthy through the SSH port forward (Test-VaultBackendHealth)' {
        $r = Test-VaultBackendHealth -Target $Target -Ready
        $r.Healthy | Should-BeTrue
        $r.Ready | Should-BeTrue
        $r.Checks['database'] | Should-Be 'up'
        $r.Checks['stellarRpc'] | Should-Be 'up'
    }

    It 'reads the journal: short-iso lines with "Server started on port", and none from the future' {
        $lines = Get-Journal 50
        $lines.Count | Should-BeGreaterThan 0
        $lines | Should-All { $_ | Should-MatchString '^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+0000 ' }
        @($lines -match "Server started on port $($Server.AppPort)$").Count | Should-BeGreaterThan 0
        @(Get-Journal 50 ([DateTimeOffset]::UtcNow.AddMinutes(-10)) | Where-Object { $_ -match 'Server started on port' }).Count | Should-BeGreaterThan 0
        (Get-Journal 50 ([DateTimeOffset]::UtcNow.AddMinutes(5))).Count | Should-Be 0
    }

    It 'stops the backend: Stopped, no process, port free' {
        $Manager.StopAsync([TimeSpan]::FromSeconds(30), $None).GetAwaiter().GetResult()
        $s = Get-State
        $s.Status | Should-Be 'Stopped'
        $s.Pid | Should-BeNull
        $s.StartedAt | Should-BeNull
        $s.Detail | Should-Be 'inactive (dead)'
        Test-AppPortOpen | Should-BeFalse
        (Invoke-TestAppServerCommand -Server $Server -ArgumentList 'pgrep', '-u', 'deploy', '-x', 'node' -AllowFailure).Output.Trim() | Should-BeEmptyString
        @(Get-Journal 20 | Where-Object { $_ -match 'Server stopped$' }).Count | Should-BeGreaterThan 0
    }

    It 'starts it again: Running and healthy' {
        $Manager.StartAsync($None).GetAwaiter().GetResult()
        (Get-State).Status | Should-Be 'Running'
        (Wait-Healthy).Healthy | Should-BeTrue
    }

    It 'restarts it with a new process' {
        $before = (Get-State).Pid
        $Manager.RestartAsync($None).GetAwaiter().GetResult()
        $after = Get-State
        $after.Status | Should-Be 'Running'
        $after.Pid | Should-NotBe $before
        (Wait-Healthy).Healthy | Should-BeTrue
    }

    It 'sees a crash loop when the .env loses DATABASE_URL: CrashLooping with restarts, Failed at the start limit' {
        Set-EnvFile (($GoodEnv -split "`n" | Where-Object { $_ -notmatch '^DATABASE_URL=' }) -join "`n")
        $Manager.RestartAsync($None).GetAwaiter().GetResult()
        $looping = Wait-State { $_.Status -eq 'CrashLooping' -and $_.Restarts -gt 0 } -TimeoutSec 20 -What 'CrashLooping with restarts > 0'
        $looping.Detail | Should-BeLikeString 'activating (auto-restart) (Result: exit-code)*'
        $looping.Pid | Should-BeNull
        # Restart=on-failure, RestartSec=1 and systemd's default start limit (5 starts in 10 s, the starts and
        # restarts of the tests before included) end the loop.
        $failed = Wait-State { $_.Status -eq 'Failed' } -TimeoutSec 30 -What 'Failed at the start limit'
        $failed.Restarts | Should-BeGreaterThan 0
        $failed.Detail | Should-BeLikeString 'failed (Result: *'
        @(Get-Journal 30 | Where-Object { $_ -match 'Missing required environment variables: DATABASE_URL' }).Count | Should-BeGreaterThan 0
        Test-AppPortOpen | Should-BeFalse
    }

    It 'starts the unit again after the crash loop hit its start limit (reset-failed)' {
        Set-EnvFile $GoodEnv
        $Manager.StartAsync($None).GetAwaiter().GetResult()
        $s = Wait-State { $_.Status -eq 'Running' } -TimeoutSec 10 -What 'Running'
        $s.Restarts | Should-Be 0
        (Wait-Healthy).Healthy | Should-BeTrue
    }

    It 'gives up on a backend that ignores SIGTERM with ServiceStopTimeout; Kill leaves it stopped' {
        try {
            Set-EnvFile ($GoodEnv.TrimEnd("`n") + "`nIGNORE_SIGTERM=1`n")
            $Manager.RestartAsync($None).GetAwaiter().GetResult()
            [void](Wait-Healthy)   # its SIGTERM handler is installed once it serves
            $sw = [Diagnostics.Stopwatch]::StartNew()
            $e = Get-VaultError { $Manager.StopAsync([TimeSpan]::FromSeconds(2), $None).GetAwaiter().GetResult() }
            $e.ErrorId | Should-Be 'ServiceStopTimeout'
            $e.Kind | Should-Be 'OperationTimeout'
            $sw.Elapsed.TotalSeconds | Should-BeLessThan 15
            (Get-State).Status | Should-Be 'Stopping'
            Test-AppPortOpen | Should-BeTrue   # it ignored SIGTERM and still serves

            $Manager.KillAsync($None).GetAwaiter().GetResult()
            $s = Wait-State { $_.Status -in 'Stopped', 'Failed' } -TimeoutSec 10 -What 'the killed unit to stop'
            $s.Pid | Should-BeNull
            Test-AppPortOpen | Should-BeFalse
            Start-Sleep -Seconds 2   # RestartSec=1: a restart would have happened by now
            (Get-State).Status | Should-Be $s.Status
            (Invoke-TestAppServerCommand -Server $Server -ArgumentList 'pgrep', '-u', 'deploy', '-x', 'node' -AllowFailure).Output.Trim() | Should-BeEmptyString
        }
        finally {
            # Whatever happened above, the next tests get a running backend with the good .env.
            Set-EnvFile $GoodEnv
            if ((Get-State).Status -ne 'Running') {
                if ((Get-State).Status -eq 'Stopping') { $Manager.KillAsync($None).GetAwaiter().GetResult() }
                $Manager.StartAsync($None).GetAwaiter().GetResult()
            }
        }
        (Wait-Healthy).Healthy | Should-BeTrue
    }

    It 'reports an unknown unit as NotFound and will not start it (ServiceNotFound)' {
        $m = New-Manager (New-AppTarget -ServiceName 'yieldvault-nope')
        $s = Get-State $m
        $s.Status | Should-Be 'NotFound'
        $s.ServiceName | Should-Be 'yieldvault-nope.service'
        $e = Get-VaultError { $m.StartAsync($None).GetAwaiter().GetResult() }
        $e.ErrorId | Should-Be 'ServiceNotFound'
        $e.Kind | Should-Be 'ObjectNotFound'
    }

    It 'gives a user without sudo rules SudoRequired, while reading the state needs no sudo' {
        $m = New-Manager (New-AppTarget -User $Server.NoSudoUser)
        (Get-State $m).Status | Should-Be 'Running'
        $e = Get-VaultError { $m.StopAsync([TimeSpan]::FromSeconds(10), $None).GetAwaiter().GetResult() }
        $e.ErrorId | Should-Be 'SudoRequired'
        $e.Kind | Should-Be 'SecurityError'
        $e.Message | Should-BeLikeString "*'auditor'*a password is required*"
        $e.RecommendedAction | Should-BeLikeString '*auditor ALL=(root) NOPASSWD: /usr/bin/systemctl, /usr/bin/journalctl*'
        (Get-VaultError { $m.ReadLogAsync(10, $null, $None).GetAwaiter().GetResult() }).ErrorId | Should-Be 'SudoRequired'
        (Get-State).Status | Should-Be 'Running'
        (Test-VaultBackendHealth -Target $Target).Healthy | Should-BeTrue
    }
}
