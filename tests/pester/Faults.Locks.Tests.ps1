# Faults around the deployment lock and interrupted runs, on real PM2 deployments on this machine (the set-up of
# Faults.Tests.ps1, cut to what these need): Ctrl+C during Undo-VaultDeployment after its stop, a lock taken over
# from a running deployment (LockLost), the lock's heartbeat, the step cmdlets under a held and a stale lock, Undo
# choosing its release again under the lock (RollbackTargetChanged), and a kill while -Maintenance is on. Each test
# has a workspace of its own (its own PM2_HOME, port, state and releases), so each also runs alone.
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestCommon.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot '../services/YieldVault.TestServices.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot '../services/Pm2.TestServices.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot 'FaultsCommon.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot '../services/SampleArtifacts.TestServices.psm1') -Force
    Import-Module (Get-VaultModuleManifest) -Force

    $clock = [Diagnostics.Stopwatch]::StartNew()
    $script:Root = Join-Path ([IO.Path]::GetTempPath()) ('yv-locks-' + [guid]::NewGuid().ToString('N').Substring(0, 8))
    [void][IO.Directory]::CreateDirectory($Root)
    $script:Origin = New-TestSampleOrigin -Directory $Root
    $script:ArtifactBuild = Start-TestSampleArtifacts -Origin $Origin -Directory $Root -Tags 'v1.3.0'
    $script:Postgres = Start-TestPostgres
    $script:Rpc = Start-TestStellarRpc
    $script:ApiKey = 'Planted-Api-Key-' + [guid]::NewGuid().ToString('N').Substring(0, 8)
    $script:Base = Wait-TestSampleBase $ArtifactBuild
    [void](Invoke-TestSampleMigration -Path $Base -DatabaseUrl $Postgres.DatabaseUrl)
    $script:Workspaces = [Collections.Generic.List[object]]::new()
    $script:Sleepers = [Collections.Generic.List[object]]::new()

    function New-Id { [guid]::NewGuid().ToString('N').Substring(0, 8) }

    # A PM2 workspace with the v1.2.3 checkout in app/ (not yet under release management), started.
    function New-StartedWorkspace([string] $Name) {
        $ws = New-TestPm2Workspace -User root
        $dir = Join-Path $ws.Directory $Name
        New-Item -ItemType Directory -Path $dir | Out-Null
        $app = Join-Path $dir 'app'
        & cp -a -- $Base $app
        & cp -a -- $Origin (Join-Path $dir 'origin.git')
        & git -C $app remote set-url origin (Join-Path $dir 'origin.git')
        $port = Get-FreeTcpPort
        @("PORT=$port", 'NODE_ENV=production', "STELLAR_RPC_URL=$($Rpc.Url)", "DATABASE_URL=$($Postgres.DatabaseUrl)",
            'VAULT_CONTRACT_ID=CDLZFC3SYJYDZT7K67VZ75HPJVIEUVNIXF47ZG2FB2RMQQVU2HHGCYSC', "ADMIN_API_KEY=$ApiKey",
            "LOG_FILE=$dir/logs/backend.log", 'SHUTDOWN_DRAIN_MS=300') | Set-Content -LiteralPath (Join-Path $app '.env')
        & chmod 600 (Join-Path $app '.env')
        $w = [pscustomobject]@{ Directory = $dir; Root = $ws.Directory; Pm2Home = $ws.Pm2Home; Pm2Ws = $ws; App = $app; Port = $port
            State = "$dir/state/yieldvault-backend"; Lock = "$dir/state/yieldvault-backend/deploy.lock"; Releases = "$app-releases/releases" }
        $Workspaces.Add($w)
        $null = New-WsTarget $w | Start-VaultBackend -Confirm:$false
        $w
    }

    function Get-TargetParameters($Ws) {
        @{
            Name = 'fault-1'; Port = $Ws.Port; AppPath = $Ws.App; ServiceManager = 'Pm2'; Pm2Home = $Ws.Pm2Home; MigrationPreset = 'None'
            LogPath = "$($Ws.Directory)/logs/backend.log"; BackupPath = "$($Ws.Directory)/backups"; StatePath = "$($Ws.Directory)/state"
        }
    }

    function New-WsTarget($Ws) { $p = Get-TargetParameters $Ws; New-VaultTarget @p }

    # The status of GET <path> on the backend, 0 when nothing answers.
    function Get-Status($Ws, [string] $Path = '/health') {
        try { [int](Invoke-WebRequest -Uri "http://127.0.0.1:$($Ws.Port)$Path" -TimeoutSec 2 -SkipHttpErrorCheck).StatusCode } catch { 0 }
    }

    function Get-JobSaid($Job) { ($Job | Receive-Job -Keep *>&1 | Out-String) + ($Job.ChildJobs[0].Error | Out-String) }

    # Waits (bounded) until $Condition holds; fails early, with what the job said, when the job ended first.
    function Wait-Until([scriptblock] $Condition, [string] $What, [int] $TimeoutSec = 180, $Job) {
        $deadline = [DateTime]::UtcNow.AddSeconds($TimeoutSec)
        while (-not (& $Condition)) {
            if ([DateTime]::UtcNow -gt $deadline -or ($Job -and $Job.State -notin 'NotStarted', 'Running')) {
                if (& $Condition) { return }
                throw "$What did not happen within $TimeoutSec s$(if ($Job) { " (the run's job is $($Job.State)): $(Get-JobSaid $Job)" })"
            }
            Start-Sleep -Milliseconds 100
        }
    }

    # A migration command that waits (at most 180 s) until the gate file exists: the run holds its lock in that step
    # until the test opens the gate. The marker finds its process.
    function New-Gate {
        $id = New-Id
        $file = Join-Path $Root "gate-$id"
        $marker = "yv-gate-$id"
        [pscustomobject]@{
            File = $file; Marker = $marker
            Command = @('sh', '-c', "i=0; while [ ! -e '$file' ] && [ `$i -lt 1800 ]; do sleep 0.1; i=`$((i+1)); done; : $marker")
        }
    }

    function Open-Gate($Gate) { Set-Content -LiteralPath $Gate.File -Value 'open' }

    function Test-GateReached($Gate) { [bool](& pgrep -f $Gate.Marker) }

    # Invoke-VaultDeployment of v1.3.0 on the workspace in a thread job (the same process: a stopped job is Ctrl+C);
    # the job returns the result, the error ids and the warnings.
    function Start-DeployJob($Ws, [hashtable] $Deploy = @{}) {
        $d = @{ Artifact = $Art['v1.3.0'].Artifact; Sha256 = $Art['v1.3.0'].Sha256 } + $Deploy
        Start-ThreadJob -ArgumentList (Get-VaultModuleManifest), (Get-TargetParameters $Ws), $d -ScriptBlock {
            param($manifest, $p, $d)
            Import-Module $manifest
            $r = New-VaultTarget @p | Invoke-VaultDeployment @d -Confirm:$false -ErrorVariable errs -ErrorAction SilentlyContinue -WarningVariable warns -WarningAction SilentlyContinue
            [pscustomobject]@{ Result = $r; Errors = @($errs | ForEach-Object { $_.FullyQualifiedErrorId }); Warnings = @($warns | ForEach-Object { "$_" }) }
        }
    }

    function Receive-DeployJob($Job, [int] $TimeoutSec = 240) {
        try {
            if (-not ($Job | Wait-Job -Timeout $TimeoutSec)) { throw "The deployment did not end within $TimeoutSec s: $(Get-JobSaid $Job)" }
            $out = $Job | Receive-Job
            if (-not $out.Result) { throw "The deployment gave no result (job $($Job.State)): $(Get-JobSaid $Job)" }
            $out
        }
        finally { $Job | Remove-Job -Force }
    }

    # What a lock names: this machine (host, boot id, pid namespace) and the process -ProcessId.
    function New-LockLine([int] $ProcessId, [string] $RunId = '20990101T000000Z-0ther0') {
        $boot = (Get-Content -LiteralPath /proc/sys/kernel/random/boot_id -Raw).Trim()
        $pidns = [regex]::Match((& readlink /proc/self/ns/pid), '\[(\d+)\]').Groups[1].Value
        "run=$RunId token=$(New-Id)$(New-Id) host=$([Environment]::MachineName) boot=$boot pidns=$pidns pid=$ProcessId user=someone started=2099-01-01T00:00:00Z"
    }

    function Set-Lock($Ws, [string] $Line) {
        New-Item -ItemType Directory -Force -Path $Ws.State | Out-Null
        # Written whole, then renamed over the lock: the way another run's -Force takes it (it removes it, then links its own).
        Set-Content -LiteralPath "$($Ws.Lock).test" -Value $Line
        & mv -f -- "$($Ws.Lock).test" $Ws.Lock
    }

    function Start-Sleeper {
        $p = Start-Process -FilePath sleep -ArgumentList 600 -PassThru
        $Sleepers.Add($p)
        $p
    }

    function Get-DeadPid {
        $p = Start-Process -FilePath sh -ArgumentList '-c', 'exit 0' -PassThru
        $p.WaitForExit()
        $p.Id
    }

    # A script for a pwsh of its own: the module, the workspace's target as $t, then $Command.
    function New-RunScript($Ws, [string] $Command, [string] $Name) {
        $q = { param($s) "'" + ($s -replace "'", "''") + "'" }
        $file = Join-Path $Root ("$Name-" + (New-Id) + '.ps1')
        Set-Content -LiteralPath $file -Value @"
`$ConfirmPreference = 'None'
Import-Module $(& $q (Get-VaultModuleManifest))
`$t = New-VaultTarget -Name fault-1 -Port $($Ws.Port) -AppPath $(& $q $Ws.App) -ServiceManager Pm2 -Pm2Home $(& $q $Ws.Pm2Home) -MigrationPreset None -LogPath $(& $q "$($Ws.Directory)/logs/backend.log") -BackupPath $(& $q "$($Ws.Directory)/backups") -StatePath $(& $q "$($Ws.Directory)/state")
$Command
"@
        $file
    }

    # Runs $Command (a line of PowerShell; the workspace's target is $t) in a pwsh of its own, and kills that pwsh and
    # all it started (kill -9) as soon as $Until returns true (as in Faults.Tests.ps1).
    function Invoke-KilledRun($Ws, [string] $Command, [scriptblock] $Until, [int] $TimeoutSec = 180) {
        $file = New-RunScript $Ws $Command 'killed'
        $child = Start-Process -FilePath (Get-PwshPath) -ArgumentList '-NoProfile', '-NonInteractive', '-File', $file -PassThru `
            -RedirectStandardOutput "$file.out" -RedirectStandardError "$file.err"
        try {
            $deadline = [DateTime]::UtcNow.AddSeconds($TimeoutSec)
            while (-not (& $Until)) {
                if ($child.HasExited -or [DateTime]::UtcNow -gt $deadline) {
                    throw "The run never reached the kill point ($(if ($child.HasExited) { 'it ended' } else { "$TimeoutSec s" })): $(Get-Content -LiteralPath "$file.out", "$file.err" -Raw -ErrorAction Ignore)"
                }
                Start-Sleep -Milliseconds 50
            }
        }
        finally {
            $all = @($child.Id) + @(Get-Descendants $child.Id)
            & kill -9 @all 2>$null
            $child.WaitForExit(10000) | Out-Null
        }
    }

    $script:Art = Wait-TestSampleArtifacts $ArtifactBuild
    Write-Host "    set-up (services, v1.2.3 checkout, the v1.3.0 artifact): $([math]::Round($clock.Elapsed.TotalSeconds, 1)) s"
}

AfterAll {
    foreach ($p in @($script:Sleepers)) { if ($p -and -not $p.HasExited) { $p.Kill() } }
    foreach ($ws in @($script:Workspaces)) {
        if (-not $ws) { continue }
        foreach ($id in @(Get-TestPm2Daemon -Pm2Home $ws.Pm2Home) + @(Get-TestPm2WorkspaceProcess -Workspace $ws.Pm2Ws)) { & kill -9 $id 2>$null }
        Stop-TestPm2 -Workspace $ws.Pm2Ws -ErrorAction Continue
    }
    if ($script:ArtifactBuild -and -not $ArtifactBuild.Process.HasExited) { $ArtifactBuild.Process.Kill($true) }
    if ($script:Rpc) { Stop-TestStellarRpc $Rpc }
    if ($script:Postgres) { Stop-TestPostgres $Postgres }
    foreach ($ws in @($script:Workspaces)) { if ($ws) { Remove-Item -LiteralPath $ws.Root -Recurse -Force -ErrorAction Ignore } }
    if ($script:Root) { Remove-Item -LiteralPath $Root -Recurse -Force -ErrorAction Ignore }
    Stop-AllTestServices
}

Describe 'Ctrl+C during Undo-VaultDeployment after its stop' {
    It 'starts what is there and says so: the journal ends Cancelled saying which version serves, and it serves within the bound' {
        $ws = New-StartedWorkspace 'undo-cancel'
        $deployed = New-WsTarget $ws | Invoke-VaultDeployment -Artifact $Art['v1.3.0'].Artifact -Sha256 $Art['v1.3.0'].Sha256 -WarningAction SilentlyContinue
        $deployed.Status | Should-Be 'Succeeded'
        # The release Undo goes back to (the adopted v1.2.3 checkout) starts slowly: its entry point waits 12 s before
        # it loads the backend, so a Ctrl+C lands while Undo waits for it to serve (after its stop and its switch).
        $dist = "$($ws.Releases)/$($deployed.ReleaseBefore)/dist"
        Move-Item -LiteralPath "$dist/index.js" -Destination "$dist/index.real.js"
        Set-Content -LiteralPath "$dist/index.js" -Value "setTimeout(() => require('./index.real.js'), 12000);"
        $before = Get-WsState $ws
        $before.Served.Version | Should-Be '1.3.0'

        # Ctrl+C as a terminal sends it: SIGINT to the pwsh that runs Undo-VaultDeployment (env resets SIGINT to its
        # default, which a shell may have set to ignored for background commands). What it prints is what the user sees.
        $file = New-RunScript $ws '$t | Undo-VaultDeployment -Confirm:$false' 'undo-ctrlc'
        $child = Start-Process -FilePath env -ArgumentList '--default-signal=INT', (Get-PwshPath), '-NoProfile', '-NonInteractive', '-File', $file -PassThru `
            -RedirectStandardOutput "$file.out" -RedirectStandardError "$file.err"
        try {
            $journal = Wait-Journal $ws $before.Journals '"step":"Verify deployment","phase":"start"'
            (Get-Content -LiteralPath $journal -Raw) | Should-BeLikeString '*"step":"Stop current service","phase":"end","outcome":"Succeeded"*'
            Get-Status $ws | Should-Be 0 -Because 'the old version is stopped and the one going back has not started to serve'
            $watch = [Diagnostics.Stopwatch]::StartNew()
            & kill -INT $child.Id
            $ended = $child.WaitForExit(150000)
            $took = $watch.Elapsed.TotalSeconds
            $said = (Get-Content -LiteralPath "$file.out", "$file.err" -Raw -ErrorAction Ignore) -join "`n"
            Write-Host "    Ctrl+C during Undo: the run ended $([math]::Round($took, 1)) s after the cancel"
        }
        finally {
            if (-not $child.HasExited) { & kill -9 $child.Id @(Get-Descendants $child.Id) 2>$null; $child.WaitForExit(10000) | Out-Null }
        }
        $ended | Should-BeTrue -Because "the pwsh ends after Ctrl+C: $said"
        $took | Should-BeLessThan 90 -Because 'the recovery after Ctrl+C is bounded (it waits at most 60 s for the backend)'
        $text = Get-Content -LiteralPath $journal -Raw
        $text | Should-BeLikeString '*"step":"cancel","phase":"start"*'
        $text | Should-BeLikeString '*"step":"run","phase":"end","outcome":"Cancelled",*"detail":"stopped by the user (Ctrl+C); started again: 1.2.3 serves"*'
        Write-Host ($said -replace '\e\[[0-9;]*m', '' -split "`n" | Where-Object { $_ -match 'WARNING' } | ForEach-Object { "      $_" } | Out-String)
        $said | Should-BeLikeString '*Ctrl+C after the stop: bringing a serving version back first*'
        $said | Should-BeLikeString '*after Ctrl+C 1.2.3 serves again*'
        $said | Should-NotBeLikeString '*could not be brought back*'
        (& readlink -f -- $ws.App) | Should-Be "$($ws.Releases)/$($deployed.ReleaseBefore)" -Because 'the switch had happened: the release going back serves'
        Assert-Recovered $ws $before '1.2.3' $null
    }
}

Describe 'A deployment whose lock is taken over' {
    It 'stops at its next step with LockLost, does not roll back behind the new owner, and leaves the new owner''s lock' {
        $ws = New-StartedWorkspace 'locklost'
        $before = Get-WsState $ws
        $gate = New-Gate
        # The migration runs after the stop (the default): the run holds the lock with the backend stopped.
        $job = Start-DeployJob $ws @{ MigrationCommand = $gate.Command }
        try {
            Wait-Until { Test-GateReached $gate } 'the migration after the stop' -Job $job
            $own = Get-Content -LiteralPath $ws.Lock -Raw
            $own | Should-BeLikeString '*token=*'
            $other = Start-Sleeper
            $taker = New-LockLine -ProcessId $other.Id
            Set-Lock $ws $taker
        }
        finally { Open-Gate $gate }
        $out = Receive-DeployJob $job
        $r = $out.Result
        $r.Status | Should-Be 'Failed'
        $r.ErrorId | Should-Be 'LockLost'
        $r.Error | Should-BeLikeString '*no longer carries this run''s token*before step 7*'
        $out.Errors[0] | Should-BeLikeString 'LockLost,*'
        ($r.Steps | Where-Object Number -EQ 6).Outcome | Should-Be 'Succeeded'
        ($r.Steps | Where-Object Number -GE 7).Outcome | Should-All { $_ -eq 'NotRun' }
        ($out.Warnings -join "`n") | Should-BeLikeString '*does not roll back*'
        $text = Get-Content -LiteralPath $r.JournalPath -Raw
        $text | Should-NotBeLikeString '*"step":"rollback"*'
        $text | Should-BeLikeString '*"step":"run","phase":"end","outcome":"Failed"*'
        (Get-Content -LiteralPath $ws.Lock -Raw).Trim() | Should-Be $taker -Because 'the new owner''s lock stays'
        Get-Status $ws | Should-Be 0 -Because 'nothing was started behind the new owner''s back'
        (& readlink -f -- $ws.App) | Should-Be "$($ws.Releases)/$($r.ReleaseBefore)" -Because 'the switch never happened'

        # The new owner's part, done by hand: its lock goes, the backend starts.
        Remove-Item -LiteralPath $ws.Lock
        $null = New-WsTarget $ws | Start-VaultBackend -Confirm:$false
        Assert-Recovered $ws $before '1.2.3' $r
    }
}

Describe 'The lock heartbeat' {
    It 'a long step keeps its lock fresh: the lock''s mtime advances while the step runs, with the same owner' {
        $ws = New-StartedWorkspace 'heartbeat'
        $before = Get-WsState $ws
        $gate = New-Gate
        $job = Start-DeployJob $ws @{ MigrationCommand = $gate.Command; MigrationTiming = 'BeforeStop' }
        try {
            Wait-Until { Test-GateReached $gate } 'the migration before the stop' -Job $job
            $owner = Get-Content -LiteralPath $ws.Lock -Raw
            $seen = [Collections.Generic.List[long]]::new()
            $seen.Add([long](& stat -c %Y -- $ws.Lock))
            # The heartbeat touches the lock every 10 s: two refreshes within 35 s.
            $deadline = [DateTime]::UtcNow.AddSeconds(35)
            while ($seen.Count -lt 3 -and [DateTime]::UtcNow -lt $deadline) {
                Start-Sleep -Milliseconds 500
                $m = [long](& stat -c %Y -- $ws.Lock)
                if ($m -gt $seen[$seen.Count - 1]) { $seen.Add($m) }
            }
            Write-Host "    heartbeat: lock mtimes $($seen -join ', ')"
            $seen.Count | Should-Be 3 -Because 'the lock was refreshed twice while the step ran'
            (Get-Content -LiteralPath $ws.Lock -Raw) | Should-Be $owner -Because 'a refresh touches the lock, it does not rewrite it'
            Test-GateReached $gate | Should-BeTrue -Because 'the refreshes came during the one step'
        }
        finally { Open-Gate $gate }
        $r = (Receive-DeployJob $job).Result
        $r.Status | Should-Be 'Succeeded'
        Assert-Recovered $ws $before '1.3.0' $r
    }

    It 'a lock of a live process whose heartbeat stopped long ago is stale; the same lock refreshed just now is held' {
        $ws = New-StartedWorkspace 'stale-heartbeat'
        $before = Get-WsState $ws
        $live = Start-Sleeper
        $line = New-LockLine -ProcessId $live.Id
        try {
            Set-Lock $ws $line
            $held = New-WsTarget $ws | Get-VaultDeploymentLock
            $held.IsStale | Should-BeFalse
            $r = New-WsTarget $ws | Invoke-VaultDeployment -Artifact $Art['v1.3.0'].Artifact -Sha256 $Art['v1.3.0'].Sha256 -ErrorVariable errs -ErrorAction SilentlyContinue
            $r.ErrorId | Should-Be 'DeploymentLocked'
            $errs[0].FullyQualifiedErrorId | Should-BeLikeString 'DeploymentLocked,*'

            # The same owner, alive, but its heartbeat stopped 10 minutes ago (as when its host froze or lost the connection).
            & touch -d '-10 minutes' -- $ws.Lock
            $stale = New-WsTarget $ws | Get-VaultDeploymentLock
            $stale.IsStale | Should-BeTrue
            $stale.StaleReason | Should-BeLikeString 'not refreshed for *'
            $r = New-WsTarget $ws | Invoke-VaultDeployment -Artifact $Art['v1.3.0'].Artifact -Sha256 $Art['v1.3.0'].Sha256 -ErrorVariable errs -ErrorAction SilentlyContinue
            $r.ErrorId | Should-Be 'DeploymentLockStale'
            $r.Error | Should-BeLikeString '*not refreshed for 6?? s*'
            (Get-Content -LiteralPath $ws.Lock -Raw).Trim() | Should-Be $line -Because 'without -Force a stale lock is only reported'
        }
        finally { Remove-Item -LiteralPath $ws.Lock -ErrorAction Ignore }
        $before.Served.Version | Should-Be '1.2.3'
        Assert-Recovered $ws $before '1.2.3' $null
    }
}

Describe 'Step cmdlets and the deployment lock' {
    It 'while a deployment holds the lock, Stop-, Start-, Restart-VaultBackend, Backup-VaultDeployment, Enable-/Disable-VaultMaintenanceMode and Invoke-VaultMigration -Deploy get DeploymentLocked and change nothing' {
        $ws = New-StartedWorkspace 'steps-held'
        $before = Get-WsState $ws
        $gate = New-Gate
        $marker = Join-Path $Root ('migrated-' + (New-Id))
        # The migration before the stop: the old version serves while the deployment holds the lock.
        $job = Start-DeployJob $ws @{ MigrationCommand = $gate.Command; MigrationTiming = 'BeforeStop' }
        try {
            Wait-Until { Test-GateReached $gate } 'the migration before the stop' -Job $job
            $lock = Get-Content -LiteralPath $ws.Lock -Raw
            $pidBefore = Get-Pm2Pid $ws
            $backups = @(Get-ChildItem -LiteralPath "$($ws.Directory)/backups" -Directory | ForEach-Object FullName)
            # A flag set by hand shows that Disable does not remove it either.
            $flag = Join-Path (& readlink -f -- $ws.App) 'MAINTENANCE_MODE'
            $t = New-WsTarget $ws
            $calls = [ordered]@{
                'Stop-VaultBackend'              = { $t | Stop-VaultBackend -Force -Confirm:$false -ErrorVariable e -ErrorAction SilentlyContinue; $e }
                'Start-VaultBackend'             = { $t | Start-VaultBackend -Confirm:$false -ErrorVariable e -ErrorAction SilentlyContinue; $e }
                'Restart-VaultBackend'           = { $t | Restart-VaultBackend -Confirm:$false -ErrorVariable e -ErrorAction SilentlyContinue; $e }
                'Backup-VaultDeployment'         = { $t | Backup-VaultDeployment -Confirm:$false -ErrorVariable e -ErrorAction SilentlyContinue; $e }
                'Enable-VaultMaintenanceMode'    = { $t | Enable-VaultMaintenanceMode -Confirm:$false -ErrorVariable e -ErrorAction SilentlyContinue; $e }
                'Disable-VaultMaintenanceMode'   = { Set-Content -LiteralPath $flag -Value ''; $t | Disable-VaultMaintenanceMode -Confirm:$false -ErrorVariable e -ErrorAction SilentlyContinue; $e }
                'Invoke-VaultMigration -Deploy'  = { $t | Invoke-VaultMigration -Deploy -Command 'touch', $marker -Confirm:$false -ErrorVariable e -ErrorAction SilentlyContinue; $e }
            }
            foreach ($name in $calls.Keys) {
                $said = @(& $calls[$name] | Where-Object { $_ -is [Management.Automation.ErrorRecord] })
                $said.Count | Should-Be 1 -Because "$name writes one error"
                $said[0].FullyQualifiedErrorId | Should-BeLikeString 'DeploymentLocked,*' -Because $name
                $said[0].Exception.Message | Should-BeLikeString '*another deployment holds the lock*'
                if ($name -eq 'Disable-VaultMaintenanceMode') {
                    Test-Path -LiteralPath $flag | Should-BeTrue -Because 'Disable changed nothing'
                    Remove-Item -LiteralPath $flag
                }
                elseif ($name -eq 'Enable-VaultMaintenanceMode') {
                    Test-Path -LiteralPath $flag | Should-BeFalse -Because 'Enable changed nothing'
                }
                (Get-Pm2Pid $ws) | Should-Be $pidBefore -Because "$name changed nothing: the same process serves"
                Get-Status $ws '/api/v1/version' | Should-Be 200 -Because "$name changed nothing: the old version serves"
            }
            Test-Path -LiteralPath $marker | Should-BeFalse -Because 'the migration command never ran'
            @(Get-ChildItem -LiteralPath "$($ws.Directory)/backups" -Directory | ForEach-Object FullName) | Should-BeCollection $backups
            (Get-Content -LiteralPath $ws.Lock -Raw) | Should-Be $lock -Because 'the deployment''s lock is untouched'
        }
        finally { Open-Gate $gate }
        $r = (Receive-DeployJob $job).Result
        $r.Status | Should-Be 'Succeeded'
        Assert-Recovered $ws $before '1.3.0' $r
    }

    It 'with a stale lock left by a dead run, they go on with a warning, and the lock stays for a deployment''s -Force' {
        $ws = New-StartedWorkspace 'steps-stale'
        $dead = Get-DeadPid
        $line = New-LockLine -ProcessId $dead -RunId '20990101T000000Z-dead00'
        $marker = Join-Path $Root ('migrated-' + (New-Id))
        $flag = Join-Path (& readlink -f -- $ws.App) 'MAINTENANCE_MODE'
        $t = New-WsTarget $ws
        Set-Lock $ws $line
        try {
            $pid0 = Get-Pm2Pid $ws
            $null = $t | Restart-VaultBackend -Confirm:$false -WarningVariable w1 -WarningAction SilentlyContinue
            $pid1 = Get-Pm2Pid $ws
            $pid1 | Should-NotBe $pid0 -Because 'Restart-VaultBackend restarted it'
            $null = $t | Stop-VaultBackend -Force -Confirm:$false -WarningVariable w2 -WarningAction SilentlyContinue
            Get-Status $ws | Should-Be 0 -Because 'Stop-VaultBackend stopped it'
            $null = $t | Start-VaultBackend -Confirm:$false -WarningVariable w3 -WarningAction SilentlyContinue
            Get-Status $ws | Should-Be 200 -Because 'Start-VaultBackend started it'
            $backup = $t | Backup-VaultDeployment -Confirm:$false -WarningVariable w4 -WarningAction SilentlyContinue
            Test-Path -LiteralPath "$($backup.Path)/env.backup" | Should-BeTrue -Because 'Backup-VaultDeployment backed up the env file'
            $t | Enable-VaultMaintenanceMode -Confirm:$false -WarningVariable w5 -WarningAction SilentlyContinue
            Test-Path -LiteralPath $flag | Should-BeTrue
            Get-Status $ws '/api/v1/version' | Should-Be 503 -Because 'the backend is in maintenance mode'
            $t | Disable-VaultMaintenanceMode -Confirm:$false -WarningVariable w6 -WarningAction SilentlyContinue
            Test-Path -LiteralPath $flag | Should-BeFalse
            $null = $t | Invoke-VaultMigration -Deploy -Command 'touch', $marker -Confirm:$false -WarningVariable w7 -WarningAction SilentlyContinue
            Test-Path -LiteralPath $marker | Should-BeTrue -Because 'the migration command ran'
            foreach ($w in $w1, $w2, $w3, $w4, $w5, $w6, $w7) {
                ($w -join "`n") | Should-BeLikeString '*goes on although a stale deployment lock is left*process*is gone*Invoke-VaultDeployment -Force clears it*'
            }
            (Get-Content -LiteralPath $ws.Lock -Raw).Trim() | Should-Be $line -Because 'a step cmdlet never clears a lock'
        }
        finally { Remove-Item -LiteralPath $ws.Lock -ErrorAction Ignore }
        (Get-Served $ws).Version | Should-Be '1.2.3'
    }
}

Describe 'Undo choosing its release again under the lock' {
    It 'a deployment between Undo''s plan and its lock changed the release to go back to: RollbackTargetChanged, nothing changed' {
        $ws = New-StartedWorkspace 'undo-changed'
        $first = New-WsTarget $ws | Invoke-VaultDeployment -Artifact $Art['v1.3.0'].Artifact -Sha256 $Art['v1.3.0'].Sha256 -WarningAction SilentlyContinue
        $first.Status | Should-Be 'Succeeded'
        $t = New-WsTarget $ws
        # With a roll parameter, Undo plans (and would prompt for) each target as it comes, and runs the targets in its
        # EndProcessing: the command in front of it deploys again in between, so the release the plan named (the
        # adopted v1.2.3) is no longer what the current release replaced.
        $between = @{}
        $out = & {
            $t
            $between.Result = $t | Invoke-VaultDeployment -Artifact $Art['v1.3.0'].Artifact -Sha256 $Art['v1.3.0'].Sha256 -Confirm:$false -WarningAction SilentlyContinue
        } | Undo-VaultDeployment -MaxFailedTargets 0 -Confirm:$false -ErrorVariable errs -ErrorAction SilentlyContinue -WarningAction SilentlyContinue
        $between.Result.Status | Should-Be 'Succeeded'
        $between.Result.ReleaseBefore | Should-Be $first.ReleaseAfter
        $before = Get-WsState $ws
        $pidBefore = Get-Pm2Pid $ws

        $r = @($out | Where-Object { $_.GetType().Name -eq 'VaultDeploymentResult' })
        $r.Count | Should-Be 1
        $r[0].Status | Should-Be 'Failed'
        $r[0].ErrorId | Should-Be 'RollbackTargetChanged'
        $r[0].Error | Should-BeLikeString "*changed from $($first.ReleaseBefore) to $($first.ReleaseAfter)*Nothing was changed.*"
        @($errs | Where-Object { $_.FullyQualifiedErrorId -like 'RollbackTargetChanged,*' }).Count | Should-Be 1
        ($r[0].Steps | Where-Object Number -EQ 2).Outcome | Should-Be 'NotRun' -Because 'nothing was stopped'
        $r[0].FailedProbes | Should-Be 0
        (& readlink -f -- $ws.App) | Should-Be "$($ws.Releases)/$($between.Result.ReleaseAfter)" -Because 'the release the deployment in between made current stays'
        (Get-Pm2Pid $ws) | Should-Be $pidBefore
        (Get-Content -LiteralPath $r[0].JournalPath -Raw) | Should-BeLikeString '*"step":"run","phase":"end","outcome":"Failed"*'
        Assert-Recovered $ws $before '1.3.0' $null
    }
}

Describe 'A kill while -Maintenance is on' {
    It 'killed after the flag was set (before the stop): the API answers 503 until the next run with -Force removes the dead run''s flag; no MAINTENANCE_MODE is left, and the API answers again' {
        $ws = New-StartedWorkspace 'maintenance-kill'
        $before = Get-WsState $ws
        $marker = 'yv-maint-' + (New-Id)
        Invoke-KilledRun $ws "`$t | Invoke-VaultDeployment -Artifact '$($Art['v1.3.0'].Artifact)' -Sha256 $($Art['v1.3.0'].Sha256) -Maintenance -MigrationTiming BeforeStop -MigrationCommand sh, -c, 'sleep 120; : $marker' -Confirm:`$false" `
            -Until { [bool](& pgrep -f $marker) }
        # What the users see after the kill: the old version still serves (/health), but its API is in maintenance.
        $flags = @(Get-ChildItem -Path "$($ws.Releases)/*/MAINTENANCE_MODE" -ErrorAction Ignore)
        $flags.Count | Should-Be 1 -Because 'the killed run set the flag in the release it started from (the adopted checkout)'
        Get-Status $ws | Should-Be 200
        Get-Status $ws '/api/v1/version' | Should-Be 503
        Test-Path -LiteralPath $ws.Lock | Should-BeTrue

        $r = New-WsTarget $ws | Invoke-VaultDeployment -Artifact $Art['v1.3.0'].Artifact -Sha256 $Art['v1.3.0'].Sha256 -Force -WarningVariable warns -WarningAction SilentlyContinue
        $r.Status | Should-Be 'Succeeded'
        @(Get-ChildItem -Path "$($ws.Releases)/*/MAINTENANCE_MODE", "$($ws.App)/MAINTENANCE_MODE" -ErrorAction Ignore).Count | Should-Be 0 -Because 'no release keeps the dead run''s flag (an Undo would bring it back)'
        ($warns -join "`n") | Should-BeLikeString '*clearing a stale deployment lock*'
        ($warns -join "`n") | Should-BeLikeString "*removed the maintenance flag the dead run * left ($($flags[0].FullName))*"
        Get-Status $ws '/api/v1/version' | Should-Be 200
        Assert-Recovered $ws $before '1.3.0' $r

        # A deployment with -Maintenance that ends leaves no flag either, not even in the release it replaced; an Undo
        # to that release serves the API.
        $m = New-WsTarget $ws | Invoke-VaultDeployment -Artifact $Art['v1.3.0'].Artifact -Sha256 $Art['v1.3.0'].Sha256 -Maintenance -WarningAction SilentlyContinue
        $m.Status | Should-Be 'Succeeded'
        @(Get-ChildItem -Path "$($ws.Releases)/*/MAINTENANCE_MODE" -ErrorAction Ignore).Count | Should-Be 0
        $u = New-WsTarget $ws | Undo-VaultDeployment -Confirm:$false -WarningAction SilentlyContinue
        $u.Status | Should-Be 'Succeeded'
        $u.ReleaseAfter | Should-Be $m.ReleaseBefore
        Get-Status $ws '/api/v1/version' | Should-Be 200
    }
}
