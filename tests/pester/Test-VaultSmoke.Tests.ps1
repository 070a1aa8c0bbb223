# Runbook Step 8 (smoke tests) and 9.2 (external access) against the real sample backend (Node, PostgreSQL, RPC
# stand-in), locally and over real SSH: every check, the RPC and the database down, the write test and its key,
# the rate-limit probe, -BaseUrl, a target's own checks, and a deployment that a failing smoke check rolls back.
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestCommon.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot '../services/YieldVault.TestServices.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot '../services/Pm2.TestServices.psm1') -Force
    Import-Module (Get-VaultModuleManifest) -Force

    # A low limit in a short window: the probe needs 31 requests, and the other tests never wait out a minute.
    $script:Stack = Start-TestBackendStack -ExtraEnvironment @{ RATE_LIMIT_MAX = '30'; RATE_LIMIT_WINDOW_MS = '1000' }
    $script:Sshd = Start-TestSshd
    $script:ApiKey = $Stack.Environment.ADMIN_API_KEY
    $script:ResultType = 'YieldVault.Ops.VaultSmokeResult'
    $script:Defaults = 'VaultSummary', 'VaultMetrics', 'Health', 'RateLimitBurst', 'DatabaseRead', 'StellarRpc'
    $script:Scratch = Join-Path $Stack.Directory 'smoke'
    New-Item -ItemType Directory -Path $Scratch | Out-Null

    $script:LocalTarget = New-VaultTarget -Name local-1 -Port $Stack.Port -AppPath $Stack.Checkout -ServiceManager Pm2
    $script:SshTarget = New-VaultTarget -Name ssh-1 -HostName $Sshd.HostName -SshPort $Sshd.Port -User $Sshd.User -KeyFile $Sshd.UserKeyFile `
        -KnownHostsFile $Sshd.KnownHostsFile -Port $Stack.Port -AppPath '/tmp/yv-no-app' -ServiceManager Pm2

    # Targets with settings New-VaultTarget has no parameter for (SmokeChecks) come from a targets file.
    function New-TargetFile([string] $Name, [string] $Body) {
        $file = Join-Path $Scratch "$Name.psd1"
        Set-Content -LiteralPath $file -Value "@{ Targets = @( $Body ) }"
        $file
    }

    # The limiter allows 30 requests a second from 127.0.0.1: start a run with room for two full sets.
    function Wait-RateWindow {
        $r = Invoke-WebRequest -Uri "$($Stack.Url)/api/v1/version" -SkipHttpErrorCheck -TimeoutSec 5
        $remaining = if ($r.StatusCode -eq 429) { 0 } else { [int]@($r.Headers['X-RateLimit-Remaining'])[0] }
        if ($remaining -lt 20) { Start-Sleep -Milliseconds 1100 }
    }

    function Invoke-Smoke {
        param([Parameter(ValueFromPipeline)] $InputObject, [hashtable] $Parameters = @{})
        process {
            Wait-RateWindow
            @($InputObject | Test-VaultSmoke @Parameters)
        }
    }

    function Get-Check($Results, [string] $Name) { $Results | Where-Object Name -EQ $Name }
}

AfterAll {
    if ($script:DeployWs) { Stop-TestPm2 -Workspace $DeployWs -ErrorAction Continue; Remove-Item -LiteralPath $DeployWs.Directory -Recurse -Force -ErrorAction Ignore }
    if ($script:Sshd) { Stop-TestSshd $Sshd }
    if ($script:Stack) { Set-TestStellarRpcMode -Rpc $Stack.Rpc -Mode up -ErrorAction Ignore; Stop-TestBackendStack $Stack }
    Stop-AllTestServices
}

Describe 'Test-VaultSmoke on a healthy backend' {
    It 'passes every check of runbook Step 8 on <Where>' -ForEach @(@{ Where = 'this machine'; Key = 'LocalTarget' }, @{ Where = 'an SSH host'; Key = 'SshTarget' }) {
        $target = Get-Variable -Name $Key -ValueOnly
        $r = Invoke-Smoke $target
        $r | ForEach-Object { $_.GetType().FullName | Should-Be $ResultType }
        @($r.Name) | Should-BeCollection $Defaults
        foreach ($check in $r) { $check.Passed | Should-BeTrue -Because "$($check.Name): $($check.Detail)" }
        $r.Target.Name | Select-Object -Unique | Should-Be $target.Name
        (Get-Check $r Health).Detail | Should-Be "200, status = 'healthy'"
        (Get-Check $r RateLimitBurst).Detail | Should-BeLikeString '5 of 5 answered 200, none refused*'
        (Get-Check $r DatabaseRead).Url | Should-Be '/api/v1/transactions?limit=1'
        (Get-Check $r DatabaseRead).Detail | Should-BeLikeString '200, transactions = a list of *'
        (Get-Check $r StellarRpc).Detail | Should-Be "200, totalAssets = '1250000.0000000'"
        foreach ($check in $r) { $check.LatencyMs | Should-BeGreaterThan 0 }
    }

    It 'shows results in a table that fits 120 columns' {
        $text = Invoke-Smoke $LocalTarget | Format-Table | Out-String -Width 120
        $text | Should-MatchString 'Target\s+Check\s+Passed\s+Code\s+Ms\s+Detail'
        $text | Should-BeLikeString '*local-1*RateLimitBurst*True*200*'
    }

    It 'takes a deployment result from the pipeline and checks its target' {
        # Any object with a Target property binds; the deployment result is tested with a real run below.
        $r = [pscustomobject]@{ Target = $LocalTarget; Status = 'Succeeded' } | Invoke-Smoke
        @($r.Name) | Should-BeCollection $Defaults
    }
}

Describe 'Test-VaultSmoke when a dependency is down' {
    It 'fails the Stellar RPC check and health, and passes the others, while the RPC is down (<Where>)' -ForEach @(@{ Where = 'local'; Key = 'LocalTarget' }, @{ Where = 'SSH'; Key = 'SshTarget' }) {
        $target = Get-Variable -Name $Key -ValueOnly
        Set-TestStellarRpcMode -Rpc $Stack.Rpc -Mode down | Out-Null
        try {
            Start-Sleep -Milliseconds 400   # the backend caches its dependency checks for 250 ms
            $r = Invoke-Smoke $target
        }
        finally { Set-TestStellarRpcMode -Rpc $Stack.Rpc -Mode up | Out-Null }
        $rpc = Get-Check $r StellarRpc
        $rpc.Passed | Should-BeFalse
        $rpc.StatusCode | Should-Be 502
        $rpc.Detail | Should-Be 'answered 502, expected 200: Stellar RPC request failed'
        (Get-Check $r Health).Passed | Should-BeFalse
        (Get-Check $r Health).StatusCode | Should-Be 503
        @($r | Where-Object Passed | ForEach-Object Name) | Should-BeCollection @('VaultSummary', 'VaultMetrics', 'RateLimitBurst', 'DatabaseRead')
        Start-Sleep -Milliseconds 400
    }

    It 'fails the API checks with a clear reason while MAINTENANCE_MODE is set, and health still passes' {
        $flag = Join-Path $Stack.Checkout 'MAINTENANCE_MODE'
        New-Item -ItemType File -Path $flag | Out-Null
        try { $r = Invoke-Smoke $LocalTarget }
        finally { Remove-Item -LiteralPath $flag }
        (Get-Check $r Health).Passed | Should-BeTrue
        (Get-Check $r DatabaseRead).Detail | Should-Be 'answered 503, expected 200: the backend is in maintenance mode (MAINTENANCE_MODE)'
        @($r | Where-Object { -not $_.Passed }).Count | Should-Be 5
    }
}

Describe 'Test-VaultSmoke -IncludeWrite' {
    It 'writes with ADMIN_API_KEY from the env file, and the key appears nowhere' {
        $all = $LocalTarget | Test-VaultSmoke -IncludeWrite -Verbose *>&1
        $r = @($all | Where-Object { $_.GetType().FullName -eq $ResultType })
        @($r.Name) | Should-BeCollection @('VaultSummary', 'VaultMetrics', 'Health', 'RateLimitBurst', 'DatabaseRead', 'DatabaseWrite', 'StellarRpc')
        $write = Get-Check $r DatabaseWrite
        $write.Passed | Should-BeTrue -Because $write.Detail
        $write.StatusCode | Should-Be 201
        $write.Url | Should-Be '/admin/test-write'
        $text = ($all | Out-String) + ($r | Format-List * | Out-String)
        $text | Should-BeLikeString '*smoke check DatabaseWrite: POST /admin/test-write*'
        $text | Should-NotBeLikeString "*$ApiKey*"
        $text | Should-NotBeLikeString "*$($Stack.Postgres.Password)*"
    }

    It 'writes over SSH with the key given as -ApiKey' {
        $key = ConvertTo-SecureString -String $ApiKey -AsPlainText -Force
        $r = Invoke-Smoke $SshTarget -Parameters @{ ApiKey = $key }
        (Get-Check $r DatabaseWrite).Passed | Should-BeTrue -Because (Get-Check $r DatabaseWrite).Detail
    }

    It 'fails with 401 for a wrong key, and neither key appears in any output' {
        $wrong = 'Planted-Wrong-Key-' + [guid]::NewGuid().ToString('N').Substring(0, 8)
        Wait-RateWindow
        $all = $LocalTarget | Test-VaultSmoke -ApiKey (ConvertTo-SecureString -String $wrong -AsPlainText -Force) -Verbose *>&1
        $write = $all | Where-Object { $_.GetType().FullName -eq $ResultType -and $_.Name -eq 'DatabaseWrite' }
        $write.Passed | Should-BeFalse
        $write.StatusCode | Should-Be 401
        $write.Detail | Should-Be 'answered 401, expected 201: Invalid API key'
        $text = ($all | Out-String) + ($all | Format-List * | Out-String)
        foreach ($secret in $wrong, $ApiKey) { $text | Should-NotBeLikeString "*$secret*" }
    }

    It 'says that there is no key when the env file has none, without sending the write' {
        $r = Invoke-Smoke $SshTarget -Parameters @{ IncludeWrite = $true }
        $write = Get-Check $r DatabaseWrite
        $write.Passed | Should-BeFalse
        $write.StatusCode | Should-BeNull
        $write.Detail | Should-Be 'no API key: the env file /tmp/yv-no-app/.env does not exist; give the key with -ApiKey'
    }
}

Describe 'Test-VaultSmoke -BaseUrl (runbook 9.2)' {
    It 'runs the same checks through the URL from this machine and shows the full URLs' {
        $r = Invoke-Smoke $SshTarget -Parameters @{ BaseUrl = $Stack.Url }
        foreach ($check in $r) { $check.Passed | Should-BeTrue -Because "$($check.Name): $($check.Detail)" }
        (Get-Check $r Health).Url | Should-Be "$($Stack.Url)/health"
        (Get-Check $r DatabaseRead).Url | Should-Be "$($Stack.Url)/api/v1/transactions?limit=1"
    }

    It 'sends the admin key over plain http only to a loopback address' {
        $r = Invoke-Smoke $SshTarget -Parameters @{ BaseUrl = $Stack.Url; ApiKey = (ConvertTo-SecureString $ApiKey -AsPlainText -Force) }
        (Get-Check $r DatabaseWrite).Passed | Should-BeTrue -Because (Get-Check $r DatabaseWrite).Detail
        $err = { Test-VaultSmoke -Target $LocalTarget -BaseUrl 'http://api.example.invalid' -IncludeWrite } | Should-Throw
        $err.FullyQualifiedErrorId | Should-Be 'BaseUrlNotSecure,YieldVault.Ops.Commands.TestVaultSmokeCommand'
        $err.Exception.Message | Should-BeLikeString '*http://api.example.invalid*'
    }

    It 'refuses a URL with credentials before anything runs, without repeating them' {
        $err = { Test-VaultSmoke -Target $LocalTarget -BaseUrl 'https://ops:Planted-Url-Pw-1@api.example' } | Should-Throw
        $err.FullyQualifiedErrorId | Should-Be 'BaseUrlInvalid,YieldVault.Ops.Commands.TestVaultSmokeCommand'
        $err.Exception.Message | Should-NotBeLikeString '*Planted-Url-Pw-1*'
    }
}

Describe 'A target''s own smoke checks' {
    It 'runs the checks of the targets file after the runbook''s, passing and failing' {
        $file = New-TargetFile own @"
@{ Name = 'own-1'; Port = $($Stack.Port); AppPath = '$($Stack.Checkout)'; ServiceManager = 'Pm2'
   SmokeChecks = @(
     @{ Name = 'summary-apy'; Path = '/api/v1/vault/summary'; JsonPath = 'apy'; ExpectedValue = 5.42; LatencyBudgetMs = 1000 }
     @{ Name = 'db-check'; Path = '/health'; JsonPath = 'checks.database'; ExpectedValue = 'up' }
     @{ Name = 'fees'; Path = '/api/v1/vault/fees'; ExpectedStatus = 200; JsonPath = 'feeBps'; LatencyBudgetMs = 500 }
   ) }
"@
        $r = Get-VaultTarget -Path $file | Invoke-Smoke
        @($r.Name) | Should-BeCollection ($Defaults + 'summary-apy', 'db-check', 'fees')
        (Get-Check $r summary-apy).Passed | Should-BeTrue -Because (Get-Check $r summary-apy).Detail
        (Get-Check $r summary-apy).Detail | Should-Be '200, apy = 5.42'
        (Get-Check $r db-check).Passed | Should-BeTrue
        # v1.2.3 has no fees endpoint (v1.3.0 adds it).
        (Get-Check $r fees).Passed | Should-BeFalse
        (Get-Check $r fees).Detail | Should-Be 'answered 404, expected 200: Not Found'
    }

    It 'refuses a bad check in the targets file naming the file, the target and the key' {
        $file = New-TargetFile bad "@{ Name = 'bad-1'; SmokeChecks = @( @{ Name = 'fees'; Path = '//evil.example/x' } ) }"
        $err = { Get-VaultTarget -Path $file } | Should-Throw
        $err.FullyQualifiedErrorId | Should-BeLikeString 'TargetConfigInvalid,*'
        $err.Exception.Message | Should-BeLikeString "*$file*target 'bad-1', key 'SmokeChecks': check #1 ('fees'), key 'Path'*"
    }
}

Describe 'Test-VaultSmoke -RateLimitProbe' {
    It 'sees 429 as the last check, and the next run waits for Retry-After instead of failing' {
        $r = Invoke-Smoke $LocalTarget -Parameters @{ RateLimitProbe = $true }
        $r[-1].Name | Should-Be 'RateLimitEnforced'
        $r[-1].Passed | Should-BeTrue -Because $r[-1].Detail
        $r[-1].StatusCode | Should-Be 429
        $r[-1].Detail | Should-MatchString '^429 after \d+ requests in [\d.]+ s; Retry-After 1 s$'
        foreach ($check in $r) { $check.Passed | Should-BeTrue -Because "$($check.Name): $($check.Detail)" }

        # Right after the probe the window is used up: a check that is refused waits for Retry-After once.
        $next = @(Test-VaultSmoke -Target $LocalTarget)
        foreach ($check in $next) { $check.Passed | Should-BeTrue -Because "$($check.Name): $($check.Detail)" }
        $next[0].Detail | Should-BeLikeString '*asked again after a 429 and Retry-After 1 s*'
    }
}

Describe 'Invoke-VaultDeployment step 9' {
    BeforeAll {
        # A PM2 workspace with a copy of the stack's v1.2.3 checkout (built; origin = the stack's origin) on its own port.
        $script:DeployWs = New-TestPm2Workspace -User root
        $app = Join-Path $DeployWs.Directory 'app'
        & cp -a -- $Stack.Checkout $app
        $script:DeployPort = Get-FreeTcpPort
        @("PORT=$DeployPort", 'NODE_ENV=production', "STELLAR_RPC_URL=$($Stack.Rpc.Url)", "DATABASE_URL=$($Stack.Postgres.DatabaseUrl)",
            "VAULT_CONTRACT_ID=$($Stack.Environment.VAULT_CONTRACT_ID)", "ADMIN_API_KEY=$ApiKey", "LOG_FILE=$($DeployWs.Directory)/logs/backend.log",
            'SHUTDOWN_DRAIN_MS=300') | Set-Content -LiteralPath (Join-Path $app '.env')
        & chmod 600 (Join-Path $app '.env')
        $file = New-TargetFile deploy @"
@{ Name = 'deploy-1'; Port = $DeployPort; AppPath = '$app'; ServiceManager = 'Pm2'; Pm2Home = '$($DeployWs.Pm2Home)'; MigrationPreset = 'Npm'
   LogPath = '$($DeployWs.Directory)/logs/backend.log'; BackupPath = '$($DeployWs.Directory)/backups'; StatePath = '$($DeployWs.Directory)/state'
   SmokeChecks = @( @{ Name = 'still-v123'; Path = '/api/v1/version'; JsonPath = 'version'; ExpectedValue = '1.2.3' } ) }
"@
        $script:DeployTarget = Get-VaultTarget -Path $file
        $null = $DeployTarget | Start-VaultBackend -Confirm:$false
        function Get-ServedVersion { (Invoke-RestMethod -Uri "http://127.0.0.1:$DeployPort/api/v1/version" -TimeoutSec 5).version }
    }

    It 'plans the smoke tests, and none with -SkipSmoke' {
        $transcript = Join-Path $Scratch 'whatif.txt'
        Start-Transcript -LiteralPath $transcript -UseMinimalHeader | Out-Null
        try {
            $DeployTarget | Invoke-VaultDeployment -Ref v1.3.0 -WhatIf
            $DeployTarget | Invoke-VaultDeployment -Ref v1.3.0 -SkipSmoke -WhatIf
        }
        finally { Stop-Transcript | Out-Null }
        $lines = @(Get-Content -LiteralPath $transcript | Where-Object { $_ -like '*Step 9/10 Smoke tests*' })
        $lines.Count | Should-Be 2
        $lines[0] | Should-BeLikeString "*the target's smoke checks*"
        $lines[1] | Should-BeLikeString '*(skipped: -SkipSmoke)*'
    }

    It 'rolls back v1.3.0 when a smoke check fails, and v1.2.3 serves again' {
        Get-ServedVersion | Should-Be '1.2.3'
        $r = $DeployTarget | Invoke-VaultDeployment -Ref v1.3.0 -SmokeApiKey (ConvertTo-SecureString -String $ApiKey -AsPlainText -Force) `
            -ErrorVariable errs -ErrorAction SilentlyContinue -WarningAction SilentlyContinue
        $r.Status | Should-Be 'RolledBack'
        $r.ErrorId | Should-Be 'SmokeTestFailed'
        $r.Error | Should-BeLikeString "*smoke check failed: still-v123 ('version' is '1.3.0', expected '1.2.3')*"
        $r.Error | Should-NotBeLikeString "*$ApiKey*"
        $errs[0].FullyQualifiedErrorId | Should-BeLikeString 'DeploymentRolledBack,*'
        ($r.Steps | Where-Object Number -EQ 8).Outcome | Should-Be 'Succeeded'
        ($r.Steps | Where-Object Number -EQ 9).Outcome | Should-Be 'Failed'
        $r.VersionAfter | Should-Be '1.2.3'
        Get-ServedVersion | Should-Be '1.2.3'
        (Get-Content -LiteralPath $r.JournalPath -Raw) | Should-NotBeLikeString "*$ApiKey*"

        # The result pipes into Test-VaultSmoke (its Target binds): after the rollback every check passes again.
        $again = @($r | Test-VaultSmoke)
        @($again.Name) | Should-BeCollection ($Defaults + 'still-v123')
        foreach ($check in $again) { $check.Passed | Should-BeTrue -Because "$($check.Name): $($check.Detail)" }
    }
}

Describe 'Test-VaultSmoke with the database down' {
    # Last: the stack's PostgreSQL does not come back.
    It 'fails the database read (503) and still passes the Stellar RPC check' {
        Stop-TestPostgres $Stack.Postgres
        Start-Sleep -Milliseconds 400
        $r = Invoke-Smoke $LocalTarget
        $read = Get-Check $r DatabaseRead
        $read.Passed | Should-BeFalse
        $read.StatusCode | Should-Be 503
        $read.Detail | Should-Be 'answered 503, expected 200: Database unavailable'
        (Get-Check $r StellarRpc).Passed | Should-BeTrue
        (Get-Check $r VaultSummary).Passed | Should-BeTrue
        (Get-Check $r Health).Passed | Should-BeFalse
    }
}
