# Runbook Steps 2-10 and the Rollback Procedure end to end with PM2 and the sample backend (real PostgreSQL,
# RPC stand-in, git origin with tags), locally and over real SSH: deploy, automatic rollback, failures
# before the stop (old version never stops serving), the lock, a killed run, hostile input, undo.
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestCommon.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot '../services/YieldVault.TestServices.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot '../services/Pm2.TestServices.psm1') -Force
    Import-Module (Get-VaultModuleManifest) -Force

    $script:Postgres = Start-TestPostgres
    $script:Rpc = Start-TestStellarRpc
    $script:Sshd = Start-TestSshd
    $script:ApiKey = 'Planted-Api-Key-' + [guid]::NewGuid().ToString('N').Substring(0, 8)

    # A workspace: the origin, a v1.2.3 checkout at <ws>/app (the runbook's plain layout, adopted into
    # releases/ by the first deployment), its .env, a PM2_HOME, and the backend started under PM2.
    function New-Workspace([string] $Owner = 'root', [string] $Name = 'ws') {
        $ws = New-TestPm2Workspace -User $Owner
        $dir = Join-Path $ws.Directory $Name
        New-Item -ItemType Directory -Path $dir | Out-Null
        $origin = New-TestSampleOrigin -Directory $dir
        $app = New-TestSampleCheckout -Origin $origin -Ref v1.2.3 -Path (Join-Path $dir 'app')
        $port = Get-FreeTcpPort
        @("PORT=$port", 'NODE_ENV=production', "STELLAR_RPC_URL=$($Rpc.Url)", "DATABASE_URL=$($Postgres.DatabaseUrl)",
            'VAULT_CONTRACT_ID=CDLZFC3SYJYDZT7K67VZ75HPJVIEUVNIXF47ZG2FB2RMQQVU2HHGCYSC', "ADMIN_API_KEY=$ApiKey",
            "LOG_FILE=$dir/logs/backend.log", 'SHUTDOWN_DRAIN_MS=300') | Set-Content -LiteralPath (Join-Path $app '.env')
        & chmod 600 (Join-Path $app '.env')
        [void](Invoke-TestSampleMigration -Path $app -DatabaseUrl $Postgres.DatabaseUrl)
        if ($Owner -ne 'root') { & chown -R "$Owner`:" $ws.Directory }
        [pscustomobject]@{ Directory = $dir; Root = $ws.Directory; Pm2Home = $ws.Pm2Home; Pm2Ws = $ws; App = $app; Port = $port; Origin = $origin; Owner = $Owner }
    }

    function New-WsTarget($Ws, [switch] $Ssh, [hashtable] $Extra = @{}) {
        $p = @{
            Name = 'deploy-1'; Port = $Ws.Port; AppPath = $Ws.App; ServiceManager = 'Pm2'; Pm2Home = $Ws.Pm2Home; MigrationPreset = 'Npm'
            LogPath = "$($Ws.Directory)/logs/backend.log"; BackupPath = "$($Ws.Directory)/backups"; StatePath = "$($Ws.Directory)/state"
        }
        if ($Ssh) { $p += @{ HostName = $Sshd.HostName; SshPort = $Sshd.Port; User = $Sshd.User; KeyFile = $Sshd.UserKeyFile; KnownHostsFile = $Sshd.KnownHostsFile } }
        foreach ($k in $Extra.Keys) { $p[$k] = $Extra[$k] }
        New-VaultTarget @p
    }

    function Get-ServedVersion([int] $Port) { (Invoke-RestMethod -Uri "http://127.0.0.1:$Port/api/v1/version" -TimeoutSec 5).version }
    function Get-Pm2Pid($Ws, [string] $Name = 'yieldvault-backend') {
        $list = Get-TestPm2List -Workspace $Ws.Pm2Ws
        ($list | Where-Object name -EQ $Name).pid
    }

    # Local: root runs PM2; the workspace path has a space and a quote to prove paths are quoted everywhere.
    $script:Local = New-Workspace -Name "local app 'q'"
    $script:LocalTarget = New-WsTarget $Local
    $null = $LocalTarget | Start-VaultBackend -Confirm:$false
    # SSH: yvops owns the workspace and its PM2 daemon; every command goes over the SSH connection.
    $script:Remote = New-Workspace -Owner $Sshd.User -Name 'remote'
    $script:SshTarget = New-WsTarget $Remote -Ssh
    $null = $SshTarget | Start-VaultBackend -Confirm:$false
}

AfterAll {
    foreach ($ws in $script:Local, $script:Remote) { if ($ws) { Stop-TestPm2 -Workspace $ws.Pm2Ws -ErrorAction Continue } }
    if ($script:Sshd) { Stop-TestSshd $Sshd }
    if ($script:Rpc) { Stop-TestStellarRpc $Rpc }
    if ($script:Postgres) { Stop-TestPostgres $Postgres }
    foreach ($ws in $script:Local, $script:Remote) { if ($ws) { Remove-Item -LiteralPath $ws.Root -Recurse -Force -ErrorAction Ignore } }
    Stop-AllTestServices
}

Describe 'Invoke-VaultDeployment -WhatIf' {
    It 'prints the plan and changes nothing' {
        $before = Get-Pm2Pid $Local
        # "What if:" lines go to the host, so read them from a transcript.
        $transcript = Join-Path $Local.Root 'whatif.txt'
        Start-Transcript -LiteralPath $transcript -UseMinimalHeader | Out-Null
        try { $result = $LocalTarget | Invoke-VaultDeployment -Ref v1.3.0 -WhatIf }
        finally { Stop-Transcript | Out-Null }
        $result | Should-BeNull
        $out = Get-Content -LiteralPath $transcript -Raw
        $out | Should-BeLikeString '*Step 4/10 Prepare new version*npm ci*'
        $out | Should-BeLikeString '*Step 6/10 Stop current service*'
        (Get-Pm2Pid $Local) | Should-Be $before
        Test-Path -LiteralPath "$($Local.App)-releases" | Should-BeFalse
        Get-ServedVersion $Local.Port | Should-Be '1.2.3'
    }
}

Describe 'Invoke-VaultDeployment with PM2 on <Where>' -ForEach @(@{ Where = 'this machine'; Key = 'Local' }, @{ Where = 'an SSH host'; Key = 'Remote' }) {
    BeforeAll {
        $ws = Get-Variable -Name $Key -ValueOnly
        $target = if ($Key -eq 'Local') { $LocalTarget } else { $SshTarget }
    }

    It 'deploys v1.3.0 over v1.2.3 and serves v1.3.0' {
        $r = $target | Invoke-VaultDeployment -Ref v1.3.0 -Incident INCIDENT-123
        $r.Status | Should-Be 'Succeeded'
        $r.VersionBefore | Should-Be '1.2.3'
        $r.VersionAfter | Should-Be '1.3.0'
        Get-ServedVersion $ws.Port | Should-Be '1.3.0'
        $r.ReleaseBefore | Should-BeLikeString '*-adopted'
        $r.ReleaseAfter | Should-MatchString '^\d{8}T\d{6}Z-[0-9a-f]{7}$'
        $r.Steps.Count | Should-Be 10
        @($r.Steps | Where-Object Outcome -EQ 'Failed').Count | Should-Be 0
        $r.Probes | Should-BeGreaterThan 10
        # The app path is now a link to the new release; the env file is shared, and still not world-readable.
        (& readlink -f -- $ws.App) | Should-Be "$($ws.App)-releases/releases/$($r.ReleaseAfter)"
        (& stat -L -c %a -- "$($ws.App)/.env") | Should-Be '600'
        (Get-Content -LiteralPath "$($ws.App)-releases/shared/.env" -Raw) | Should-BeLikeString "*$ApiKey*"
        # The journal recorded every step, and carries no secret.
        $journal = Get-Content -LiteralPath $r.JournalPath -Raw
        $journal | Should-BeLikeString '*"step":"Verify deployment","phase":"end","outcome":"Succeeded"*'
        $journal | Should-BeLikeString '*INCIDENT-123*'
        $journal | Should-NotBeLikeString "*$ApiKey*"
        $journal | Should-NotBeLikeString "*$($Postgres.Password)*"
        Test-Path -LiteralPath "$($ws.Directory)/state/yieldvault-backend/deploy.lock" | Should-BeFalse
    }

    It 'rolls back by itself when the new version never gets healthy, and v1.3.0 serves again' {
        $current = (& readlink -f -- $ws.App)
        $r = $target | Invoke-VaultDeployment -Ref v1.3.1-broken -HealthTimeoutSec 8 -ErrorVariable errs -ErrorAction SilentlyContinue
        $r.Status | Should-Be 'RolledBack'
        $r.ErrorId | Should-Be 'HealthCheckTimeout'
        $errs[0].FullyQualifiedErrorId | Should-BeLikeString 'DeploymentRolledBack,*'
        Get-ServedVersion $ws.Port | Should-Be '1.3.0'
        (& readlink -f -- $ws.App) | Should-Be $current
        ($r.Steps | Where-Object Number -EQ 8).Outcome | Should-Be 'Failed'
        (Get-Content -LiteralPath $r.JournalPath -Raw) | Should-BeLikeString '*"step":"rollback","phase":"end","outcome":"Succeeded"*'
    }

    It 'goes back to the previous release with Undo-VaultDeployment in seconds' {
        $r = $target | Undo-VaultDeployment -Force
        $r.Status | Should-Be 'Succeeded'
        $r.VersionAfter | Should-Be '1.2.3'
        Get-ServedVersion $ws.Port | Should-Be '1.2.3'
        Write-Host "    rollback ($Key): $([math]::Round($r.Duration.TotalSeconds, 2)) s, downtime $($r.DowntimeMs) ms"
        $r.Duration.TotalSeconds | Should-BeLessThan 30
    }
}

Describe 'Undo after a redeployment' {
    It 'goes back to the release the deployment replaced, not the one before it by name' {
        $before = (& readlink -f -- $Local.App)
        $deploy = $LocalTarget | Invoke-VaultDeployment -Ref v1.3.0 -SkipSmoke
        $deploy.Status | Should-Be 'Succeeded'
        # Releases now sort: adopted (1.2.3), the first 1.3.0 build, this 1.3.0 build; by name the one
        # before the current is the first 1.3.0 build, but this deployment replaced the adopted 1.2.3.
        $undo = $LocalTarget | Undo-VaultDeployment -Force
        $undo.Status | Should-Be 'Succeeded'
        $undo.ReleaseAfter | Should-Be $deploy.ReleaseBefore
        (& readlink -f -- $Local.App) | Should-Be $before
        Get-ServedVersion $Local.Port | Should-Be '1.2.3'
    }
}

Describe 'Failures before the stop leave the old version serving' {
    It 'fails on <Case> with <ErrorId>, and the backend never stopped' -ForEach @(
        @{ Case = 'a ref that does not exist'; Params = @{ Ref = 'v9.9.9' }; ErrorId = 'RefNotFound' }
        @{ Case = 'a build that fails'; Params = @{ Ref = 'v1.3.2-badbuild' }; ErrorId = 'BuildFailed' }
        @{ Case = 'a missing required variable'; Params = @{ Ref = 'v1.3.0' }; ErrorId = 'EnvironmentInvalid'; Required = 'NEW_REQUIRED_SETTING' }
        @{ Case = 'a checksum mismatch'; Params = @{ Artifact = 'ARTIFACT'; Sha256 = ('0' * 64) }; ErrorId = 'ChecksumMismatch' }
    ) {
        $extra = @{}
        if ($Required) { $extra.RequiredVariable = @('STELLAR_RPC_URL', 'VAULT_CONTRACT_ID', 'DATABASE_URL', $Required) }
        $target = New-WsTarget $Local -Extra $extra
        if ($Params.Artifact -eq 'ARTIFACT') {
            $Params.Artifact = Join-Path $Local.Directory 'artifact.tar.gz'
            & tar -czf $Params.Artifact -C (& readlink -f -- $Local.App) package.json
        }
        $pidBefore = Get-Pm2Pid $Local
        $servedBefore = Get-ServedVersion $Local.Port
        $releasesBefore = @($target | Get-VaultRelease).Name
        $r = $target | Invoke-VaultDeployment @Params -ErrorVariable errs -ErrorAction SilentlyContinue
        $r.Status | Should-Be 'Failed'
        $r.ErrorId | Should-Be $ErrorId
        $errs[0].FullyQualifiedErrorId | Should-BeLikeString "$ErrorId,*"
        $r.FailedProbes | Should-Be 0
        (Get-Pm2Pid $Local) | Should-Be $pidBefore
        Get-ServedVersion $Local.Port | Should-Be $servedBefore
        ($r.Steps | Where-Object Number -EQ 6).Outcome | Should-Be 'NotRun'
        @($target | Get-VaultRelease).Name | Should-BeCollection $releasesBefore
        if ($Required) { $r.Error | Should-BeLikeString "*$Required*" }
    }

    It 'refuses hostile refs before connecting: <Ref>' -ForEach @(
        @{ Ref = 'main; touch /tmp/yv-injected' }
        @{ Ref = '--upload-pack=touch /tmp/yv-injected' }
        @{ Ref = '$(touch /tmp/yv-injected)' }
        @{ Ref = 'v1.2.3 && touch /tmp/yv-injected' }
        @{ Ref = '../../etc/passwd' }
        @{ Ref = "v1`ntouch /tmp/yv-injected" }
    ) {
        Remove-Item /tmp/yv-injected -ErrorAction Ignore
        $r = $LocalTarget | Invoke-VaultDeployment -Ref $Ref -ErrorVariable errs -ErrorAction SilentlyContinue
        $r | Should-BeNull
        $errs[0].FullyQualifiedErrorId | Should-Be 'InvalidRef,YieldVault.Ops.Commands.InvokeVaultDeploymentCommand'
        Test-Path /tmp/yv-injected | Should-BeFalse
    }

    It 'passes a ref that only looks odd to git safely, as data' {
        # Valid ref syntax, but no such tag: git gets it as one argument after --end-of-options.
        Remove-Item /tmp/yv-injected -ErrorAction Ignore
        $r = $LocalTarget | Invoke-VaultDeployment -Ref 'x--upload-pack+touch/tmp' -ErrorAction SilentlyContinue
        $r.ErrorId | Should-Be 'RefNotFound'
        Test-Path /tmp/yv-injected | Should-BeFalse
    }
}

Describe 'One deployment per target' {
    It 'lets exactly one of two simultaneous deployments run; the other gets DeploymentLocked' {
        $module = Get-VaultModuleManifest
        $target = $LocalTarget
        $jobs = 1..2 | ForEach-Object {
            Start-ThreadJob -ArgumentList $module, $target -ScriptBlock {
                param($module, $target)
                Import-Module $module
                $r = $target | Invoke-VaultDeployment -Ref v1.3.0 -Confirm:$false -ErrorVariable e -ErrorAction SilentlyContinue
                [pscustomobject]@{ Status = [string]$r.Status; ErrorId = $r.ErrorId }
            }
        }
        $results = $jobs | Wait-Job -Timeout 240 | Receive-Job
        $jobs | Remove-Job -Force
        ($results.Status | Sort-Object) | Should-BeCollection @('Failed', 'Succeeded')
        ($results | Where-Object Status -EQ 'Failed').ErrorId | Should-Be 'DeploymentLocked'
        Get-ServedVersion $Local.Port | Should-Be '1.3.0'
    }
}

Describe 'A deployment process killed mid-run' {
    It 'leaves a stale lock that the next run reports, a journal that shows where it stopped, and Undo brings the backend back' {
        $target = $LocalTarget
        $state = "$($Local.Directory)/state/yieldvault-backend"
        $journalDir = "$state/journal"
        $before = @(Get-ChildItem -LiteralPath $journalDir -Filter *.jsonl).Name
        $module = Get-VaultModuleManifest
        # The migration after the stop sleeps, so the kill lands with the backend stopped.
        $script = @"
`$ConfirmPreference = 'None'
Import-Module '$module'
`$t = New-VaultTarget -Name deploy-1 -Port $($Local.Port) -AppPath '$($Local.App -replace "'", "''")' -ServiceManager Pm2 -Pm2Home '$($Local.Pm2Home)' -MigrationPreset Npm -LogPath '$($Local.Directory -replace "'", "''")/logs/backend.log' -BackupPath '$($Local.Directory -replace "'", "''")/backups' -StatePath '$($state -replace "'", "''" -replace '/yieldvault-backend$', '')'
`$t | Invoke-VaultDeployment -Ref v1.2.3 -MigrationCommand sh, -c, 'sleep 60'
"@
        $file = Join-Path $Local.Root 'killed-run.ps1'
        Set-Content -LiteralPath $file -Value $script
        $child = Start-Process -FilePath (Get-PwshPath) -ArgumentList '-NoProfile', '-NonInteractive', '-File', $file -PassThru -RedirectStandardOutput (Join-Path $Local.Root 'killed.out') -RedirectStandardError (Join-Path $Local.Root 'killed.err')
        try {
            $deadline = [DateTime]::UtcNow.AddSeconds(120)
            $journal = $null
            while ([DateTime]::UtcNow -lt $deadline) {
                $new = @(Get-ChildItem -LiteralPath $journalDir -Filter *.jsonl | Where-Object Name -NotIn $before)
                if ($new -and (Get-Content -LiteralPath $new[0].FullName -Raw) -match '"step":"Stop current service","phase":"start"') { $journal = $new[0].FullName; break }
                Start-Sleep -Milliseconds 200
            }
            $journal | Should-NotBeNull -Because 'the child run should reach the stop step'
            Start-Sleep -Seconds 4   # into the sleeping migration
        }
        finally { & kill -9 $child.Id; $child.WaitForExit(10000) | Out-Null }

        $text = Get-Content -LiteralPath $journal -Raw
        $text | Should-BeLikeString '*"step":"Stop current service","phase":"start"*'
        $text | Should-NotBeLikeString '*"step":"run","phase":"end"*'
        Test-Path -LiteralPath "$state/deploy.lock" | Should-BeTrue

        $r = $target | Invoke-VaultDeployment -Ref v1.3.0 -ErrorVariable errs -ErrorAction SilentlyContinue
        $r.ErrorId | Should-Be 'DeploymentLockStale'
        $r.Error | Should-BeLikeString '*process*is gone*'

        $u = $target | Undo-VaultDeployment -Force -WarningVariable warns
        $u.Status | Should-Be 'Succeeded'
        Get-ServedVersion $Local.Port | Should-Be '1.3.0'
        Test-Path -LiteralPath "$state/deploy.lock" | Should-BeFalse
    }
}
