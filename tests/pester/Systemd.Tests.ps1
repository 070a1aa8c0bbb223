# The systemd service manager end to end, through the module's cmdlets: the sample backend as
# yieldvault-backend.service under a real systemd (PID 1 of an app-server container,
# tests/services/AppServer.TestServices.psm1), driven over real SSH as 'deploy', whose only sudo rules are systemctl
# and journalctl. PostgreSQL and the RPC stand-in run on the host's 127.0.0.1, which the container shares (host
# network). What systemd itself says is read independently with docker exec (Invoke-TestAppServerCommand).
# One case still calls Core's SystemdServiceManager by reflection, and says why: the unit's full name and systemd's
# own words, which only Core's ServiceState carries.
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

    function New-AppTarget([string] $User = 'deploy', [string] $ServiceName = 'yieldvault-backend') {
        New-VaultTarget -Name app -HostName $Server.HostName -SshPort $Server.SshPort -User $User -KeyFile $Server.KeyFile `
            -KnownHostsFile $Server.KnownHostsFile -ServiceManager Systemd -ServiceName $ServiceName -Port $Server.AppPort -ConnectTimeoutSec 10
    }
    $script:Target = New-AppTarget

    function Get-Status($On = $Target, [switch] $Detailed) { $On | Get-VaultBackendStatus -Detailed:$Detailed -ErrorAction Stop }

    function Wait-Status([scriptblock] $Until, [double] $TimeoutSec = 20, [string] $What) {
        # Polls Get-VaultBackendStatus (bounded in time and tries) until $Until is true for the status ($_).
        $sw = [Diagnostics.Stopwatch]::StartNew()
        $status = $null
        for ($i = 0; $i -lt 500; $i++) {
            $status = Get-Status
            if ($status | Where-Object $Until) { return $status }
            if ($sw.Elapsed.TotalSeconds -ge $TimeoutSec) { break }
            Start-Sleep -Milliseconds 100
        }
        throw "Waited $TimeoutSec s for $What; the unit is $($status.State) (restarts $($status.Restarts); $($status.Problems -join '; '))."
    }

    function Wait-Healthy([int] $TimeoutSec = 20) { $Target | Wait-VaultBackendHealthy -TimeoutSec $TimeoutSec -IntervalSec 0.25 -ErrorAction Stop }

    function Set-EnvFile([string] $Text) {
        [void](Invoke-TestAppServerCommand -Server $Server -User deploy -ArgumentList 'sh', '-c', 'printf %s "$1" > "$2"', 'sh', $Text, $Server.EnvFile)
    }

    function Test-AppPortOpen {
        $c = [Net.Sockets.TcpClient]::new()
        try { $c.ConnectAsync('127.0.0.1', $Server.AppPort).Wait(1000) -and $c.Connected } catch { $false } finally { $c.Dispose() }
    }

    # The unit's journal, as Get-VaultBackendLog parses it (the log file /var/log/yieldvault/backend.log exists too).
    function Get-Journal([int] $Tail = 100, $Since) {
        $p = @{ Source = 'Manager'; Tail = $Tail }
        if ($Since) { $p['Since'] = $Since }
        @($Target | Get-VaultBackendLog @p -ErrorAction Stop)
    }

    # What systemd itself says about the unit (docker exec, not the module).
    function Get-UnitProperty([string] $Name) {
        (Invoke-TestAppServerCommand -Server $Server -ArgumentList 'systemctl', 'show', '-p', $Name, '--value', 'yieldvault-backend.service').Output.Trim()
    }

    function Get-NodeProcess { (Invoke-TestAppServerCommand -Server $Server -ArgumentList 'pgrep', '-u', 'deploy', '-x', 'node' -AllowFailure).Output.Trim() }
}

AfterAll {
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

Describe 'The backend cmdlets against systemd in an app server, over SSH' {
    It 'reads the running backend (Get-VaultBackendStatus -Detailed): Running, with its pid, uptime and resources' {
        $s = Get-Status -Detailed
        $s.State | Should-Be 'Running'
        $s.Manager | Should-Be 'Systemd'
        $s.Pid | Should-BeGreaterThan 1
        (Invoke-TestAppServerCommand -Server $Server -ArgumentList 'ps', '-o', 'comm=', '-p', $s.Pid).Output.Trim() | Should-Be 'node'
        $s.Pid | Should-Be ([int](Get-UnitProperty MainPID))
        $s.Uptime.TotalSeconds | Should-BeGreaterThan 0
        $s.Uptime.TotalMinutes | Should-BeLessThan 10
        $s.Restarts | Should-Be 0
        $s.MemoryMB | Should-BeGreaterThan 1
        @($s.Problems | Where-Object { $_ -like 'service*' }).Count | Should-Be 0
        $s.Healthy | Should-BeTrue
        $s.Version | Should-Be '1.2.3'
    }

    It 'has the unit''s full name and systemd''s own words in Core''s ServiceState' {
        # By reflection: VaultBackendStatus has no ServiceName, Detail or StartedAt, so no cmdlet shows them. (The
        # other states' words are checked against systemd itself below: systemctl show, is-active, is-failed.)
        $core = $Target.GetType().Assembly
        $shell = $core.GetType('YieldVault.Ops.Hosts.SshShell', $true)::new($Target.Ssh)
        try {
            $managerType = $core.GetType('YieldVault.Ops.Services.SystemdServiceManager', $true)
            $s = $managerType::new($Target, $shell).GetStateAsync([Threading.CancellationToken]::None).GetAwaiter().GetResult()
            $s.ServiceName | Should-Be 'yieldvault-backend.service'
            $s.Detail | Should-Be 'active (running)'
            $s.StartedAt.UtcDateTime | Should-BeAfter ([DateTime]::UtcNow.AddMinutes(-10))
            $s.StartedAt.UtcDateTime | Should-BeBefore ([DateTime]::UtcNow.AddSeconds(5))
            $unknown = $managerType::new((New-AppTarget -ServiceName 'yieldvault-nope'), $shell).GetStateAsync([Threading.CancellationToken]::None).GetAwaiter().GetResult()
            $unknown.ServiceName | Should-Be 'yieldvault-nope.service'
            $unknown.Status | Should-Be 'NotFound'
        }
        finally { $shell.Dispose() }
    }

    It 'sees the backend healthy through the SSH port forward (Test-VaultBackendHealth)' {
        $r = Test-VaultBackendHealth -Target $Target -Ready
        $r.Healthy | Should-BeTrue
        $r.Ready | Should-BeTrue
        $r.Checks['database'] | Should-Be 'up'
        $r.Checks['stellarRpc'] | Should-Be 'up'
    }

    It 'reads the journal (Get-VaultBackendLog -Source Manager): timed lines with "Server started on port", and none from the future' {
        $entries = Get-Journal 50
        $entries.Count | Should-BeGreaterThan 0
        $entries | Should-All { $_.Source | Should-Be 'journald' }
        $entries | Should-All { $_.Time | Should-NotBeNull }
        $entries.Message | Should-ContainCollection "Server started on port $($Server.AppPort)"
        @(Get-Journal 50 ([DateTime]::UtcNow.AddMinutes(-10)) | Where-Object Message -Like 'Server started on port*').Count | Should-BeGreaterThan 0
        (Get-Journal 50 ([DateTime]::UtcNow.AddMinutes(5))).Count | Should-Be 0
    }

    It 'stops the backend (Stop-VaultBackend): Stopped, no process, port free' {
        $mainPid = (Get-Status).Pid
        $r = $Target | Stop-VaultBackend -Confirm:$false -ErrorAction Stop
        $r.Stopped | Should-BeTrue
        $r.Forced | Should-BeFalse
        $r.Pid | Should-Be $mainPid
        $s = Get-Status
        $s.State | Should-Be 'Stopped'
        $s.Pid | Should-BeNull
        $s.Uptime | Should-BeNull
        $s.Healthy | Should-BeNull
        (Invoke-TestAppServerCommand -Server $Server -ArgumentList 'systemctl', 'is-active', 'yieldvault-backend.service' -AllowFailure).Output.Trim() | Should-Be 'inactive'
        Test-AppPortOpen | Should-BeFalse
        Get-NodeProcess | Should-BeEmptyString
        (Get-Journal 20).Message | Should-ContainCollection 'Server stopped'
    }

    It 'starts it again (Start-VaultBackend): Running and healthy' {
        $h = $Target | Start-VaultBackend -Confirm:$false -ErrorAction Stop
        $h.Healthy | Should-BeTrue
        $h.Ready | Should-BeTrue
        (Get-Status).State | Should-Be 'Running'
    }

    It 'restarts it (Restart-VaultBackend) with a new process' {
        $before = (Get-Status).Pid
        ($Target | Restart-VaultBackend -Confirm:$false -ErrorAction Stop).Healthy | Should-BeTrue
        $after = Get-Status
        $after.State | Should-Be 'Running'
        $after.Pid | Should-NotBe $before
        $after.Pid | Should-Be ([int](Get-UnitProperty MainPID))
    }

    It 'sees a crash loop when the .env loses DATABASE_URL: CrashLooping with restarts, Failed at the start limit' {
        Set-EnvFile (($GoodEnv -split "`n" | Where-Object { $_ -notmatch '^DATABASE_URL=' }) -join "`n")
        $Target | Restart-VaultBackend -NoWait -Confirm:$false -ErrorAction Stop
        $looping = Wait-Status { $_.State -eq 'CrashLooping' -and $_.Restarts -gt 0 } -TimeoutSec 20 -What 'CrashLooping with restarts > 0'
        $looping.Pid | Should-BeNull
        [int](Get-UnitProperty NRestarts) | Should-BeGreaterThan 0
        # systemd sets Result back to success while a new start attempt runs: read it between attempts (bounded).
        $result = $null
        foreach ($i in 1..50) { $result = Get-UnitProperty Result; if ($result -eq 'exit-code') { break }; Start-Sleep -Milliseconds 100 }
        $result | Should-Be 'exit-code'
        # Restart=on-failure, RestartSec=1 and systemd's default start limit (5 starts in 10 s, the starts and
        # restarts of the tests before included) end the loop.
        $failed = Wait-Status -Until { $_.State -eq 'Failed' } -TimeoutSec 30 -What 'Failed at the start limit'
        $failed.Restarts | Should-BeGreaterThan 0
        (Invoke-TestAppServerCommand -Server $Server -ArgumentList 'systemctl', 'is-failed', 'yieldvault-backend.service' -AllowFailure).Output.Trim() | Should-Be 'failed'
        @(Get-Journal 30 | Where-Object { $_.Level -eq 'Error' -and $_.Message -like '*Missing required environment variables: DATABASE_URL*' }).Count | Should-BeGreaterThan 0
        Test-AppPortOpen | Should-BeFalse
    }

    It 'starts the unit again after the crash loop hit its start limit (reset-failed)' {
        Set-EnvFile $GoodEnv
        ($Target | Start-VaultBackend -Confirm:$false -ErrorAction Stop).Healthy | Should-BeTrue
        $s = Get-Status
        $s.State | Should-Be 'Running'
        $s.Restarts | Should-Be 0
    }

    It 'gives up on a backend that ignores SIGTERM with ServiceStopTimeout; -Force kills it and it stays stopped' {
        try {
            Set-EnvFile ($GoodEnv.TrimEnd("`n") + "`nIGNORE_SIGTERM=1`n")
            # Restart-VaultBackend waits until it serves: its SIGTERM handler is installed by then.
            ($Target | Restart-VaultBackend -Confirm:$false -ErrorAction Stop).Healthy | Should-BeTrue
            $mainPid = (Get-Status).Pid
            $sw = [Diagnostics.Stopwatch]::StartNew()
            $null = Get-VaultCommandError $Target Stop-VaultBackend 'ServiceStopTimeout,YieldVault.Ops.Commands.StopVaultBackendCommand' -Category OperationTimeout -Parameters @{ TimeoutSec = 2 }
            $sw.Elapsed.TotalSeconds | Should-BeLessThan 15
            (Get-Status).State | Should-Be 'Stopping'
            Test-AppPortOpen | Should-BeTrue   # it ignored SIGTERM and still serves

            $r = $Target | Stop-VaultBackend -TimeoutSec 2 -Force -WarningVariable warnings -WarningAction SilentlyContinue -ErrorAction Stop
            $r.Stopped | Should-BeTrue
            $r.Forced | Should-BeTrue
            $r.Pid | Should-Be $mainPid
            ($warnings -join "`n") | Should-BeLikeString '*killing the process*'
            $s = Wait-Status { $_.State -in 'Stopped', 'Failed' } -TimeoutSec 10 -What 'the killed unit to stop'
            $s.Pid | Should-BeNull
            Test-AppPortOpen | Should-BeFalse
            Start-Sleep -Seconds 2   # RestartSec=1: a restart would have happened by now
            (Get-Status).State | Should-Be $s.State
            Get-NodeProcess | Should-BeEmptyString
        }
        finally {
            # Whatever happened above, the next tests get a running backend with the good .env.
            Set-EnvFile $GoodEnv
            $state = (Get-Status).State
            if ($state -ne 'Running') {
                if ($state -eq 'Stopping') { $null = $Target | Stop-VaultBackend -TimeoutSec 2 -Force -WarningAction SilentlyContinue -ErrorAction SilentlyContinue }
                $Target | Start-VaultBackend -NoWait -Confirm:$false -ErrorAction Stop
            }
        }
        (Wait-Healthy).Healthy | Should-BeTrue
    }

    It 'reports an unknown unit as NotFound and will not start or stop it (ServiceNotFound)' {
        $nope = New-AppTarget -ServiceName 'yieldvault-nope'
        (Get-Status $nope).State | Should-Be 'NotFound'
        $null = Get-VaultCommandError $nope Start-VaultBackend 'ServiceNotFound,YieldVault.Ops.Commands.StartVaultBackendCommand' -Category ObjectNotFound
        $null = Get-VaultCommandError $nope Stop-VaultBackend 'ServiceNotFound,YieldVault.Ops.Commands.StopVaultBackendCommand' -Category ObjectNotFound
        (Get-Status).State | Should-Be 'Running'
    }

    It 'gives a user without sudo rules SudoRequired, while reading the state needs no sudo' {
        $auditor = New-AppTarget -User $Server.NoSudoUser
        (Get-Status $auditor).State | Should-Be 'Running'
        $e = Get-VaultCommandError $auditor Stop-VaultBackend 'SudoRequired,YieldVault.Ops.Commands.StopVaultBackendCommand' -Category SecurityError
        $e.Exception.Message | Should-BeLikeString "*'auditor'*a password is required*"
        $e.ErrorDetails.RecommendedAction | Should-BeLikeString '*auditor ALL=(root) NOPASSWD: /usr/bin/systemctl, /usr/bin/journalctl*'
        # The journal needs sudo too (the auditor cannot read the .env either: that is a warning, not an error).
        $null = Get-VaultCommandError $auditor Get-VaultBackendLog 'SudoRequired,YieldVault.Ops.Commands.GetVaultBackendLogCommand' -Category SecurityError -Parameters @{ Source = 'Manager'; Tail = 10 }
        (Get-Status).State | Should-Be 'Running'
        (Test-VaultBackendHealth -Target $Target).Healthy | Should-BeTrue
    }
}
