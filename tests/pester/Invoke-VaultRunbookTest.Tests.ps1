# The quarterly drill and the runbook report, end to end with PM2 and the sample backend: the report's
# checklist and metrics are filled from measurements, the history shows the deployment and the rollback,
# and no planted secret appears anywhere the run wrote to.
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestCommon.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot '../services/YieldVault.TestServices.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot '../services/Pm2.TestServices.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot '../services/Webhook.TestServices.psm1') -Force
    Import-Module (Get-VaultModuleManifest) -Force

    $script:Postgres = Start-TestPostgres
    $script:Rpc = Start-TestStellarRpc
    $script:ApiKey = 'Planted-Drill-Key-' + [guid]::NewGuid().ToString('N').Substring(0, 10)
    $script:HookToken = 'T0/B0/Planted-Hook-' + [guid]::NewGuid().ToString('N').Substring(0, 10)
    $script:Hook = Start-TestWebhookListener

    $script:Pm2Ws = New-TestPm2Workspace -User root
    $script:Dir = Join-Path $Pm2Ws.Directory 'drill'
    New-Item -ItemType Directory -Path $Dir | Out-Null
    $origin = New-TestSampleOrigin -Directory $Dir
    $script:App = New-TestSampleCheckout -Origin $origin -Ref v1.2.3 -Path (Join-Path $Dir 'app')
    $script:Port = Get-FreeTcpPort
    @("PORT=$Port", 'NODE_ENV=production', "STELLAR_RPC_URL=$($Rpc.Url)", "DATABASE_URL=$($Postgres.DatabaseUrl)",
        'VAULT_CONTRACT_ID=CDLZFC3SYJYDZT7K67VZ75HPJVIEUVNIXF47ZG2FB2RMQQVU2HHGCYSC', "ADMIN_API_KEY=$ApiKey",
        "LOG_FILE=$Dir/logs/backend.log", 'SHUTDOWN_DRAIN_MS=300', 'RATE_LIMIT_MAX=40') | Set-Content -LiteralPath (Join-Path $App '.env')
    & chmod 600 (Join-Path $App '.env')
    [void](Invoke-TestSampleMigration -Path $App -DatabaseUrl $Postgres.DatabaseUrl)
    $script:Target = New-VaultTarget -Name staging-1 -Environment staging -Port $Port -AppPath $App -ServiceManager Pm2 -Pm2Home $Pm2Ws.Pm2Home `
        -MigrationPreset Npm -LogPath "$Dir/logs/backend.log" -BackupPath "$Dir/backups" -StatePath "$Dir/state" -PublicUrl "http://127.0.0.1:$Port"
    $null = $Target | Start-VaultBackend -Confirm:$false
    $script:Secrets = @($ApiKey, $Postgres.Password, $HookToken)
    $script:HookUrl = ConvertTo-SecureString ($Hook.Url.TrimEnd('/') + '/services/' + $HookToken) -AsPlainText -Force
}

AfterAll {
    if ($script:Pm2Ws) { Stop-TestPm2 -Workspace $Pm2Ws -ErrorAction Continue }
    if ($script:Hook) { Stop-TestWebhookListener $Hook }
    if ($script:Rpc) { Stop-TestStellarRpc $Rpc }
    if ($script:Postgres) { Stop-TestPostgres $Postgres }
    if ($script:Pm2Ws) { Remove-Item -LiteralPath $Pm2Ws.Directory -Recurse -Force -ErrorAction Ignore }
    Stop-AllTestServices
}

Describe 'Invoke-VaultRunbookTest' {
    BeforeAll {
        $script:ReportFile = Join-Path $Dir 'drill-report.md'
        $script:Output = $Target | Invoke-VaultRunbookTest -Ref v1.3.0 -ReportPath $ReportFile -Incident DRILL-1 -SmokeApiKey (ConvertTo-SecureString $ApiKey -AsPlainText -Force) `
            -WebhookUrl $HookUrl -Confirm:$false -Verbose *>&1
        $script:Drill = $Output | Where-Object { $_.GetType().FullName -eq 'YieldVault.Ops.VaultDrillResult' }
        $script:Report = Get-Content -LiteralPath $ReportFile -Raw
    }

    It 'passes: deployed, verified, smoke-tested, rolled back and verified again' {
        $Drill.Passed | Should-BeTrue -Because ($Drill.Error + ' ' + ($Drill.VerifyAfterDeploy + $Drill.Smoke + $Drill.VerifyAfterRollback | Where-Object { -not $_.Passed } | Out-String))
        $Drill.Deployment.Status | Should-Be 'Succeeded'
        $Drill.Deployment.VersionAfter | Should-Be '1.3.0'
        $Drill.Rollback.Status | Should-Be 'Succeeded'
        $Drill.Rollback.VersionAfter | Should-Be '1.2.3'
        (Invoke-RestMethod "http://127.0.0.1:$Port/api/v1/version").version | Should-Be '1.2.3'
        $Drill.Rto.TotalSeconds | Should-BeGreaterThan 0
        $Drill.Smoke.Count | Should-BeGreaterThan 5
        $Drill.Notified | Should-BeTrue
        $Drill.Recorded | Should-BeTrue
    }

    It 'writes a report whose every checklist line and metrics row is filled from measurements' {
        $Report | Should-BeLikeString "*Last Tested: $((Get-Date).ToUniversalTime().ToString('yyyy-MM-dd'))*passed*"
        $Report | Should-BeLikeString '*Measured RTO:*'
        $lines = @($Report -split "`n" | Where-Object { $_ -match '^- \[' } | Select-Object -First 13)
        $lines.Count | Should-Be 13
        @($lines | Where-Object { $_ -notmatch '^- \[x\] ' }) | Should-BeCollection @()
        foreach ($metric in 'Stop Service', 'Deploy Code', 'Start Service', 'Verification', 'Total RTO', 'Errors During Deploy', 'Rollback Required') {
            $Report | Should-MatchString "\| $metric \| [^|]+ \| [^|_]+ \| ✓ \|"
        }
    }

    It 'records the drill''s deployment and rollback in the history and deployments.log' {
        $history = $Target | Get-VaultDeploymentHistory -Last 3
        $history.Kind | Should-BeCollection @('drill', 'rollback', 'deploy')
        $history[0].Status | Should-Be 'Succeeded'
        ($history | Where-Object Kind -EQ 'deploy').Incident | Should-Be 'DRILL-1'
        (Get-Content -LiteralPath "$Dir/logs/deployments.log" -Raw) | Should-BeLikeString '*Incident: DRILL-1*'
    }

    It 'notified the webhook with the runbook''s blocks' {
        $received = @(Get-TestWebhookRequests $Hook)
        $received.Count | Should-BeGreaterThan 0
        ($received[-1].Body | ConvertFrom-Json).blocks[0].text.text | Should-BeLikeString '*Version*'
    }

    It 'leaves none of the planted secrets in any output, report, journal, history or log it wrote' {
        $texts = @(
            ($Output | Out-String), ($Drill | ConvertTo-Json -Depth 6 -WarningAction Ignore), $Report,
            ($Drill | ConvertTo-VaultRunbookReport -Format Html)
        ) + @(Get-ChildItem -LiteralPath "$Dir/state", "$Dir/logs" -Recurse -File | ForEach-Object { Get-Content -LiteralPath $_.FullName -Raw })
        foreach ($secret in $Secrets) {
            foreach ($text in $texts) { $text | Should-NotBeLikeString "*$secret*" }
        }
    }
}

Describe 'ConvertTo-VaultRunbookReport' {
    It 'reports a plain deployment, leaving what it did not check open' {
        $r = $Target | Invoke-VaultDeployment -Ref v1.3.0 -SkipSmoke
        $md = $r | ConvertTo-VaultRunbookReport
        $md | Should-BeLikeString '*- `[x`] Correct version deployed*1.3.0*'
        $md | Should-BeLikeString '*- `[ `] not checked: Stakeholders notified*'
        $md | Should-MatchString '\| Total RTO \| 30\.0 min \|'
        ($r | ConvertTo-VaultRunbookReport -Format Html) | Should-BeLikeString '<!DOCTYPE html>*<table>*'
        $null = $Target | Undo-VaultDeployment -Force
    }

    It 'refuses other input with ReportInputInvalid' {
        $null = 'not a result' | ConvertTo-VaultRunbookReport -ErrorVariable errs -ErrorAction SilentlyContinue
        $errs[0].FullyQualifiedErrorId | Should-Be 'ReportInputInvalid,YieldVault.Ops.Commands.ConvertToVaultRunbookReportCommand'
    }
}

Describe 'Drill safety' {
    It 'refuses a production target unless -AllowProduction' {
        $prod = New-VaultTarget -Name prod-1 -Environment production -Port $Port -AppPath $App
        $null = $prod | Invoke-VaultRunbookTest -Ref v1.3.0 -Confirm:$false -ErrorVariable errs -ErrorAction SilentlyContinue
        $errs[0].FullyQualifiedErrorId | Should-Be 'DrillOnProduction,YieldVault.Ops.Commands.InvokeVaultRunbookTestCommand'
    }

    It 'changes nothing on an unhealthy target' {
        $down = New-VaultTarget -Name staging-2 -Environment staging -Port (Get-FreeTcpPort) -AppPath $App -ServiceManager Pm2 -Pm2Home $Pm2Ws.Pm2Home -StatePath "$Dir/state2"
        $d = $down | Invoke-VaultRunbookTest -Ref v1.3.0 -Confirm:$false -ErrorAction SilentlyContinue
        $d.Passed | Should-BeFalse
        $d.Error | Should-BeLikeString '*not healthy before the drill*'
        $d.Deployment | Should-BeNull
    }
}
