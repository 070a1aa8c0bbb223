# The runbook's Troubleshooting section, each symptom caused for real and named by Get-VaultDiagnosis with its
# evidence: the sample backend under PM2 with real PostgreSQL and the Stellar RPC stand-in; the port taken by another
# process, a required variable missing, a wrong database password (also over SSH), a stopped PostgreSQL, a backend that
# leaks memory (tests/fixtures/leaky-backend), and slow responses from a slow Stellar RPC.
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestCommon.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot '../services/YieldVault.TestServices.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot '../services/Pm2.TestServices.psm1') -Force
    Import-Module (Get-VaultModuleManifest) -Force

    $script:Postgres = Start-TestPostgres
    $script:Rpc = Start-TestStellarRpc
    $script:Sshd = Start-TestSshd
    $script:Planted = 'Planted-Diagnosis-Password-' + [guid]::NewGuid().ToString('N').Substring(0, 8)

    # A PM2 workspace as root: the sample backend v1.2.3 at <ws>/app with its .env, and the leaky backend beside it.
    $script:Ws = New-TestPm2Workspace -User root
    $script:Dir = Join-Path $Ws.Directory 'diag'
    New-Item -ItemType Directory -Path $Dir | Out-Null
    $origin = New-TestSampleOrigin -Directory $Dir
    $script:App = New-TestSampleCheckout -Origin $origin -Ref v1.2.3 -Path (Join-Path $Dir 'app')
    $script:Port = Get-FreeTcpPort
    $script:EnvLines = @("PORT=$Port", 'NODE_ENV=production', "STELLAR_RPC_URL=$($Rpc.Url)", "DATABASE_URL=$($Postgres.DatabaseUrl)",
        'VAULT_CONTRACT_ID=CDLZFC3SYJYDZT7K67VZ75HPJVIEUVNIXF47ZG2FB2RMQQVU2HHGCYSC', "LOG_FILE=$Dir/logs/backend.log", 'SHUTDOWN_DRAIN_MS=300')
    $script:EnvFile = Join-Path $App '.env'
    function Set-EnvFile([string[]] $Lines) { $Lines | Set-Content -LiteralPath $EnvFile; & chmod 600 $EnvFile }
    Set-EnvFile $EnvLines
    [void](Invoke-TestSampleMigration -Path $App -DatabaseUrl $Postgres.DatabaseUrl)
    $script:Target = New-VaultTarget -Name diag-1 -Port $Port -AppPath $App -ServiceManager Pm2 -Pm2Home $Ws.Pm2Home -MigrationPreset Npm `
        -LogPath "$Dir/logs/backend.log" -BackupPath "$Dir/backups" -StatePath "$Dir/state"
    $null = $Target | Start-VaultBackend -Confirm:$false

    function Wait-YvTestLog([string] $Path, [string] $Pattern, [int] $TimeoutSec = 30) {
        # Bounded: the backend writes the line within seconds of its (failed) start.
        $deadline = [DateTime]::UtcNow.AddSeconds($TimeoutSec)
        while ([DateTime]::UtcNow -lt $deadline) {
            if ((Test-Path -LiteralPath $Path) -and (Select-String -LiteralPath $Path -SimpleMatch -Pattern $Pattern -Quiet)) { return }
            Start-Sleep -Milliseconds 250
        }
        throw "No '$Pattern' in $Path within $TimeoutSec s."
    }
    function Get-Finding($Findings, [string] $Check) {
        $found = @($Findings | Where-Object Check -EQ $Check)
        $found.Count | Should-BeGreaterThan 0 -Because "a $Check finding is expected"
        $found[0]
    }
    function Restore-Backend {
        Set-EnvFile $EnvLines
        $null = $Target | Restart-VaultBackend -Confirm:$false -TimeoutSec 60
    }
}

AfterAll {
    if ($script:Ws) { Stop-TestPm2 -Workspace $Ws -ErrorAction Continue }
    if ($script:Sshd) { Stop-TestSshd $Sshd }
    if ($script:Rpc) { Stop-TestStellarRpc $Rpc }
    if ($script:Postgres) { Stop-TestPostgres $Postgres }
    if ($script:Ws) { Remove-Item -LiteralPath $Ws.Directory -Recurse -Force -ErrorAction Ignore }
    Stop-AllTestServices
}

Describe 'Get-VaultDiagnosis on a healthy backend' {
    It 'runs every check of the four symptoms and finds no problem' {
        $f = @($Target | Get-VaultDiagnosis -SampleSec 3 -Requests 3 -SlowMs 3000)
        $checks = @('ServiceState', 'Environment', 'Port', 'Dependencies', 'Files', 'DatabaseUrl', 'DatabaseDns', 'DatabaseTcp', 'DatabaseQuery', 'PostgresService',
            'MemoryTrend', 'Restarts', 'HealthLatency', 'ReadLatency', 'RpcLatency', 'DatabaseLatency', 'Cpu', 'IoWait')
        foreach ($c in $checks) { @($f | Where-Object Check -EQ $c).Count | Should-BeGreaterThan 0 -Because "$c is one of the runbook's checks" }
        # The host's own CPU and I/O wait depend on what else this machine runs; the backend's checks do not.
        $problems = @($f | Where-Object { $_.Status -eq 'Problem' -and $_.Check -notin 'Cpu', 'IoWait' })
        ($problems | ForEach-Object { "$($_.Check): $($_.Summary)" }) -join '; ' | Should-BeEmptyString
        (Get-Finding $f ServiceState).Status | Should-Be 'Ok'
        (Get-Finding $f Port).Summary | Should-BeLikeString "the backend (pid *) listens on port $Port"
        (Get-Finding $f Dependencies).Summary | Should-BeLikeString 'npm ls: * production dependencies, none missing or invalid'
        (Get-Finding $f DatabaseQuery).Status | Should-Be 'Ok'
        (Get-Finding $f PostgresService).Summary | Should-Be "PostgreSQL listens on port $($Postgres.Port) on the host"
        (Get-Finding $f MemoryTrend).Summary | Should-BeLikeString 'memory is steady*'
        @($f | Where-Object Check -EQ ReadLatency).Count | Should-Be 2
        $f | ForEach-Object { $_.Runbook | Should-NotBeWhiteSpaceString }
        $f | ForEach-Object { $_.Target.Name | Should-Be 'diag-1' }
        ($f | ConvertTo-Json -Depth 4) | Should-NotBeLikeString "*$($Postgres.Password)*"
    }

    It 'checks only the symptoms asked for' {
        $f = @($Target | Get-VaultDiagnosis -Symptom Database)
        @($f.Symptom | Sort-Object -Unique) | Should-BeCollection @('Database')
        $f.Count | Should-Be 5
    }
}

Describe "Service won't start" {
    It 'names the process that holds the port and the log line that says so' {
        $null = $Target | Stop-VaultBackend -Confirm:$false
        $listener = [System.Net.Sockets.TcpListener]::new([System.Net.IPAddress]::Loopback, $Port)
        $listener.Start()
        try {
            [void](Invoke-TestPm2 -Workspace $Ws -ArgumentList 'start', 'yieldvault-backend')
            # The backend exits at once (EADDRINUSE) and PM2 starts it again: wait for its fatal line.
            Wait-YvTestLog -Path "$Dir/logs/backend.log" -Pattern "Port $Port is already in use"
            $f = @($Target | Get-VaultDiagnosis -Symptom WontStart)
            $state = Get-Finding $f ServiceState
            $state.Status | Should-Be 'Problem'
            $state.Summary | Should-BeLikeString "*the log says: Port $Port is already in use*"
            $portFinding = Get-Finding $f Port
            $portFinding.Status | Should-Be 'Problem'
            $portFinding.Summary | Should-BeLikeString "port $Port is taken by another process: pid $PID (root)*"
            ($portFinding.Evidence -join "`n") | Should-BeLikeString "*pid=$PID*"
            $portFinding.Next | Should-BeLikeString "*kill $PID*"
        }
        finally {
            $listener.Stop()
            [void](Invoke-TestPm2 -Workspace $Ws -ArgumentList 'stop', 'yieldvault-backend' -AllowFailure)
            Restore-Backend
        }
    }

    It 'names the required variable that is missing' {
        Set-EnvFile ($EnvLines | Where-Object { $_ -notlike 'VAULT_CONTRACT_ID=*' })
        try {
            [void](Invoke-TestPm2 -Workspace $Ws -ArgumentList 'restart', 'yieldvault-backend')
            Wait-YvTestLog -Path "$Dir/logs/backend.log" -Pattern 'Missing required environment variables: VAULT_CONTRACT_ID'
            $f = @($Target | Get-VaultDiagnosis -Symptom WontStart)
            $envFinding = Get-Finding $f Environment
            $envFinding.Status | Should-Be 'Problem'
            $envFinding.Summary | Should-Be "required variables missing or empty in ${EnvFile}: VAULT_CONTRACT_ID"
            (Get-Finding $f ServiceState).Summary | Should-BeLikeString '*Missing required environment variables: VAULT_CONTRACT_ID*'
        }
        finally {
            [void](Invoke-TestPm2 -Workspace $Ws -ArgumentList 'stop', 'yieldvault-backend' -AllowFailure)
            Restore-Backend
        }
    }
}

Describe 'Database connection fails' {
    It 'says the login is refused for a wrong password, and never shows the password' {
        Set-EnvFile ($EnvLines -replace '^DATABASE_URL=.*$', "DATABASE_URL=postgres://yv:$Planted@127.0.0.1:$($Postgres.Port)/yieldvault")
        try {
            $f = @($Target | Get-VaultDiagnosis -Symptom Database)
            (Get-Finding $f DatabaseUrl).Summary | Should-Be "DATABASE_URL names yv@127.0.0.1:$($Postgres.Port)/yieldvault"
            (Get-Finding $f DatabaseTcp).Status | Should-Be 'Ok'
            $query = Get-Finding $f DatabaseQuery
            $query.Status | Should-Be 'Problem'
            $query.Summary | Should-BeLikeString "*refused the login of user 'yv' (28P01*"
            $query.Next | Should-BeLikeString '*password in DATABASE_URL*'
            (Get-Finding $f PostgresService).Status | Should-Be 'Ok'
            ($f | ConvertTo-Json -Depth 4) | Should-NotBeLikeString "*$Planted*"
        }
        finally { Set-EnvFile $EnvLines }
    }

    It 'says nothing listens when PostgreSQL is stopped' {
        $stopped = Start-TestPostgres
        Set-EnvFile ($EnvLines -replace '^DATABASE_URL=.*$', "DATABASE_URL=$($stopped.DatabaseUrl)")
        try {
            Stop-TestPostgres $stopped
            $f = @($Target | Get-VaultDiagnosis -Symptom Database)
            $tcp = Get-Finding $f DatabaseTcp
            $tcp.Status | Should-Be 'Problem'
            $tcp.Summary | Should-BeLikeString "127.0.0.1:$($stopped.Port) refuses connections*"
            (Get-Finding $f DatabaseQuery).Status | Should-Be 'NotChecked'
            $service = Get-Finding $f PostgresService
            $service.Status | Should-Be 'Problem'
            $service.Summary | Should-BeLikeString "nothing listens on port $($stopped.Port)*"
            $service.Next | Should-BeLikeString '*systemctl start postgresql*'
            ($f | ConvertTo-Json -Depth 4) | Should-NotBeLikeString "*$($stopped.Password)*"
        }
        finally { Set-EnvFile $EnvLines }
    }

    It 'checks from the server over SSH' {
        # Only an env file on the SSH host, as yvops: the database checks need nothing more.
        $remote = Join-Path $Ws.Directory 'remote-app'
        New-Item -ItemType Directory -Path $remote | Out-Null
        "DATABASE_URL=postgres://yv:$Planted@127.0.0.1:$($Postgres.Port)/yieldvault" | Set-Content -LiteralPath "$remote/.env"
        & chown -R "$($Sshd.User):" $remote
        & chmod 600 "$remote/.env"
        $ssh = New-VaultTarget -Name diag-ssh -HostName $Sshd.HostName -SshPort $Sshd.Port -User $Sshd.User -KeyFile $Sshd.UserKeyFile -KnownHostsFile $Sshd.KnownHostsFile `
            -AppPath $remote -ServiceManager Pm2 -StatePath "$remote/state"
        $f = @($ssh | Get-VaultDiagnosis -Symptom Database)
        (Get-Finding $f DatabaseTcp).Evidence[0] | Should-BeLikeString "*from $($Sshd.User)@*"
        (Get-Finding $f DatabaseQuery).Summary | Should-BeLikeString "*refused the login of user 'yv'*"
        (Get-Finding $f PostgresService).Status | Should-Be 'Ok'
        ($f | ConvertTo-Json -Depth 4) | Should-NotBeLikeString "*$Planted*"
    }
}

Describe 'High memory usage' {
    It 'sees a backend that leaks memory grow, and a steady one stay steady' {
        $leakDir = Join-Path $Ws.Directory 'leaky'
        Copy-Item -LiteralPath (Join-Path $PSScriptRoot '../fixtures/leaky-backend') -Destination $leakDir -Recurse
        $leakPort = Get-FreeTcpPort
        @("PORT=$leakPort", 'LEAK_MB_PER_SECOND=6', 'LEAK_LIMIT_MB=250') | Set-Content -LiteralPath "$leakDir/.env"
        $leaky = New-VaultTarget -Name leaky-1 -Port $leakPort -AppPath $leakDir -ServiceManager Pm2 -Pm2Home $Ws.Pm2Home -ServiceName leaky-backend `
            -HealthPath /health -ReadyPath '' -VersionPath '' -RequiredVariables @('PORT') -MigrationPreset None -SmokePreset None `
            -LogPath "$leakDir/logs/none.log" -StatePath "$leakDir/state"
        $null = $leaky | Start-VaultBackend -Confirm:$false -TimeoutSec 30
        try {
            # PM2 reports an app's heap a few seconds after its start; the trend compares two of its reports.
            $deadline = [DateTime]::UtcNow.AddSeconds(20)
            while ([DateTime]::UtcNow -lt $deadline -and -not (Get-TestPm2List -Workspace $Ws | Where-Object name -EQ 'leaky-backend').pm2_env.axm_monitor.'Used Heap Size') {
                Start-Sleep -Milliseconds 500
            }
            $f = @($leaky | Get-VaultDiagnosis -Symptom Memory -SampleSec 8)
            $trend = Get-Finding $f MemoryTrend
            $trend.Status | Should-Be 'Problem'
            $trend.Summary | Should-BeLikeString 'memory grows steadily: * MB/min*'
            $trend.Evidence[0] | Should-MatchString 'RSS of pid \d+ over \d+ s: [\d.]+ -> [\d.]+ MB \(\+[\d.]+ MB'
            $trend.Next | Should-BeLikeString '$target | Restart-VaultBackend*'
            ($trend.Evidence -join "`n") | Should-BeLikeString '*V8 heap in use (PM2*'

            (Get-Finding @($Target | Get-VaultDiagnosis -Symptom Memory -SampleSec 4) MemoryTrend).Status | Should-Be 'Ok'
        }
        finally {
            [void](Invoke-TestPm2 -Workspace $Ws -ArgumentList 'delete', 'leaky-backend' -AllowFailure)
        }
    }
}

Describe 'Slow response times' {
    It 'times the endpoints and puts the slowness on the Stellar RPC' {
        [void](Set-TestStellarRpcMode -Rpc $Rpc -Mode slow -DelayMs 700)
        try {
            $f = @($Target | Get-VaultDiagnosis -Symptom SlowResponses -Requests 4 -SampleSec 3)
            $read = @($f | Where-Object { $_.Check -eq 'ReadLatency' -and $_.Evidence[0] -like 'GET /api/v1/vault/total-assets*' })[0]
            $read.Status | Should-Be 'Problem'
            $read.Summary | Should-BeLikeString 'GET /api/v1/vault/total-assets is slow: p95 * ms*the Stellar RPC alone takes * ms (RpcLatency)'
            $rpcFinding = Get-Finding $f RpcLatency
            $rpcFinding.Status | Should-Be 'Problem'
            $rpcFinding.Summary | Should-MatchString '^the Stellar RPC is slow: getHealth takes [7-9]\d\d ms'
            $rpcFinding.Next | Should-BeLikeString '*curl*$STELLAR_RPC_URL*'
            (Get-Finding $f DatabaseLatency).Status | Should-Be 'Ok'
        }
        finally { [void](Set-TestStellarRpcMode -Rpc $Rpc -Mode up) }
    }
}
