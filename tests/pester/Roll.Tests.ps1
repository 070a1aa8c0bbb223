# A rolling deployment over a fleet: four targets of the plain backend (tests/fixtures/plain-backend) run by PM2, two on
# this machine and two over real SSH as yvops, each with its own git origin, PM2_HOME, lock, journal and history. The
# origin of rb-3 carries a broken release under the tag every target deploys (v2.1.0 there is v2.1.1-broken: /healthz
# answers 503), and rb-3 is in the second batch. Shown here: the roll stops at the threshold, the target after it is not
# touched and still serves v2.0.0, every lock is released, the summary says which target failed and why, each target's
# history has the roll; Undo-VaultDeployment over the fleet in batches; -RollbackAllOnFailure; -WhatIf; bad input.
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestCommon.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot '../services/YieldVault.TestServices.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot '../services/Pm2.TestServices.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot '../services/PlainBackend.TestServices.psm1') -Force
    Import-Module (Get-VaultModuleManifest) -Force

    $script:Token = 'Planted-Roll-Token-' + [guid]::NewGuid().ToString('N').Substring(0, 12)
    $script:Sshd = Start-TestSshd

    # A target: its own origin (rb-3's with the broken release tagged v2.1.0), a checkout of v2.0.0 as the app path, its .env,
    # its own PM2_HOME owned by whoever deploys, and the backend started through the module.
    function New-RollTarget([string] $Name, [string] $Owner, [switch] $BrokenRelease) {
        $pm2 = New-TestPm2Workspace -User $Owner
        $dir = Join-Path $pm2.Directory 'plain'
        [void][IO.Directory]::CreateDirectory($dir)
        $origin = New-TestPlainOrigin -Directory $dir
        if ($BrokenRelease) {
            & git --git-dir $origin tag -f v2.1.0 'v2.1.1-broken^{commit}' 2>&1 | Out-Null
            if ($LASTEXITCODE) { throw "could not retag v2.1.0 in $origin" }
        }
        $app = New-TestPlainCheckout -Origin $origin -Path (Join-Path $dir 'app') -Ref v2.0.0
        $port = Get-FreeTcpPort
        Set-Content -LiteralPath (Join-Path $app '.env') -Value "PORT=$port`nAPI_TOKEN=$Token`n"
        & chmod 600 (Join-Path $app '.env')
        if ($Owner -ne 'root') { & chown -R "$Owner`:" $pm2.Directory }
        $p = @{
            Name = $Name; ServiceManager = 'Pm2'; ServiceName = 'plain-backend'; Port = $port; AppPath = $app; Pm2Home = $pm2.Pm2Home
            HealthPath = '/healthz'; ReadyPath = ''; VersionPath = ''; RequiredVariables = @('PORT'); MigrationPreset = 'None'
            SmokePreset = 'None'; StartupMarkers = @('listening on port {Port}'); Environment = 'roll-test'
            LogPath = "$dir/logs/not-a-file.log"; BackupPath = "$dir/backups"; StatePath = "$dir/state"
        }
        if ($Owner -ne 'root') {
            $p += @{ HostName = $Sshd.HostName; SshPort = $Sshd.Port; User = $Sshd.User; KeyFile = $Sshd.UserKeyFile; KnownHostsFile = $Sshd.KnownHostsFile; ConnectTimeoutSec = 5 }
        }
        $target = New-VaultTarget @p
        $started = $target | Start-VaultBackend -Confirm:$false
        if (-not $started.Healthy) { throw "$Name did not start healthy." }
        [pscustomobject]@{ Name = $Name; Pm2 = $pm2; Dir = $dir; App = $app; Port = $port; Target = $target; Lock = "$dir/state/plain-backend/deploy.lock"; History = "$dir/state/plain-backend/history.jsonl" }
    }

    function Get-Features([int] $Port) { @((Invoke-RestMethod -Uri "http://127.0.0.1:$Port/" -TimeoutSec 5 -DisableKeepAlive).features) }
    function Get-HealthCode([int] $Port) {
        try { (Invoke-WebRequest -Uri "http://127.0.0.1:$Port/healthz" -TimeoutSec 5 -SkipHttpErrorCheck -DisableKeepAlive).StatusCode } catch { 0 }
    }
    function Get-Pid($Ws) { (@(Get-TestPm2List -Workspace $Ws.Pm2 | Where-Object name -EQ 'plain-backend'))[0].pid }

    # What every target must show after any roll: no lock left behind, and the version it should serve.
    function Assert-Serves($Ws, [switch] $New) {
        Test-Path -LiteralPath $Ws.Lock | Should-BeFalse -Because "$($Ws.Name)'s lock is released"
        Get-HealthCode $Ws.Port | Should-Be 200 -Because "$($Ws.Name) serves"
        if ($New) { Get-Features $Ws.Port | Should-ContainCollection @('greetings') -Because "$($Ws.Name) serves v2.1.0" }
        else { Get-Features $Ws.Port | Should-NotContainCollection @('greetings') -Because "$($Ws.Name) serves v2.0.0" }
    }

    $script:Fleet = @(
        New-RollTarget -Name rb-1 -Owner root
        New-RollTarget -Name rb-2 -Owner yvops
        New-RollTarget -Name rb-3 -Owner root -BrokenRelease
        New-RollTarget -Name rb-4 -Owner yvops
    )
    $script:Targets = @($Fleet.Target)
}

AfterAll {
    foreach ($ws in $script:Fleet) { if ($ws) { Stop-TestPm2 -Workspace $ws.Pm2 -ErrorAction Continue } }
    if ($script:Sshd) { Stop-TestSshd $Sshd }
    Stop-AllTestServices
}

Describe 'A roll over four targets (two local, two over SSH) with a broken release in the second batch' {
    It 'plans the batches under -WhatIf and changes nothing' {
        $pids = @($Fleet | ForEach-Object { Get-Pid $_ })
        $transcript = Join-Path $TestDrive 'whatif.txt'
        [void](Start-Transcript -LiteralPath $transcript -UseMinimalHeader)
        try { $out = $Targets | Invoke-VaultDeployment -Ref v2.1.0 -CanaryFirst -BatchSize 2 -WhatIf } finally { [void](Stop-Transcript) }
        $text = ((Get-Content -LiteralPath $transcript) -join ' ') -replace '\s+', ' '
        $out | Should-BeNull
        $text | Should-BeLikeString '*Batch 1/3: rb-1 *Batch 2/3: rb-2, rb-3 *Batch 3/3: rb-4 *stops when more than 0 target(s) fail*'
        @($Fleet | ForEach-Object { Get-Pid $_ }) | Should-BeCollection $pids
        foreach ($ws in $Fleet) { Test-Path -LiteralPath $ws.History | Should-BeFalse }
    }

    It 'refuses a -BatchSize that is neither a count nor a percentage, and a target given twice, before anything runs' {
        { $Targets | Invoke-VaultDeployment -Ref v2.1.0 -BatchSize 0 -Force } | Should-Throw -FullyQualifiedErrorId 'InvalidBatchSize,YieldVault.Ops.Commands.InvokeVaultDeploymentCommand'
        { $Targets | Invoke-VaultDeployment -Ref v2.1.0 -BatchSize '150%' -Force } | Should-Throw -FullyQualifiedErrorId 'InvalidBatchSize,YieldVault.Ops.Commands.InvokeVaultDeploymentCommand'
        { @($Targets[0], $Targets[0]) | Invoke-VaultDeployment -Ref v2.1.0 -BatchSize 1 -Force } | Should-Throw -FullyQualifiedErrorId 'RollDuplicateTarget,YieldVault.Ops.Commands.InvokeVaultDeploymentCommand'
        foreach ($ws in $Fleet) { Assert-Serves $ws; Test-Path -LiteralPath $ws.History | Should-BeFalse }
    }

    It 'stops at the threshold: rb-3 rolls back, rb-4 is not touched and still serves v2.0.0, every lock released, the summary says why' {
        $pid4 = Get-Pid $Fleet[3]
        $all = $Targets | Invoke-VaultDeployment -Ref v2.1.0 -CanaryFirst -BatchSize 2 -MaxFailedTargets 0 -HealthTimeoutSec 6 -Force -ErrorVariable errs -ErrorAction SilentlyContinue
        $results = @($all | Where-Object { $_.PSObject.TypeNames[0] -eq 'YieldVault.Ops.VaultDeploymentResult' })
        $roll = @($all | Where-Object { $_.PSObject.TypeNames[0] -eq 'YieldVault.Ops.VaultRollResult' })
        $roll.Count | Should-Be 1
        $roll = $roll[0]
        $all[-1].PSObject.TypeNames[0] | Should-Be 'YieldVault.Ops.VaultRollResult' -Because 'the summary comes after the per-target results'

        # One result per target the roll touched, each a run of its own with the roll's id.
        @($results.Target.Name | Sort-Object) | Should-BeCollection @('rb-1', 'rb-2', 'rb-3')
        @($results | Where-Object RollId -NE $roll.RollId).Count | Should-Be 0
        @($results.JournalPath | Sort-Object -Unique).Count | Should-Be 3
        ($results | Where-Object { $_.Target.Name -eq 'rb-3' }).Status | Should-Be 'RolledBack'

        $roll.Status | Should-Be 'Stopped'
        $roll.Kind | Should-Be 'deploy'
        $roll.Source | Should-Be 'v2.1.0'
        $roll.Batches | Should-Be 3
        $roll.BatchesRun | Should-Be 2
        $roll.Succeeded | Should-Be 2
        $roll.Failed | Should-Be 1
        $roll.NotTouched | Should-Be 1
        $by = @{}; foreach ($t in $roll.Targets) { $by[$t.Name] = $t }
        $by['rb-1'].Batch | Should-Be 1
        $by['rb-1'].Status | Should-Be 'Succeeded'
        $by['rb-1'].VersionBefore | Should-Be '2.0.0'
        $by['rb-1'].VersionAfter | Should-Be '2.1.0'
        $by['rb-2'].Batch | Should-Be 2
        $by['rb-2'].Status | Should-Be 'Succeeded'
        $by['rb-3'].Batch | Should-Be 2
        $by['rb-3'].Status | Should-Be 'RolledBack'
        $by['rb-3'].ErrorId | Should-Be 'HealthCheckTimeout'
        $by['rb-3'].Error | Should-BeLikeString '*HTTP 503*'
        $by['rb-3'].VersionAfter | Should-Be '2.0.0'
        $by['rb-4'].Batch | Should-Be 3
        $by['rb-4'].Status | Should-Be 'NotTouched'
        $by['rb-4'].Result | Should-BeNull
        $by['rb-4'].VersionAfter | Should-Be '2.0.0'
        $roll.Failures.Count | Should-Be 1
        $roll.Failures[0] | Should-BeLikeString 'rb-3 (batch 2): RolledBack HealthCheckTimeout: *'
        $roll.StopReason | Should-BeLikeString '*1 target(s) failed, more than -MaxFailedTargets 0, by batch 2 of 3: rb-3 (HealthCheckTimeout); 1 target(s) not touched: rb-4*'
        foreach ($t in $roll.Targets) { $t.DowntimeMs | Should-BeGreaterThanOrEqual 0 }

        # The errors: rb-3's own, then the roll's.
        @($errs.FullyQualifiedErrorId) | Should-ContainCollection @('DeploymentRolledBack,YieldVault.Ops.Commands.InvokeVaultDeploymentCommand', 'RollStopped,YieldVault.Ops.Commands.InvokeVaultDeploymentCommand')
        ($errs | Where-Object { $_.FullyQualifiedErrorId -like 'RollStopped,*' }).TargetObject.RollId | Should-Be $roll.RollId

        # What serves now: the new version where it went well, the old one everywhere else; no lock anywhere.
        Assert-Serves $Fleet[0] -New
        Assert-Serves $Fleet[1] -New
        Assert-Serves $Fleet[2]
        Assert-Serves $Fleet[3]
        # The untouched target was not even stopped: same process, no release directory made for it.
        Get-Pid $Fleet[3] | Should-Be $pid4
        Test-Path -LiteralPath "$($Fleet[3].App)-releases" | Should-BeFalse
        (& readlink -f -- $Fleet[3].App) | Should-Be $Fleet[3].App

        # Every target's history has the roll (the touched ones their own run too).
        foreach ($ws in $Fleet) {
            $records = @(Get-VaultDeploymentHistory -Target $ws.Target)
            $rollRecord = @($records | Where-Object { $_.Kind -eq 'roll' -and $_.RunId -eq $roll.RollId })
            $rollRecord.Count | Should-Be 1 -Because "$($ws.Name)'s history has the roll"
            $rollRecord[0].ErrorId | Should-Be 'RollStopped'
            $rollRecord[0].Error | Should-BeLikeString "*rb-3*"
        }
        @(Get-VaultDeploymentHistory -Target $Fleet[3].Target -Kind deploy).Count | Should-Be 0
        (Get-VaultDeploymentHistory -Target $Fleet[2].Target -Kind deploy -Last 1).Status | Should-Be 'RolledBack'
        (Get-Content -LiteralPath $Fleet[0].History -Raw) | Should-BeLikeString "*`"roll`":`"$($roll.RollId)`"*"
        ($all | Out-String) + ($errs | Out-String) | Should-NotBeLikeString "*$Token*"
        Write-Host "    roll: $([math]::Round($roll.Duration.TotalSeconds, 1)) s; $(($roll.Targets | ForEach-Object { "$($_.Name) $($_.Status) $([math]::Round($_.DowntimeMs)) ms" }) -join ', ')"
    }

    It 'Undo-VaultDeployment over the fleet in batches takes rb-1 and rb-2 back to v2.0.0' {
        $all = $Targets[0..1] | Undo-VaultDeployment -BatchSize 1 -Force -ErrorVariable errs
        $errs.Count | Should-Be 0
        $roll = @($all | Where-Object { $_.PSObject.TypeNames[0] -eq 'YieldVault.Ops.VaultRollResult' })[0]
        $roll.Kind | Should-Be 'rollback'
        $roll.Status | Should-Be 'Succeeded'
        $roll.Batches | Should-Be 2
        $roll.Succeeded | Should-Be 2
        @($all | Where-Object { $_.PSObject.TypeNames[0] -eq 'YieldVault.Ops.VaultDeploymentResult' -and $_.Kind -eq 'rollback' -and $_.Status -eq 'Succeeded' }).Count | Should-Be 2
        foreach ($t in $roll.Targets) { $t.VersionBefore | Should-Be '2.1.0'; $t.VersionAfter | Should-Be '2.0.0' }
        foreach ($ws in $Fleet) { Assert-Serves $ws }
        (Get-VaultDeploymentHistory -Target $Fleet[0].Target -Kind roll -Last 1).RunId | Should-Be $roll.RollId
    }

    It '-RollbackAllOnFailure takes the targets it deployed back when the roll stops: the fleet serves v2.0.0 again' {
        $all = $Targets | Invoke-VaultDeployment -Ref v2.1.0 -BatchSize '1,2' -RollbackAllOnFailure -HealthTimeoutSec 6 -ThrottleLimit 2 -Force -ErrorVariable errs -ErrorAction SilentlyContinue
        $roll = @($all | Where-Object { $_.PSObject.TypeNames[0] -eq 'YieldVault.Ops.VaultRollResult' })[0]
        $roll.Status | Should-Be 'Stopped'
        $roll.Undone | Should-Be 2
        $roll.NotTouched | Should-Be 1
        $by = @{}; foreach ($t in $roll.Targets) { $by[$t.Name] = $t }
        $by['rb-1'].Status | Should-Be 'Undone'
        $by['rb-2'].Status | Should-Be 'Undone'
        $by['rb-1'].Undo.Kind | Should-Be 'rollback'
        $by['rb-1'].VersionAfter | Should-Be '2.0.0'
        $by['rb-3'].Status | Should-Be 'RolledBack'
        $by['rb-4'].Status | Should-Be 'NotTouched'
        @($errs.FullyQualifiedErrorId) | Should-ContainCollection @('RollStopped,YieldVault.Ops.Commands.InvokeVaultDeploymentCommand')
        foreach ($ws in $Fleet) { Assert-Serves $ws }
        (Get-VaultDeploymentHistory -Target $Fleet[1].Target -Kind roll -Last 1).Status | Should-Be 'RolledBack'
        Write-Host "    roll with -RollbackAllOnFailure: $([math]::Round($roll.Duration.TotalSeconds, 1)) s"
    }
}
