# Runbook Step 1, 6.2, 7 and the pre-deployment checklist against the real sample backend (Node, PostgreSQL,
# RPC stand-in), locally and over real SSH: version, dependencies, logs, waiting, readiness and status.
# Service-manager specifics (PM2, Docker, systemd) have suites of their own.
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestCommon.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot '../services/YieldVault.TestServices.psm1') -Force
    Import-Module (Get-VaultModuleManifest) -Force

    $script:Stack = Start-TestBackendStack
    $script:Sshd = Start-TestSshd
    $script:Commit = (& git -C $Stack.Checkout rev-parse HEAD).Trim()
    $script:LogFile = $Stack.Environment.LOG_FILE
    $script:DbPassword = $Stack.Postgres.Password
    $script:ApiKey = $Stack.Environment.ADMIN_API_KEY
    $script:Pm2Home = Join-Path $Stack.Directory 'pm2-none'   # an empty PM2: the test backend is not managed here

    function New-LocalTarget([hashtable] $Extra = @{}) {
        $p = @{ Name = 'local-1'; Port = $Stack.Port; AppPath = $Stack.Checkout; LogPath = $LogFile; ServiceManager = 'Pm2'; Pm2Home = $Pm2Home
            BackupPath = (Join-Path $Stack.Directory 'backups'); StatePath = (Join-Path $Stack.Directory 'state') }
        foreach ($k in $Extra.Keys) { $p[$k] = $Extra[$k] }
        New-VaultTarget @p
    }

    # A directory with an env file of our choosing (for dependency failures) that the SSH user can read.
    function New-EnvDirectory([hashtable] $Values) {
        $dir = Join-Path $EnvBase ("app-" + [guid]::NewGuid().ToString('N').Substring(0, 8))
        New-Item -ItemType Directory -Path $dir | Out-Null
        ($Values.GetEnumerator() | ForEach-Object { "$($_.Key)=$($_.Value)" }) -join "`n" | Set-Content -LiteralPath (Join-Path $dir '.env')
        & chown -R "$($Sshd.User):" $dir
        & chmod 700 $dir
        & chmod 600 (Join-Path $dir '.env')
        $dir
    }

    function New-SshTarget([string] $AppPath, [hashtable] $Extra = @{}) {
        $p = @{ Name = 'ssh-1'; HostName = $Sshd.HostName; SshPort = $Sshd.Port; User = $Sshd.User; KeyFile = $Sshd.UserKeyFile
            KnownHostsFile = $Sshd.KnownHostsFile; Port = $Stack.Port; AppPath = $AppPath; ServiceManager = 'Pm2'; Pm2Home = '/tmp/yv-pm2-none'
            LogPath = '/tmp/yv-no-such.log'; StatePath = "/tmp/yv-state-$($Sshd.Port)"; BackupPath = "/tmp/yv-backups-$($Sshd.Port)" }
        foreach ($k in $Extra.Keys) { $p[$k] = $Extra[$k] }
        New-VaultTarget @p
    }

    # Where the SSH user can reach (the stack's own directory is private to root).
    $script:EnvBase = Join-Path ([IO.Path]::GetTempPath()) ("yv-assess-" + [guid]::NewGuid().ToString('N').Substring(0, 8))
    New-Item -ItemType Directory -Path $EnvBase | Out-Null
    & chmod 755 $EnvBase

    $script:GoodEnv = @{ DATABASE_URL = $Stack.Postgres.DatabaseUrl; STELLAR_RPC_URL = $Stack.Rpc.Url; VAULT_CONTRACT_ID = 'CABC'; ADMIN_API_KEY = $ApiKey }
}

AfterAll {
    if ($script:EnvBase) { Remove-Item -LiteralPath $EnvBase -Recurse -Force -ErrorAction Ignore }
    if ($script:Sshd) { Stop-TestSshd $Sshd }
    if ($script:Stack) { Stop-TestBackendStack $Stack }
    Stop-AllTestServices
}

Describe 'Get-VaultBackendVersion' {
    It 'reads the version and commit from /api/v1/version' {
        $v = New-LocalTarget | Get-VaultBackendVersion
        $v.Version | Should-Be '1.2.3'
        $v.Commit | Should-Be $Commit
        $v.Source | Should-Be 'api'
        $v.Target.Name | Should-Be 'local-1'
    }

    It 'falls back to git in the app directory when the API does not answer, with a warning' {
        $v = New-LocalTarget @{ Port = (Get-FreeTcpPort) } | Get-VaultBackendVersion -WarningVariable warns -TimeoutSec 2
        $v.Source | Should-Be 'git'
        $v.Commit | Should-Be $Commit
        $v.Tag | Should-Be 'v1.2.3'
        ($warns -join ' ') | Should-BeLikeString '*comes from git*'
    }

    It 'writes VersionUnknown when neither source answers' {
        $null = New-LocalTarget @{ Port = (Get-FreeTcpPort); AppPath = '/tmp' } | Get-VaultBackendVersion -ErrorVariable errs -ErrorAction SilentlyContinue -TimeoutSec 2
        $errs[0].FullyQualifiedErrorId | Should-Be 'VersionUnknown,YieldVault.Ops.Commands.GetVaultBackendVersionCommand'
    }

    It 'reads the version over SSH through the port forward' {
        (New-SshTarget -AppPath '/tmp' | Get-VaultBackendVersion).Version | Should-Be '1.2.3'
    }
}

Describe 'Test-VaultDependency' {
    It 'reports PostgreSQL and the Stellar RPC healthy for the running stack' {
        $r = New-LocalTarget | Test-VaultDependency
        $r.Count | Should-Be 2
        $db = $r | Where-Object Dependency -EQ 'database'
        $db.Healthy | Should-BeTrue
        $db.Endpoint | Should-Be "127.0.0.1:$($Stack.Postgres.Port)/yieldvault"
        $db.Detail | Should-BeLikeString 'PostgreSQL 1*'
        ($r | Where-Object Dependency -EQ 'stellarRpc').Healthy | Should-BeTrue
    }

    It 'checks the dependencies through the server over SSH' {
        $dir = New-EnvDirectory $GoodEnv
        $r = New-SshTarget -AppPath $dir | Test-VaultDependency
        @($r | Where-Object Healthy).Count | Should-Be 2
    }

    It 'names the failure of <Case> as <ErrorId> without showing a secret' -ForEach @(
        @{ Case = 'a refused database port'; Dependency = 'database'; ErrorId = 'DependencyRefused'; Env = @{ DATABASE_URL = 'postgres://yv:Planted-Db-Pw-1@127.0.0.1:1/yieldvault' } }
        @{ Case = 'a wrong database password'; Dependency = 'database'; ErrorId = 'DependencyAuthFailed'; Env = @{ DATABASE_URL = 'WRONGPW' } }
        @{ Case = 'an unknown database host'; Dependency = 'database'; ErrorId = 'DependencyDnsFailed'; Env = @{ DATABASE_URL = 'postgres://yv:Planted-Db-Pw-1@no-such-db.invalid:5432/yieldvault' } }
        @{ Case = 'a refused RPC port'; Dependency = 'stellarRpc'; ErrorId = 'DependencyRefused'; Env = @{ STELLAR_RPC_URL = 'http://127.0.0.1:1/' } }
        @{ Case = 'a missing variable'; Dependency = 'database'; ErrorId = 'DependencyConfigMissing'; Env = @{ DATABASE_URL = '' } }
    ) {
        $values = $GoodEnv.Clone()
        foreach ($k in $Env.Keys) { $values[$k] = $Env[$k] }
        if ($values.DATABASE_URL -eq 'WRONGPW') { $values.DATABASE_URL = $Stack.Postgres.DatabaseUrl -replace [regex]::Escape($DbPassword), 'Planted-Wrong-Pw-2' }
        $dir = New-EnvDirectory $values
        foreach ($target in (New-LocalTarget @{ AppPath = $dir }), (New-SshTarget -AppPath $dir)) {
            $all = Test-VaultDependency -Target $target -Name $Dependency -TimeoutSec 5 -Verbose *>&1
            # (Types of the module live in its own load context: compare by name, not with -is [type].)
            $r = $all | Where-Object { $_.GetType().FullName -eq 'YieldVault.Ops.VaultDependencyResult' }
            $r.Healthy | Should-BeFalse
            $r.ErrorId | Should-Be $ErrorId
            $r.Reason | Should-NotBeNull
            $text = ($all | Out-String) + ($r | Format-List * | Out-String)
            foreach ($secret in 'Planted-Db-Pw-1', 'Planted-Wrong-Pw-2', $DbPassword, $ApiKey) { $text | Should-NotBeLikeString "*$secret*" }
        }
    }

    It 'reports a missing env file as EnvFileMissing for each dependency' {
        $r = New-LocalTarget @{ AppPath = '/tmp/yv-no-app' } | Test-VaultDependency
        @($r.ErrorId | Select-Object -Unique) | Should-BeCollection @('EnvFileMissing')
        $r.Count | Should-Be 2
    }
}

Describe 'Get-VaultBackendLog' {
    It 'reads the log file as entries with time and level' {
        $entries = New-LocalTarget | Get-VaultBackendLog -Tail 20
        $entries.Count | Should-BeGreaterThan 2
        $entries.Count | Should-BeLessThanOrEqual 20
        $started = $entries | Where-Object Message -Like 'Server started on port*'
        $started.Level | Should-Be 'Info'
        $started.Time | Should-NotBeNull
        $started.Source | Should-Be 'file'
    }

    It 'verifies the startup markers of the last start (-Verify)' {
        $v = New-LocalTarget | Get-VaultBackendLog -Verify
        $v.Passed | Should-BeTrue
        $v.MarkersFound.Count | Should-Be 3
        $v.MarkersMissing.Count | Should-Be 0
    }

    It 'filters errors, finds stack traces and hides env values in log lines' {
        $dir = New-EnvDirectory $GoodEnv
        $log = Join-Path $dir 'backend.log'
        @(
            '2026-11-26T04:00:00.000Z INFO Starting yieldvault-backend 1.2.3'
            '2026-11-26T04:00:00.100Z INFO Database connected'
            "2026-11-26T04:00:00.200Z ERROR Stellar RPC connection failed: bad key $ApiKey"
            '    at Timeout._onTimeout (/app/dist/stellar.js:20:9)'
            '2026-11-26T04:00:00.300Z WARN slow answer'
        ) | Set-Content -LiteralPath $log
        $target = New-LocalTarget @{ AppPath = $dir; LogPath = $log }
        $errors = $target | Get-VaultBackendLog -Level Error
        $errors.Count | Should-Be 2
        ($errors | Out-String) | Should-NotBeLikeString "*$ApiKey*"
        $errors[0].Message | Should-BeLikeString '*bad key ****'
        ($target | Get-VaultBackendLog -Level Warning).Message | Should-Be 'slow answer'
        $v = $target | Get-VaultBackendLog -Verify
        $v.Passed | Should-BeFalse
        $v.MarkersMissing | Should-ContainCollection 'Stellar RPC connected'
        $v.StackTraceCount | Should-Be 1
        $v.FirstError | Should-NotBeLikeString "*$ApiKey*"
    }

    It 'writes LogNotFound for a missing log file' {
        $null = New-LocalTarget @{ LogPath = '/tmp/yv-missing/backend.log' } | Get-VaultBackendLog -Source File -ErrorVariable errs -ErrorAction SilentlyContinue
        $errs[0].FullyQualifiedErrorId | Should-Be 'LogNotFound,YieldVault.Ops.Commands.GetVaultBackendLogCommand'
    }
}

Describe 'Wait-VaultBackendHealthy' {
    It 'returns at once for a healthy backend' {
        $r = New-LocalTarget | Wait-VaultBackendHealthy -TimeoutSec 10
        $r.Healthy | Should-BeTrue
        $r.Attempts | Should-Be 1
    }

    It 'keeps polling until the backend is healthy again' {
        $null = Set-TestStellarRpcMode -Rpc $Stack.Rpc -Mode down
        Start-Sleep -Milliseconds 400   # the backend caches its checks for 250 ms
        $job = Start-ThreadJob -ArgumentList $Stack.Rpc.Port -ScriptBlock {
            param($port)
            Start-Sleep -Milliseconds 1100
            Invoke-RestMethod -Method Post -Uri "http://127.0.0.1:$port/__control" -Body '{"mode":"up"}' -ContentType 'application/json'
        }
        try {
            $r = New-LocalTarget | Wait-VaultBackendHealthy -TimeoutSec 20 -Ready
            $r.Healthy | Should-BeTrue
            $r.Ready | Should-BeTrue
            $r.Attempts | Should-BeGreaterThan 3
            $r.WaitedMs | Should-BeGreaterThan 1000
        }
        finally { $job | Wait-Job -Timeout 10 | Remove-Job -Force; $null = Set-TestStellarRpcMode -Rpc $Stack.Rpc -Mode up }
    }

    It 'gives up with HealthCheckTimeout and the last answer' {
        $null = Set-TestStellarRpcMode -Rpc $Stack.Rpc -Mode down
        Start-Sleep -Milliseconds 400   # the backend caches its checks for 250 ms
        try {
            $null = New-LocalTarget | Wait-VaultBackendHealthy -TimeoutSec 2 -IntervalSec 0.5 -ErrorVariable errs -ErrorAction SilentlyContinue
            $errs[0].FullyQualifiedErrorId | Should-Be 'HealthCheckTimeout,YieldVault.Ops.Commands.WaitVaultBackendHealthyCommand'
            $errs[0].Exception.Message | Should-BeLikeString '*HTTP 503 unhealthy*stellarRpc=down*'
            $errs[0].ErrorDetails.RecommendedAction | Should-BeLikeString '*Get-VaultBackendLog*'
        }
        finally { $null = Set-TestStellarRpcMode -Rpc $Stack.Rpc -Mode up; Start-Sleep -Milliseconds 300 }
    }

    It 'waits for many targets at once' {
        $targets = 1..3 | ForEach-Object { New-LocalTarget @{ Name = "local-$_" } }
        $r = $targets | Wait-VaultBackendHealthy -TimeoutSec 10
        ($r.Target.Name | Sort-Object) | Should-BeCollection @('local-1', 'local-2', 'local-3')
    }
}

Describe 'Test-VaultDeploymentReadiness' {
    It 'passes every check for a ready target' {
        $checks = New-LocalTarget | Test-VaultDeploymentReadiness -MinimumFreeMB 10
        ($checks.Check | Sort-Object) | Should-BeCollection @('BackupDirectoryWritable', 'DatabaseHealthy', 'DiskSpace', 'EnvFile', 'NoDeploymentLock', 'StellarRpcHealthy', 'Tools')
        @($checks | Where-Object { -not $_.Passed } | ForEach-Object { "$($_.Check): $($_.Reason)" }) | Should-BeCollection @()
        ($checks | Where-Object Check -EQ 'Tools').Reason | Should-BeLikeString '*node v2*'
    }

    It 'fails the right checks with reasons' {
        $values = $GoodEnv.Clone(); $values.Remove('VAULT_CONTRACT_ID'); $values.DATABASE_URL = 'postgres://yv:x@127.0.0.1:1/yieldvault'
        $dir = New-EnvDirectory $values
        $state = Join-Path $Stack.Directory 'state-locked'
        New-Item -ItemType Directory -Force -Path (Join-Path $state 'yieldvault-backend') | Out-Null
        Set-Content -LiteralPath (Join-Path $state 'yieldvault-backend/deploy.lock') -Value 'owner=alice pid=1234 started=2026-11-26T03:00:00Z'
        $checks = New-LocalTarget @{ AppPath = $dir; StatePath = $state; BackupPath = '/etc/hostname/backups' } | Test-VaultDeploymentReadiness -MinimumFreeMB 9000000
        $failed = $checks | Where-Object { -not $_.Passed }
        ($failed.Check | Sort-Object) | Should-BeCollection @('BackupDirectoryWritable', 'DatabaseHealthy', 'DiskSpace', 'EnvFile', 'NoDeploymentLock')
        ($failed | Where-Object Check -EQ 'EnvFile').Reason | Should-BeLikeString '*lacks VAULT_CONTRACT_ID*'
        ($failed | Where-Object Check -EQ 'NoDeploymentLock').Reason | Should-BeLikeString '*owner=alice*'
        ($failed | Where-Object Check -EQ 'DatabaseHealthy').Reason | Should-BeLikeString 'DependencyRefused*'
    }

    It 'runs the checklist over SSH' {
        $dir = New-EnvDirectory $GoodEnv
        $checks = New-SshTarget -AppPath $dir | Test-VaultDeploymentReadiness -MinimumFreeMB 10
        @($checks | Where-Object { -not $_.Passed } | ForEach-Object { "$($_.Check): $($_.Reason)" }) | Should-BeCollection @()
    }
}

Describe 'Get-VaultBackendStatus' {
    It 'reads health, version, connections and resources of a backend (-Detailed)' {
        $s = New-LocalTarget | Get-VaultBackendStatus -Detailed
        $s.GetType().FullName | Should-Be 'YieldVault.Ops.VaultBackendStatus'
        $s.Healthy | Should-BeTrue
        $s.Ready | Should-BeTrue
        $s.Version | Should-Be '1.2.3'
        $s.Commit | Should-Be $Commit
        $s.ActiveConnections | Should-BeGreaterThanOrEqual 0
        $s.AppDiskFreeMB | Should-BeGreaterThan 0
        $s.LogDiskFreeMB | Should-BeGreaterThan 0
        $s.Checks | Should-Be 'api=up database=up stellarRpc=up'
    }

    It 'streams one status per target, in parallel, and a bad target does not stop the others' {
        $targets = @(1..5 | ForEach-Object { New-LocalTarget @{ Name = "many-$_" } }) +
            (New-SshTarget -AppPath '/tmp' @{ Name = 'bad-ssh'; KnownHostsFile = $Sshd.WrongKnownHostsFile })
        $r = $targets | Get-VaultBackendStatus -ThrottleLimit 4 -ErrorVariable errs -ErrorAction SilentlyContinue
        ($r.Target.Name | Sort-Object) | Should-BeCollection @('many-1', 'many-2', 'many-3', 'many-4', 'many-5')
        $errs.Count | Should-Be 1
        $errs[0].FullyQualifiedErrorId | Should-BeLikeString 'HostKeyMismatch,*'
        $errs[0].TargetObject.Name | Should-Be 'bad-ssh'
    }

    It 'over SSH, targets of one server ask the same thing once per call (pm2 jlist per PM2_HOME, ss per port); each still gets its full status' {
        $one = New-SshTarget -AppPath '/tmp' @{ Name = 'fan-alone' } | Get-VaultBackendStatus -ErrorAction Stop
        $targets = @(1..12 | ForEach-Object { New-SshTarget -AppPath '/tmp' @{ Name = "fan-$_" } }) +
            (New-SshTarget -AppPath '/tmp' @{ Name = 'fan-other-home'; Pm2Home = '/tmp/yv-pm2-none-other' })
        $sessions = { @(Select-String -LiteralPath $Sshd.LogFile -Pattern 'Starting session: command' -SimpleMatch).Count }
        $before = & $sessions
        $r = @($targets | Get-VaultBackendStatus -ThrottleLimit 8 -ErrorAction Stop)
        # One pm2 jlist for each PM2_HOME, one ss for the port; the HTTP probes are each target's own.
        ((& $sessions) - $before) | Should-Be 3
        ($r.Target.Name | Sort-Object) | Should-BeCollection @($targets.Name | Sort-Object)
        foreach ($s in $r) {
            $s.State | Should-Be $one.State
            $s.Healthy | Should-BeTrue
            $s.Ready | Should-BeTrue
            $s.Version | Should-Be $one.Version
            $s.Commit | Should-Be $Commit
            $s.Checks | Should-Be $one.Checks
            $s.ActiveConnections | Should-BeGreaterThanOrEqual 0
            @($s.Problems) | Should-BeCollection @($one.Problems)
        }
    }

    It 'shows a table that fits 120 columns' {
        $lines = New-LocalTarget | Get-VaultBackendStatus | Format-Table | Out-String -Width 120 -Stream
        ($lines | Where-Object { $_.Length -gt 120 }) | Should-BeNull
    }
}
