# Fault injection into real PM2 deployments (on this machine; over SSH where the fault is about SSH). Every fault
# must end with the backend serving the expected version (/health 200), a complete journal (a "run" "end" line),
# the lock released, and nothing lost: the shared .env byte-identical, earlier backups and the previous release
# still there. Post-stop faults deploy pre-built artifacts (runbook Option C) of the fixture's fault tags, so the
# suite pays for one npm ci and a tsc per tag instead of a full build per fault.
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestCommon.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot '../services/YieldVault.TestServices.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot '../services/Pm2.TestServices.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot 'FaultsCommon.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot '../services/SampleArtifacts.TestServices.psm1') -Force
    Import-Module (Get-VaultModuleManifest) -Force

    $clock = [Diagnostics.Stopwatch]::StartNew()
    $script:Root = Join-Path ([IO.Path]::GetTempPath()) ('yv-faults-' + [guid]::NewGuid().ToString('N').Substring(0, 8))
    [void][IO.Directory]::CreateDirectory($Root)
    # yvops (the SSH side) reads the origin and the artifacts from here.
    [IO.File]::SetUnixFileMode($Root, [IO.UnixFileMode]'UserRead, UserWrite, UserExecute, GroupRead, GroupExecute, OtherRead, OtherExecute')
    $script:Origin = New-TestSampleOrigin -Directory $Root
    $script:Mounts = [Collections.Generic.List[string]]::new()

    # In the background while the services start: the v1.2.3 checkout every workspace copies (one npm ci, one tsc),
    # then each fault tag as a pre-built artifact (SampleArtifacts.TestServices).
    $script:ArtifactTags = 'v1.2.3', 'v1.3.0', 'v1.3.1-broken', 'v1.3.3-notready', 'v1.3.4-wrongversion', 'v1.3.5-oddhealth'
    $script:ArtifactBuild = Start-TestSampleArtifacts -Origin $Origin -Directory $Root -Tags $ArtifactTags

    $script:Postgres = Start-TestPostgres
    $script:Rpc = Start-TestStellarRpc
    $script:Sshd = Start-TestSshd
    $script:ApiKey = 'Planted-Api-Key-' + [guid]::NewGuid().ToString('N').Substring(0, 8)
    $script:Base = Wait-TestSampleBase $ArtifactBuild
    [void](Invoke-TestSampleMigration -Path $Base -DatabaseUrl $Postgres.DatabaseUrl)

    function New-FaultWorkspace([string] $Owner = 'root', [string] $Name = 'ws') {
        $ws = New-TestPm2Workspace -User $Owner
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
        if ($Owner -ne 'root') { & chown -R "$Owner`:" $ws.Directory }
        [pscustomobject]@{ Directory = $dir; Root = $ws.Directory; Pm2Home = $ws.Pm2Home; Pm2Ws = $ws; App = $app; Port = $port; Owner = $Owner
            State = "$dir/state/yieldvault-backend"; Lock = "$dir/state/yieldvault-backend/deploy.lock" }
    }

    function New-WsTarget($Ws, [switch] $Ssh, [hashtable] $Extra = @{}) {
        $p = @{
            Name = 'fault-1'; Port = $Ws.Port; AppPath = $Ws.App; ServiceManager = 'Pm2'; Pm2Home = $Ws.Pm2Home; MigrationPreset = 'None'
            LogPath = "$($Ws.Directory)/logs/backend.log"; BackupPath = "$($Ws.Directory)/backups"; StatePath = "$($Ws.Directory)/state"
        }
        if ($Ssh) { $p += @{ HostName = $Sshd.HostName; SshPort = $Sshd.Port; User = $Sshd.User; KeyFile = $Sshd.UserKeyFile; KnownHostsFile = $Sshd.KnownHostsFile } }
        foreach ($k in $Extra.Keys) { $p[$k] = $Extra[$k] }
        New-VaultTarget @p
    }

    # A tmpfs of -SizeKB (and 64 inodes) at a new directory under $Root, unmounted in AfterAll; filled with -Fill Bytes
    # (its data blocks: new files and directories can still be made, nothing can be written into them) or All (no new
    # inode either: no file, directory or symlink can be made).
    function New-FullTmpfs([string] $Name, [int] $SizeKB = 64, [ValidateSet('None', 'Bytes', 'All')] [string] $Fill = 'Bytes') {
        $mount = Join-Path $Root $Name
        New-Item -ItemType Directory -Path $mount | Out-Null
        & mount -t tmpfs -o "size=$($SizeKB)k,nr_inodes=64,mode=1777" tmpfs $mount
        if ($LASTEXITCODE -ne 0) { throw "mount -t tmpfs at $mount failed" }
        $Mounts.Add($mount)
        if ($Fill -ne 'None') { Fill-Tmpfs $mount -Inodes:($Fill -eq 'All') }
        $mount
    }

    function Fill-Tmpfs([string] $Mount, [switch] $Inodes) {
        & sh -c 'head -c 64m /dev/zero > "$1/.filler" 2>/dev/null; [ "$2" = yes ] || exit 0; i=0; while touch "$1/.f$i" 2>/dev/null; do i=$((i+1)); done' sh $Mount $(if ($Inodes) { 'yes' } else { 'no' })
        $free = -split (& stat -f -c '%a %d' -- $Mount)
        if ($free[0] -ne '0' -or ($Inodes -and $free[1] -ne '0')) { throw "$Mount is not full: $($free[0]) blocks and $($free[1]) inodes free" }
    }

    # The workspaces of the kill and full-disk faults, made when first asked for (so each of those tests also runs alone).
    $script:Kills = $null
    $script:ExtraWorkspaces = [Collections.Generic.List[object]]::new()
    function New-StartedWorkspace([string] $Name) {
        $ws = New-FaultWorkspace -Name $Name
        $ExtraWorkspaces.Add($ws)
        $null = New-WsTarget $ws | Start-VaultBackend -Confirm:$false
        $ws
    }

    function Get-KillsWorkspace {
        if (-not $script:Kills) { $script:Kills = New-StartedWorkspace 'kills' }
        $script:Kills
    }

    # The workspace under release management (its plain checkout adopted by a first deployment of v1.3.0).
    function Get-ManagedKillsWorkspace {
        $ws = Get-KillsWorkspace
        if ([string](& readlink -f -- $ws.App) -notlike "$($ws.App)-releases/releases/*") {
            $r = New-WsTarget $ws | Invoke-VaultDeployment -Artifact $Art['v1.3.0'].Artifact -Sha256 $Art['v1.3.0'].Sha256 -WarningAction SilentlyContinue
            if ($r.Status -ne 'Succeeded') { throw "The first deployment of the kills workspace failed: $($r.Error)" }
        }
        $ws
    }

    # Runs $Command (a line of PowerShell; the workspace's target is $t) in a pwsh of its own, and kills that pwsh and all
    # it started (kill -9, the pwsh first, then its descendants, in one call) as soon as $Until returns true: the deploying
    # process killed at that point. -PathPrefix puts a directory of stand-in programs first on the run's PATH.
    function Invoke-KilledRun($Ws, [string] $Command, [scriptblock] $Until, [string] $PathPrefix, [string] $TargetArguments = '', [int] $TimeoutSec = 180) {
        $q = { param($s) "'" + ($s -replace "'", "''") + "'" }
        $file = Join-Path $Root ('killed-' + [guid]::NewGuid().ToString('N').Substring(0, 8) + '.ps1')
        Set-Content -LiteralPath $file -Value @"
`$ConfirmPreference = 'None'
Import-Module $(& $q (Get-VaultModuleManifest))
`$t = New-VaultTarget -Name fault-1 -Port $($Ws.Port) -AppPath $(& $q $Ws.App) -ServiceManager Pm2 -Pm2Home $(& $q $Ws.Pm2Home) -MigrationPreset None -LogPath $(& $q "$($Ws.Directory)/logs/backend.log") -BackupPath $(& $q "$($Ws.Directory)/backups") -StatePath $(& $q "$($Ws.Directory)/state") $TargetArguments
$Command
"@
        $path = $env:PATH
        if ($PathPrefix) { $env:PATH = "$PathPrefix`:$path" }
        try {
            $child = Start-Process -FilePath (Get-PwshPath) -ArgumentList '-NoProfile', '-NonInteractive', '-File', $file -PassThru `
                -RedirectStandardOutput "$file.out" -RedirectStandardError "$file.err"
        }
        finally { $env:PATH = $path }
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

    # A directory of stand-ins that go first on a killed run's PATH: each named program blocks (touching $Reached, then
    # sleeping until it is killed) when its arguments match the -like pattern, and runs the real program otherwise.
    function New-BlockingShims([hashtable] $Programs, [string] $Reached) {
        $dir = Join-Path $Root ('shims-' + [guid]::NewGuid().ToString('N').Substring(0, 8))
        New-Item -ItemType Directory -Path $dir | Out-Null
        foreach ($name in $Programs.Keys) {
            $real = (Get-Command -Name $name -CommandType Application | Select-Object -First 1).Source
            # The -like pattern as a sh case pattern: literal parts single-quoted, each * a glob.
            $pattern = ($Programs[$name] -split '\*' | ForEach-Object { "'" + ($_ -replace "'", "'\''") + "'" }) -join '*'
            Set-Content -LiteralPath "$dir/$name" -Value @"
#!/bin/sh
case "`$*" in $pattern) : > '$Reached'; exec sleep 600;; esac
exec '$real' "`$@"
"@
            & chmod 755 "$dir/$name"
        }
        $dir
    }

    $script:Local = New-FaultWorkspace -Name 'local'
    $script:LocalTarget = New-WsTarget $Local
    $null = $LocalTarget | Start-VaultBackend -Confirm:$false
    $script:Remote = New-FaultWorkspace -Owner $Sshd.User -Name 'remote'
    $script:SshTarget = New-WsTarget $Remote -Ssh
    $null = $SshTarget | Start-VaultBackend -Confirm:$false

    $script:Art = Wait-TestSampleArtifacts $ArtifactBuild
    Write-Host "    set-up (services, v1.2.3 checkout, two PM2 workspaces, $($ArtifactTags.Count) artifacts): $([math]::Round($clock.Elapsed.TotalSeconds, 1)) s"
}

AfterAll {
    foreach ($m in $script:Mounts) { & umount -l -- $m 2>$null }
    foreach ($ws in @($script:Local, $script:Remote) + @($script:ExtraWorkspaces)) {
        if (-not $ws) { continue }
        # The SIGTERM fault leaves an app that ignores PM2's stop for a long kill_timeout: kill it outright.
        foreach ($id in @(Get-TestPm2Daemon -Pm2Home $ws.Pm2Home) + @(Get-TestPm2WorkspaceProcess -Workspace $ws.Pm2Ws)) { & kill -9 $id 2>$null }
        Stop-TestPm2 -Workspace $ws.Pm2Ws -ErrorAction Continue
    }
    if ($script:ArtifactBuild -and -not $ArtifactBuild.Process.HasExited) { $ArtifactBuild.Process.Kill($true) }
    if ($script:Sshd) { Stop-TestSshd $Sshd }
    if ($script:Rpc) { Stop-TestStellarRpc $Rpc }
    if ($script:Postgres) { Stop-TestPostgres $Postgres }
    foreach ($ws in @($script:Local, $script:Remote) + @($script:ExtraWorkspaces)) { if ($ws) { Remove-Item -LiteralPath $ws.Root -Recurse -Force -ErrorAction Ignore } }
    if ($script:Root) { Remove-Item -LiteralPath $Root -Recurse -Force -ErrorAction Ignore }
    Stop-AllTestServices
}

Describe 'Faults before the stop: the old version never stops serving' {
    It 'a build that fails (v1.3.2-badbuild): BuildFailed' {
        $before = Get-WsState $Local
        $pidBefore = Get-Pm2Pid $Local
        $r = $LocalTarget | Invoke-VaultDeployment -Ref v1.3.2-badbuild -ErrorVariable errs -ErrorAction SilentlyContinue
        $r.Status | Should-Be 'Failed'
        $r.ErrorId | Should-Be 'BuildFailed'
        $errs[0].FullyQualifiedErrorId | Should-BeLikeString 'BuildFailed,*'
        ($r.Steps | Where-Object Number -EQ 6).Outcome | Should-Be 'NotRun'
        $r.FailedProbes | Should-Be 0
        (Get-Pm2Pid $Local) | Should-Be $pidBefore
        # The half-built release is gone; only the adopted checkout is left.
        @(Get-ChildItem -LiteralPath "$($Local.App)-releases/releases" -Directory).Name | Should-All { $_ -like '*-adopted' }
        Assert-Recovered $Local $before '1.2.3' $r
    }

    It 'a full disk while the release is prepared (tmpfs ReleasesPath): npm ci fails with ENOSPC' {
        $mount = Join-Path $Root 'full-releases'
        New-Item -ItemType Directory -Path $mount | Out-Null
        & mount -t tmpfs -o size=20m tmpfs $mount
        $LASTEXITCODE | Should-Be 0
        $Mounts.Add($mount)
        $target = New-WsTarget $Local -Extra @{ ReleasesPath = $mount }
        $before = Get-WsState $Local
        $pidBefore = Get-Pm2Pid $Local
        $r = $target | Invoke-VaultDeployment -Ref v1.3.0 -ErrorVariable errs -ErrorAction SilentlyContinue
        $r.Status | Should-Be 'Failed'
        $r.ErrorId | Should-Be 'DependencyInstallFailed'
        $r.Error | Should-MatchString 'ENOSPC|no space left'
        ($r.Steps | Where-Object Number -EQ 6).Outcome | Should-Be 'NotRun'
        $r.FailedProbes | Should-Be 0
        (Get-Pm2Pid $Local) | Should-Be $pidBefore
        @(Get-ChildItem -LiteralPath "$mount/releases" -ErrorAction Ignore).Count | Should-Be 0 -Because 'the partial release is removed'
        Assert-Recovered $Local $before '1.2.3' $r
    }
}

Describe 'Faults after the stop: the runner rolls back and the old version serves again' {
    It '<Case>: <ErrorId>, rolled back' -ForEach @(
        @{ Case = 'health never comes (v1.3.1-broken)'; Tag = 'v1.3.1-broken'; ErrorId = 'HealthCheckTimeout'; Message = '*HTTP 503*'; Migration = $null }
        @{ Case = 'readiness never comes (v1.3.3-notready)'; Tag = 'v1.3.3-notready'; ErrorId = 'HealthCheckTimeout'; Message = '*not ready*'; Migration = $null }
        @{ Case = 'the version differs after the start (v1.3.4-wrongversion)'; Tag = 'v1.3.4-wrongversion'; ErrorId = 'VersionMismatch'; Message = '*reports 1.4.0, expected 1.3.4-wrongversion*'; Migration = $null }
        @{ Case = 'the migration fails (exit 3)'; Tag = 'v1.3.0'; ErrorId = 'MigrationFailed'; Message = '*exit code 3*'; Migration = @('sh', '-c', 'exit 3') }
        @{ Case = '/health answers {"status":{}} (v1.3.5-oddhealth)'; Tag = 'v1.3.5-oddhealth'; ErrorId = 'HealthCheckTimeout'; Message = "*'status' is a JSON Object, not a string*"; Migration = $null }
    ) {
        $before = Get-WsState $Local
        $p = @{ Artifact = $Art[$Tag].Artifact; Sha256 = $Art[$Tag].Sha256; HealthTimeoutSec = 6 }
        if ($Migration) { $p.MigrationCommand = $Migration }
        $r = $LocalTarget | Invoke-VaultDeployment @p -ErrorVariable errs -ErrorAction SilentlyContinue
        $r.Status | Should-Be 'RolledBack'
        $r.ErrorId | Should-Be $ErrorId
        $r.Error | Should-BeLikeString $Message
        $errs[0].FullyQualifiedErrorId | Should-BeLikeString 'DeploymentRolledBack,*'
        $r.VersionAfter | Should-Be '1.2.3'
        (& readlink -f -- $Local.App) | Should-Be $before.Current
        (Get-Content -LiteralPath $r.JournalPath -Raw) | Should-BeLikeString '*"step":"rollback","phase":"end","outcome":"Succeeded"*'
        Assert-Recovered $Local $before '1.2.3' $r
    }

    It 'the new version crashes at start (PM2 gives up on it): BackendExited long before -HealthTimeoutSec, rolled back' {
        $before = Get-WsState $Local
        # After the stop, the new release's entry point is made to throw at once (a release that crashes at start).
        $r = $LocalTarget | Invoke-VaultDeployment -Artifact $Art['v1.3.0'].Artifact -Sha256 $Art['v1.3.0'].Sha256 -HealthTimeoutSec 60 `
            -MigrationCommand 'sh', '-c', 'printf "throw new Error(\"crash at start\");\n" > dist/index.js' -ErrorVariable errs -ErrorAction SilentlyContinue -WarningAction SilentlyContinue
        Write-Host "    crash at start: $($r.Status) $($r.ErrorId), verify step $([math]::Round(($r.Steps | Where-Object Number -EQ 8).Duration.TotalSeconds, 1)) s: $($r.Error)"
        $r.Status | Should-Be 'RolledBack'
        $r.ErrorId | Should-Be 'BackendExited'
        $r.Error | Should-BeLikeString '*does not run: Pm2 says yieldvault-backend is Failed (errored), * restarts; it will not answer, so the wait for its health stopped after * s of 60 s*'
        ($r.Steps | Where-Object Number -EQ 8).Outcome | Should-Be 'Failed'
        $errs[0].FullyQualifiedErrorId | Should-BeLikeString 'DeploymentRolledBack,*'
        $r.VersionAfter | Should-Be '1.2.3'
        Assert-Recovered $Local $before '1.2.3' $r
    }

    It 'a smoke check fails (the target''s own check in its targets file): SmokeTestFailed, rolled back' {
        $config = Join-Path $Root 'smoke-targets.psd1'
        $q = { param($s) "'" + ($s -replace "'", "''") + "'" }
        Set-Content -LiteralPath $config -Value @"
@{ Targets = @( @{
    Name = 'fault-1'; Port = $($Local.Port); AppPath = $(& $q $Local.App); ServiceManager = 'Pm2'; Pm2Home = $(& $q $Local.Pm2Home); MigrationPreset = 'None'
    LogPath = $(& $q "$($Local.Directory)/logs/backend.log"); BackupPath = $(& $q "$($Local.Directory)/backups"); StatePath = $(& $q "$($Local.Directory)/state")
    # The release must lower the management fee to 25 bps; v1.3.0 still charges 50.
    SmokeChecks = @( @{ Name = 'fees'; Path = '/api/v1/vault/fees'; JsonPath = 'managementFeeBps'; ExpectedValue = '25' } )
} ) }
"@
        $target = Get-VaultTarget -Path $config -Name fault-1
        $before = Get-WsState $Local
        $r = $target | Invoke-VaultDeployment -Artifact $Art['v1.3.0'].Artifact -Sha256 $Art['v1.3.0'].Sha256 -ErrorVariable errs -ErrorAction SilentlyContinue
        $r.Status | Should-Be 'RolledBack'
        $r.ErrorId | Should-Be 'SmokeTestFailed'
        $r.Error | Should-BeLikeString '*fees*'
        ($r.Steps | Where-Object Number -EQ 9).Outcome | Should-Be 'Failed'
        $errs[0].FullyQualifiedErrorId | Should-BeLikeString 'DeploymentRolledBack,*'
        Assert-Recovered $Local $before '1.2.3' $r
    }
}

Describe 'Ctrl+C after the stop' {
    It 'brings the previous version back before the run ends (the rollback ignores the cancel), journaled as Cancelled' {
        $before = Get-WsState $Local
        $marker = 'yv-ctrlc-' + [guid]::NewGuid().ToString('N').Substring(0, 8)
        $p = @{
            Name = 'fault-1'; Port = $Local.Port; AppPath = $Local.App; ServiceManager = 'Pm2'; Pm2Home = $Local.Pm2Home; MigrationPreset = 'None'
            LogPath = "$($Local.Directory)/logs/backend.log"; BackupPath = "$($Local.Directory)/backups"; StatePath = "$($Local.Directory)/state"
        }
        # Stopping a job stops its pipeline the way Ctrl+C does (StopProcessing).
        $job = Start-ThreadJob -ArgumentList (Get-VaultModuleManifest), $p, $Art['v1.3.0'].Artifact, $Art['v1.3.0'].Sha256, $marker -ScriptBlock {
            param($manifest, $p, $artifact, $sha, $marker)
            Import-Module $manifest
            New-VaultTarget @p | Invoke-VaultDeployment -Artifact $artifact -Sha256 $sha -MigrationCommand 'sh', '-c', "sleep 60; : $marker" -Confirm:$false
        }
        try {
            $deadline = [DateTime]::UtcNow.AddSeconds(180)
            while ([DateTime]::UtcNow -lt $deadline -and -not (& pgrep -f $marker) -and $job.State -in 'NotStarted', 'Running') { Start-Sleep -Milliseconds 100 }
            if (-not (& pgrep -f $marker)) {
                $said = ($job | Receive-Job -Keep *>&1 | Out-String) + ($job.ChildJobs[0].Error | Out-String)
                throw "The migration after the stop never ran (job $($job.State)): $said"
            }
            $answered = try { [int](Invoke-WebRequest -Uri "http://127.0.0.1:$($Local.Port)/health" -TimeoutSec 2 -SkipHttpErrorCheck).StatusCode } catch { 0 }
            $answered | Should-Be 0 -Because 'the old version is stopped'
            $watch = [Diagnostics.Stopwatch]::StartNew()
            $job | Stop-Job
            Write-Host "    Ctrl+C after the stop: the run ended $([math]::Round($watch.Elapsed.TotalSeconds, 1)) s after the cancel"
        }
        finally {
            $job | Remove-Job -Force
        }
        $journal = Get-ChildItem -LiteralPath "$($Local.State)/journal" -Filter *.jsonl | Where-Object FullName -NotIn $before.Journals | Sort-Object LastWriteTime | Select-Object -Last 1
        $text = Get-Content -LiteralPath $journal.FullName -Raw
        $text | Should-BeLikeString '*"step":"cancel","phase":"start"*'
        $text | Should-BeLikeString '*"step":"rollback","phase":"end","outcome":"Succeeded"*'
        $text | Should-BeLikeString '*"step":"run","phase":"end","outcome":"Cancelled",*"detail":"stopped by the user (Ctrl+C); rolled back: 1.2.3 serves again"*'
        Assert-Recovered $Local $before '1.2.3' $null
        @(& pgrep -f $marker).Count | Should-Be 0 -Because 'the migration command died with the cut'
    }
}

Describe 'The deploying pwsh killed after the stop' {
    It 'leaves the backend stopped and a stale lock; the next run with -Force clears it, completes its journal and serves' {
        $before = Get-WsState $Local
        $module = Get-VaultModuleManifest
        $q = { param($s) "'" + ($s -replace "'", "''") + "'" }
        $script = @"
`$ConfirmPreference = 'None'
Import-Module $(& $q $module)
`$t = New-VaultTarget -Name fault-1 -Port $($Local.Port) -AppPath $(& $q $Local.App) -ServiceManager Pm2 -Pm2Home $(& $q $Local.Pm2Home) -MigrationPreset None -LogPath $(& $q "$($Local.Directory)/logs/backend.log") -BackupPath $(& $q "$($Local.Directory)/backups") -StatePath $(& $q "$($Local.Directory)/state")
`$t | Invoke-VaultDeployment -Artifact $(& $q $Art['v1.3.0'].Artifact) -Sha256 $($Art['v1.3.0'].Sha256) -MigrationCommand sh, -c, 'sleep 60'
"@
        $file = Join-Path $Root 'killed-run.ps1'
        Set-Content -LiteralPath $file -Value $script
        $child = Start-Process -FilePath (Get-PwshPath) -ArgumentList '-NoProfile', '-NonInteractive', '-File', $file -PassThru `
            -RedirectStandardOutput (Join-Path $Root 'killed.out') -RedirectStandardError (Join-Path $Root 'killed.err')
        $orphans = @()
        try {
            $journal = Wait-Journal $Local $before.Journals '"step":"Stop current service","phase":"start"'
            # Killed once the backend is down (the migration after the stop sleeps).
            $deadline = [DateTime]::UtcNow.AddSeconds(60)
            while ([DateTime]::UtcNow -lt $deadline) {
                try { Invoke-WebRequest -Uri "http://127.0.0.1:$($Local.Port)/health" -TimeoutSec 1 | Out-Null; Start-Sleep -Milliseconds 100 } catch { break }
            }
            $orphans = @(Get-Descendants $child.Id)
        }
        finally { & kill -9 $child.Id; $child.WaitForExit(10000) | Out-Null; foreach ($o in $orphans) { & kill -9 $o 2>$null } }

        { Invoke-WebRequest -Uri "http://127.0.0.1:$($Local.Port)/health" -TimeoutSec 2 } | Should-Throw
        Test-Path -LiteralPath $Local.Lock | Should-BeTrue
        (Get-Content -LiteralPath $journal -Raw) | Should-NotBeLikeString '*"step":"run","phase":"end"*'

        $r = $LocalTarget | Invoke-VaultDeployment -Artifact $Art['v1.3.0'].Artifact -Sha256 $Art['v1.3.0'].Sha256 -Force -WarningVariable warns -WarningAction SilentlyContinue
        $r.Status | Should-Be 'Succeeded'
        $r.VersionAfter | Should-Be '1.3.0'
        ($warns -join "`n") | Should-BeLikeString '*clearing a stale deployment lock*'
        # The dead run's journal is closed by the run that cleared its lock.
        (Get-Content -LiteralPath $journal -Raw) | Should-BeLikeString '*"step":"run","phase":"end","outcome":"Abandoned"*'
        Assert-Recovered $Local $before '1.3.0' $r
    }
}

Describe 'The lock held by another live run' {
    It 'refuses with DeploymentLocked and changes nothing' {
        $before = Get-WsState $Local
        $pidBefore = Get-Pm2Pid $Local
        $other = Start-Process -FilePath sleep -ArgumentList 300 -PassThru
        try {
            New-Item -ItemType Directory -Force -Path $Local.State | Out-Null
            $holder = "run=20990101T000000Z-0ther0 host=$([Environment]::MachineName) pid=$($other.Id) user=someone started=2099-01-01T00:00:00Z"
            Set-Content -LiteralPath $Local.Lock -Value $holder
            $r = $LocalTarget | Invoke-VaultDeployment -Artifact $Art['v1.3.0'].Artifact -Sha256 $Art['v1.3.0'].Sha256 -Force -ErrorVariable errs -ErrorAction SilentlyContinue
            $r.Status | Should-Be 'Failed'
            $r.ErrorId | Should-Be 'DeploymentLocked'
            $errs[0].FullyQualifiedErrorId | Should-BeLikeString 'DeploymentLocked,*'
            (Get-Content -LiteralPath $Local.Lock -Raw).Trim() | Should-Be $holder -Because 'another run''s lock is never taken, even with -Force'
            (Get-Pm2Pid $Local) | Should-Be $pidBefore
            $r.FailedProbes | Should-Be 0
            @(Get-ChildItem -LiteralPath "$($Local.State)/journal" -Filter *.jsonl | ForEach-Object FullName) | Should-BeCollection $before.Journals
            @(Get-ChildItem -LiteralPath "$($Local.Directory)/backups" -Directory | ForEach-Object FullName) | Should-BeCollection $before.Backups
        }
        finally { $other.Kill(); Remove-Item -LiteralPath $Local.Lock -ErrorAction Ignore }
        Assert-Recovered $Local $before '1.3.0' $null
    }
}

Describe 'A backend that ignores SIGTERM' {
    It 'is killed when the graceful stop times out, and the deployment still succeeds' {
        # PM2 stops apps with SIGINT, which the backend handles: a daemon started with PM2_KILL_SIGNAL=SIGTERM sends
        # SIGTERM (ignored here) and waits a kill_timeout far beyond the deployment's stop timeout, so only the
        # runner's forced kill can end the old process in time. A workspace of its own: that daemon and the .env line
        # would make every later stop of a shared one wait out its 30 s.
        $ws = New-StartedWorkspace 'sigterm'
        $target = New-WsTarget $ws
        Add-Content -LiteralPath "$($ws.App)/.env" -Value 'IGNORE_SIGTERM=1'
        [void](Invoke-TestPm2 -Workspace $ws.Pm2Ws -ArgumentList 'kill')
        Push-Location -LiteralPath $ws.App
        try {
            & /usr/bin/env -i 'PATH=/usr/local/bin:/usr/bin:/bin' "HOME=$($ws.Pm2Ws.Home)" "PM2_HOME=$($ws.Pm2Home)" 'PM2_KILL_SIGNAL=SIGTERM' /usr/bin/pm2 start dist/index.js `
                --name yieldvault-backend --cwd $ws.App --time --kill-timeout 45000 *> $null
        }
        finally { Pop-Location }
        $null = $target | Wait-VaultBackendHealthy -TimeoutSec 30
        $before = Get-WsState $ws
        $r = $target | Invoke-VaultDeployment -Artifact $Art['v1.3.0'].Artifact -Sha256 $Art['v1.3.0'].Sha256 -StopTimeoutSec 3 -WarningVariable warns -WarningAction SilentlyContinue
        $r.Status | Should-Be 'Succeeded'
        ($r.Steps | Where-Object Number -EQ 6).Detail | Should-BeLikeString '*killed after the graceful stop timed out*'
        ($r.Steps | Where-Object Number -EQ 6).Duration.TotalSeconds | Should-BeLessThan 20
        ($warns -join "`n") | Should-BeLikeString '*killing the process*'
        (Get-Content -LiteralPath "$($ws.Directory)/logs/backend.log" -Raw) | Should-BeLikeString '*Received SIGTERM, ignoring it*'
        Assert-Recovered $ws $before '1.3.0' $r
    }
}

Describe 'SSH faults' {
    It 'a wrong host key: HostKeyMismatch, and nothing runs on the server' {
        $before = Get-WsState $Remote
        $accepted = @(Select-String -LiteralPath $Sshd.LogFile -Pattern 'Accepted publickey').Count
        $target = New-WsTarget $Remote -Ssh -Extra @{ KnownHostsFile = $Sshd.WrongKnownHostsFile }
        $r = $target | Invoke-VaultDeployment -Ref v1.3.0 -ErrorVariable errs -ErrorAction SilentlyContinue
        $r | Should-BeNull
        $errs[0].FullyQualifiedErrorId | Should-BeLikeString 'HostKeyMismatch,*'
        @(Select-String -LiteralPath $Sshd.LogFile -Pattern 'Accepted publickey').Count | Should-Be $accepted -Because 'no login happened'
        @(Get-ChildItem -LiteralPath "$($Remote.State)/journal" -Filter *.jsonl -ErrorAction Ignore | ForEach-Object FullName) | Should-BeCollection $before.Journals
        Assert-Recovered $Remote $before '1.2.3' $null
    }

    It 'the connection cut after the stop (during the migration): rolled back over a new connection, the old version serves' {
        $before = Get-WsState $Remote
        $marker = 'yv-cut-' + [guid]::NewGuid().ToString('N').Substring(0, 8)
        # Once the migration (after the stop) runs, kill every session process of the test sshd but the listener:
        # the run's connection dies mid-command, and the next connection is accepted.
        $killer = Start-ThreadJob -ArgumentList $marker, $Sshd.Pid -ScriptBlock {
            param($marker, $sshdPid)
            $deadline = [DateTime]::UtcNow.AddSeconds(180)
            while ([DateTime]::UtcNow -lt $deadline -and -not (& pgrep -f $marker)) { Start-Sleep -Milliseconds 100 }
            $all = [Collections.Generic.List[int]]::new(); $all.Add($sshdPid)
            for ($i = 0; $i -lt $all.Count; $i++) { foreach ($c in @(& ps -o pid= --ppid $all[$i])) { $all.Add([int]$c.Trim()) } }
            $sessions = @($all | Select-Object -Skip 1)
            if ($sessions) { & /bin/kill -9 @sessions }
            "killed $($sessions -join ' ')"
        }
        try {
            $r = $SshTarget | Invoke-VaultDeployment -Artifact $Art['v1.3.0'].Artifact -Sha256 $Art['v1.3.0'].Sha256 -MigrationCommand 'sh', '-c', "sleep 60; : $marker" `
                -ErrorVariable errs -ErrorAction SilentlyContinue -WarningVariable warns -WarningAction SilentlyContinue
        }
        finally {
            $killed = $killer | Wait-Job -Timeout 200 | Receive-Job
            $killer | Remove-Job -Force
        }
        Write-Host "    cut after the stop: $killed; result $($r.Status) $($r.ErrorId), downtime $($r.DowntimeMs) ms: $($r.Error)"
        $killed | Should-BeLikeString 'killed [0-9]*'
        $r.Status | Should-Be 'RolledBack'
        $r.ErrorId | Should-Be 'ConnectionLost'
        ($r.Steps | Where-Object Number -EQ 6).Outcome | Should-Be 'Failed'
        $errs[0].FullyQualifiedErrorId | Should-BeLikeString 'DeploymentRolledBack,*'
        $r.VersionAfter | Should-Be '1.2.3'
        # The first deployment here adopted the plain app directory as a release; that release serves again.
        (& readlink -f -- $Remote.App) | Should-Be "$($Remote.App)-releases/releases/$($r.ReleaseBefore)"
        (Get-Content -LiteralPath $r.JournalPath -Raw) | Should-BeLikeString '*"step":"rollback","phase":"end","outcome":"Succeeded"*'
        Assert-Recovered $Remote $before '1.2.3' $r
    }

    It 'the connection cut while the release is prepared: the run reports it, the old version serves, the next run proceeds' {
        $before = Get-WsState $Remote
        # Kill sshd and every session under it once Step 4 runs: the TCP connection dies mid-command.
        $killer = Start-ThreadJob -ArgumentList $Remote.State, $before.Journals, $Sshd.Pid -ScriptBlock {
            param($state, $known, $sshdPid)
            $deadline = [DateTime]::UtcNow.AddSeconds(120)
            while ([DateTime]::UtcNow -lt $deadline) {
                $hit = Get-ChildItem -LiteralPath "$state/journal" -Filter *.jsonl -ErrorAction Ignore | Where-Object FullName -NotIn $known |
                    Where-Object { (Get-Content -LiteralPath $_.FullName -Raw) -match '"step":"Prepare new version \(old one serves\)","phase":"start"' }
                if ($hit) { break }
                Start-Sleep -Milliseconds 100
            }
            Start-Sleep -Milliseconds 1500
            $all = [Collections.Generic.List[int]]::new(); $all.Add($sshdPid)
            for ($i = 0; $i -lt $all.Count; $i++) { foreach ($c in @(& ps -o pid= --ppid $all[$i])) { $all.Add([int]$c.Trim()) } }
            & kill -9 @all
            "killed $($all -join ' ')"
        }
        try {
            $r = $SshTarget | Invoke-VaultDeployment -Ref v1.3.0 -ErrorVariable errs -ErrorAction SilentlyContinue -WarningVariable warns -WarningAction SilentlyContinue
        }
        finally {
            $killed = $killer | Wait-Job -Timeout 150 | Receive-Job
            $killer | Remove-Job -Force
            # A new sshd on the same port with the same keys and config.
            $new = Start-Process -FilePath /usr/sbin/sshd -ArgumentList '-D', '-f', $Sshd.ConfigFile, '-E', $Sshd.LogFile -PassThru `
                -RedirectStandardOutput (Join-Path $Root 'sshd2.out') -RedirectStandardError (Join-Path $Root 'sshd2.err')
            $Sshd.Pid = $new.Id
            $Sshd.Process = $new
            $deadline = [DateTime]::UtcNow.AddSeconds(15)
            while ([DateTime]::UtcNow -lt $deadline) {
                $c = [Net.Sockets.TcpClient]::new()
                try { if ($c.ConnectAsync('127.0.0.1', $Sshd.Port).Wait(300)) { break } } catch { Start-Sleep -Milliseconds 100 } finally { $c.Dispose() }
            }
        }
        Write-Host "    cut: $killed; result $($r.Status) $($r.ErrorId), probes $($r.Probes), failed $($r.FailedProbes), downtime $($r.DowntimeMs) ms: $($r.Error)`n    warnings: $($warns -join ' | ')"
        $r | Should-NotBeNull -Because 'a cut connection still gives the run a result'
        $r.Status | Should-Be 'Failed'
        # Mid-command the connection is lost; between two commands the reconnect is refused.
        $r.ErrorId | Should-MatchString '^(ConnectionLost|TargetUnreachable)$'
        $errs[0].FullyQualifiedErrorId | Should-BeLikeString "$($r.ErrorId),*"
        ($r.Steps | Where-Object Number -EQ 6).Outcome | Should-Be 'NotRun'
        (Get-Served $Remote).Version | Should-Be '1.2.3'
        # The prober's forward died with the connection: what it could not see is not downtime.
        $r.FailedProbes | Should-Be 0
        $r.DowntimeMs | Should-Be 0
        # Cleanup that needed the server is reported, and the run's own error kept.
        ($warns -join "`n") | Should-BeLikeString '*Could not remove the deployment lock*-Force*'

        $next = $SshTarget | Invoke-VaultDeployment -Artifact $Art['v1.3.0'].Artifact -Sha256 $Art['v1.3.0'].Sha256 -Force -WarningAction SilentlyContinue
        $next.Status | Should-Be 'Succeeded'
        # The cut run could not finish its journal; the run that cleared its lock did.
        (Get-Content -LiteralPath $r.JournalPath -Raw) | Should-BeLikeString '*"step":"run","phase":"end","outcome":"Abandoned"*'
        Assert-Recovered $Remote $before '1.3.0' $next
    }
}

Describe 'Guards before and after the stop' {
    BeforeAll {
        # Whatever the suites before left serving here, these start from v1.2.3 (an artifact of the same build).
        $reset = $LocalTarget | Invoke-VaultDeployment -Artifact $Art['v1.2.3'].Artifact -Sha256 $Art['v1.2.3'].Sha256 -StopTimeoutSec 5 -Force -Confirm:$false -WarningAction SilentlyContinue
        if ($reset.Status -ne 'Succeeded' -or (Get-Served $Local).Version -ne '1.2.3') { throw "Could not put v1.2.3 back: $($reset.Status) $($reset.Error)" }
    }

    It 'refuses to stop what could not be brought back (the current release lost its node_modules): RollbackNotReady, nothing stopped' {
        $before = Get-WsState $Local
        $current = [string](& readlink -f -- $Local.App)
        $pid0 = Get-Pm2Pid $Local
        Rename-Item -LiteralPath "$current/node_modules" -NewName 'node_modules.aside'
        try {
            $r = $LocalTarget | Invoke-VaultDeployment -Artifact $Art['v1.3.0'].Artifact -Sha256 $Art['v1.3.0'].Sha256 -Confirm:$false -ErrorVariable errs -ErrorAction SilentlyContinue
        }
        finally { Rename-Item -LiteralPath "$current/node_modules.aside" -NewName 'node_modules' }
        $r.Status | Should-Be 'Failed'
        $r.ErrorId | Should-Be 'RollbackNotReady'
        $r.Error | Should-BeLikeString '*has no node_modules*Nothing was stopped*'
        $errs[0].FullyQualifiedErrorId | Should-BeLikeString 'RollbackNotReady,*'
        ($r.Steps | Where-Object Number -EQ 6).Outcome | Should-Be 'NotRun'
        (Get-Pm2Pid $Local) | Should-Be $pid0 -Because 'the old version never stopped'
        $r.FailedProbes | Should-Be 0
        Assert-Recovered $Local $before '1.2.3' $r
    }

    It '-MaxDowntimeSec rolls back a release that does not serve in time instead of waiting out -HealthTimeoutSec: DowntimeBudgetExceeded' {
        $before = Get-WsState $Local
        $watch = [Diagnostics.Stopwatch]::StartNew()
        $r = $LocalTarget | Invoke-VaultDeployment -Artifact $Art['v1.3.1-broken'].Artifact -Sha256 $Art['v1.3.1-broken'].Sha256 -HealthTimeoutSec 120 -MaxDowntimeSec 4 `
            -Confirm:$false -ErrorAction SilentlyContinue -WarningAction SilentlyContinue
        $elapsed = $watch.Elapsed.TotalSeconds
        Write-Host "    -MaxDowntimeSec 4: rolled back after $([math]::Round($elapsed, 1)) s, downtime $($r.DowntimeMs) ms"
        $r.Status | Should-Be 'RolledBack'
        $r.ErrorId | Should-Be 'DowntimeBudgetExceeded'
        $elapsed | Should-BeLessThan 60 -Because 'the budget, not the 120 s health timeout, ended the wait'
        Assert-Recovered $Local $before '1.2.3' $r
    }

    It 'Undo refuses to go back past a deployment that applied migrations unless -Force: RollbackPredatesMigrations' {
        $d = $LocalTarget | Invoke-VaultDeployment -Artifact $Art['v1.3.0'].Artifact -Sha256 $Art['v1.3.0'].Sha256 -MigrationCommand 'sh', '-c', 'true' -Confirm:$false
        $d.Status | Should-Be 'Succeeded'
        $d.MigrationsApplied | Should-BeTrue
        (Get-VaultDeploymentHistory -Target $LocalTarget -Last 1).MigrationsApplied | Should-BeTrue
        $u = $LocalTarget | Undo-VaultDeployment -Confirm:$false -ErrorVariable errs -ErrorAction SilentlyContinue
        $u | Should-BeNull
        $errs[0].FullyQualifiedErrorId | Should-BeLikeString 'RollbackPredatesMigrations,*'
        (Get-Served $Local).Version | Should-Be '1.3.0' -Because 'nothing was changed'
        $forced = $LocalTarget | Undo-VaultDeployment -Force -WarningVariable warns -WarningAction SilentlyContinue
        $forced.Status | Should-Be 'Succeeded'
        ($warns -join "`n") | Should-BeLikeString '*applied database migrations*-Force given*'
        (Get-Served $Local).Version | Should-Be '1.2.3'
    }

    It 'the rollback fails too (the release to go back to lost its dist/ after the stop): Failed with both reasons, THE ROLLBACK FAILED, journaled; once whole again, a start serves it' {
        $before = Get-WsState $Local
        $current = $before.Current
        # The migration runs after the stop: it takes the previous release's built code away, then fails.
        try {
            $r = $LocalTarget | Invoke-VaultDeployment -Artifact $Art['v1.3.0'].Artifact -Sha256 $Art['v1.3.0'].Sha256 -Confirm:$false `
                -MigrationCommand 'sh', '-c', 'mv -- "$1/dist" "$1/dist.aside" && exit 3', 'sh', $current `
                -ErrorVariable errs -ErrorAction SilentlyContinue -WarningVariable warns -WarningAction SilentlyContinue
        }
        finally { if (Test-Path -LiteralPath "$current/dist.aside") { Rename-Item -LiteralPath "$current/dist.aside" -NewName 'dist' } }
        Write-Host "    rollback failed too: $($r.Status) $($r.ErrorId): $($r.Error)"
        $r.Status | Should-Be 'Failed'
        $r.ErrorId | Should-Be 'MigrationFailed'
        $r.Error | Should-BeLikeString '*exit code 3*The rollback failed too:*does not run: Pm2 says yieldvault-backend is Failed (errored)*of 60 s*'
        @($errs).Count | Should-Be 1
        $errs[0].FullyQualifiedErrorId | Should-BeLikeString 'MigrationFailed,*'
        ($warns -join "`n") | Should-BeLikeString '*THE ROLLBACK FAILED:*The backend may be down: check it now (Get-VaultBackendStatus).*'
        $journal = Get-Content -LiteralPath $r.JournalPath -Raw
        $journal | Should-BeLikeString '*"step":"rollback","phase":"end","outcome":"Failed"*'
        $journal | Should-MatchString '"step":"run","phase":"end","outcome":"Failed"'
        $code = try { (Invoke-WebRequest -Uri "http://127.0.0.1:$($Local.Port)/health" -TimeoutSec 5 -SkipHttpErrorCheck).StatusCode } catch { 0 }
        $code | Should-Be 0 -Because 'nothing serves: the rollback failed'
        (& readlink -f -- $Local.App) | Should-Be $current -Because 'the link went back before the start failed'
        Test-Path -LiteralPath $Local.Lock | Should-BeFalse

        # What the warning asks for, once the release is whole again: a start is the whole recovery.
        $s = $LocalTarget | Start-VaultBackend -Confirm:$false
        $s.Healthy | Should-BeTrue
        Assert-Recovered $Local $before '1.2.3' $r
    }
}

Describe 'A remote command that outlives its timeout' {
    It 'a migration still running at the target''s CommandTimeoutSec: CommandTimeout, its whole process group killed on the server before the rollback, rolled back' {
        $before = Get-WsState $Remote
        $n = Get-Random -Minimum 100000 -Maximum 999999
        $sleeps = "sleep 60[01]\.$n"
        $target = New-WsTarget $Remote -Ssh -Extra @{ CommandTimeoutSec = 10 }
        try {
            # A migration that never ends and ignores SIGTERM (like a tool that finishes its batch first), with a child of
            # its own in the background: closing the channel (OpenSSH's SIGTERM to the group) does not end them.
            $r = $target | Invoke-VaultDeployment -Artifact $Art['v1.3.0'].Artifact -Sha256 $Art['v1.3.0'].Sha256 -MigrationCommand 'sh', '-c', "trap '' TERM HUP; sleep 600.$n & sleep 601.$n; wait" `
                -ErrorVariable errs -ErrorAction SilentlyContinue -WarningVariable warns -WarningAction SilentlyContinue
            $left = @(& pgrep -f $sleeps)
        }
        finally { & pkill -9 -f $sleeps }
        Write-Host "    timeout: $($r.Status) $($r.ErrorId): $($r.Error)"
        $left.Count | Should-Be 0 -Because 'the migration and its child were killed on the server (their process group), not left running'
        $r.Status | Should-Be 'RolledBack'
        $r.ErrorId | Should-Be 'CommandTimeout'
        $r.Error | Should-BeLikeString '*did not finish within 10 s*; its process group on the server was killed*'
        $errs[0].FullyQualifiedErrorId | Should-BeLikeString 'DeploymentRolledBack,*'
        Assert-Recovered $Remote $before $before.Served.Version $r
    }
}

Describe 'A full disk' {
    It 'while the env file is backed up (BackupPath on a full tmpfs): EnvBackupIncomplete before anything stops, no cut copy kept' {
        $ws = Get-KillsWorkspace
        $mount = New-FullTmpfs 'full-backups' -Fill Bytes
        $target = New-WsTarget $ws -Extra @{ BackupPath = $mount }
        $before = Get-WsState $ws
        $pidBefore = Get-Pm2Pid $ws
        $r = $target | Invoke-VaultDeployment -Artifact $Art['v1.3.0'].Artifact -Sha256 $Art['v1.3.0'].Sha256 -ErrorVariable errs -ErrorAction SilentlyContinue
        $r.Status | Should-Be 'Failed'
        $r.ErrorId | Should-Be 'EnvBackupIncomplete'
        $r.Error | Should-BeLikeString '*0 of * bytes*'
        $errs[0].FullyQualifiedErrorId | Should-BeLikeString 'EnvBackupIncomplete,*'
        ($r.Steps | Where-Object Number -EQ 3).Outcome | Should-Be 'Failed'
        ($r.Steps | Where-Object Number -EQ 6).Outcome | Should-Be 'NotRun'
        $r.FailedProbes | Should-Be 0
        (Get-Pm2Pid $ws) | Should-Be $pidBefore
        @(Get-ChildItem -LiteralPath $mount -Recurse -Filter env.backup).Count | Should-Be 0 -Because 'no cut copy is left that a rollback could restore'
        Assert-Recovered $ws $before $before.Served.Version $r
    }

    It 'when the deployment lock is created (StatePath on a full tmpfs): LockFailed, nothing changed, no empty lock file left' {
        $ws = Get-KillsWorkspace
        $mount = New-FullTmpfs 'full-state' -Fill Bytes
        $target = New-WsTarget $ws -Extra @{ StatePath = $mount }
        $before = Get-WsState $ws
        $pidBefore = Get-Pm2Pid $ws
        $r = $target | Invoke-VaultDeployment -Artifact $Art['v1.3.0'].Artifact -Sha256 $Art['v1.3.0'].Sha256 -ErrorVariable errs -ErrorAction SilentlyContinue
        $r.Status | Should-Be 'Failed'
        $r.ErrorId | Should-Be 'LockFailed'
        $errs[0].FullyQualifiedErrorId | Should-BeLikeString 'LockFailed,*'
        ($r.Steps | Where-Object Number -EQ 2).Outcome | Should-Be 'Failed'
        ($r.Steps | Where-Object Number -EQ 3).Outcome | Should-Be 'NotRun'
        $r.FailedProbes | Should-Be 0
        (Get-Pm2Pid $ws) | Should-Be $pidBefore
        @(Get-ChildItem -LiteralPath $mount -Recurse -Force -Filter 'deploy.lock*' | ForEach-Object FullName) | Should-BeCollection @() -Because 'no lock (empty or not) and no temporary lock is left'
        @(Get-ChildItem -LiteralPath $mount -Recurse -Force -Filter '*.jsonl' | Where-Object Length -GT 0 | ForEach-Object FullName) | Should-BeCollection @() -Because 'no journal was opened (the full disk takes no record either)'
        Assert-Recovered $ws $before $before.Served.Version $null
    }

    It 'at the switch (the app link''s directory on a full tmpfs): ReleaseSwitchFailed, rolled back, the app path still points at the whole previous release' {
        # A target already under release management whose app path (a link) lives on a small tmpfs of its own; the
        # migration after the stop fills it, so the new link cannot be written.
        $ws = New-FaultWorkspace -Name 'switchfull'
        $ExtraWorkspaces.Add($ws)
        $releases = "$($ws.Directory)/app-releases"
        $name = '20200101T000000Z-' + (& git -C $ws.App rev-parse --short=7 HEAD) + '-adopted'
        New-Item -ItemType Directory -Path "$releases/releases", "$releases/shared" | Out-Null
        & mv -T -- $ws.App "$releases/releases/$name"
        & mv -- "$releases/releases/$name/.env" "$releases/shared/.env"
        & ln -s -- "$releases/shared/.env" "$releases/releases/$name/.env"
        $site = New-FullTmpfs 'switch-site' -Fill None
        & ln -s -- "$releases/releases/$name" "$site/app"
        $ws.App = "$site/app"
        $target = New-WsTarget $ws -Extra @{ ReleasesPath = $releases }
        $null = $target | Start-VaultBackend -Confirm:$false
        $before = Get-WsState $ws
        $fill = 'head -c 64m /dev/zero > "$1/.filler" 2>/dev/null; i=0; while touch "$1/.f$i" 2>/dev/null; do i=$((i+1)); done; exit 0'
        $r = $target | Invoke-VaultDeployment -Artifact $Art['v1.3.0'].Artifact -Sha256 $Art['v1.3.0'].Sha256 -MigrationCommand 'sh', '-c', $fill, 'sh', $site `
            -ErrorVariable errs -ErrorAction SilentlyContinue -WarningVariable warns -WarningAction SilentlyContinue
        Write-Host "    full disk at the switch: $($r.Status) $($r.ErrorId): $($r.Error)"
        (-split (& stat -f -c '%a %d' -- $site)) | Should-BeCollection @('0', '0') -Because 'the disk was full at the switch'
        $r.Status | Should-Be 'RolledBack'
        $r.ErrorId | Should-Be 'ReleaseSwitchFailed'
        $r.Error | Should-BeLikeString '*No space left on device*'
        $errs[0].FullyQualifiedErrorId | Should-BeLikeString 'DeploymentRolledBack,*'
        (& readlink -f -- $ws.App) | Should-Be "$releases/releases/$name" -Because 'the app path never pointed anywhere else'
        Test-Path -LiteralPath "$releases/releases/$name/dist/index.js" | Should-BeTrue
        Test-Path -LiteralPath "$($ws.App).yv-switch" | Should-BeFalse
        (Get-Content -LiteralPath $r.JournalPath -Raw) | Should-BeLikeString '*"step":"rollback","phase":"end","outcome":"Succeeded"*'
        Assert-Recovered $ws $before '1.2.3' $null
    }

    It 'Undo -RestoreEnvFile with a backup whose env copy no longer matches its recorded SHA-256: EnvBackupChecksumMismatch, nothing changed' {
        $ws = Get-ManagedKillsWorkspace
        $target = New-WsTarget $ws
        $backup = $target | Backup-VaultDeployment -Confirm:$false
        # The copy cut short after it was taken (what a full disk left in backups of earlier versions).
        $bytes = [IO.File]::ReadAllBytes($backup.EnvFileCopy)
        [IO.File]::WriteAllBytes($backup.EnvFileCopy, $bytes[0..([int]($bytes.Length / 2))])
        $before = Get-WsState $ws
        $pidBefore = Get-Pm2Pid $ws
        $r = $target | Undo-VaultDeployment -Backup $backup -RestoreEnvFile -Force -ErrorVariable errs -ErrorAction SilentlyContinue -WarningAction SilentlyContinue
        $r.Status | Should-Be 'Failed'
        $r.ErrorId | Should-Be 'EnvBackupChecksumMismatch'
        $errs[0].FullyQualifiedErrorId | Should-BeLikeString 'EnvBackupChecksumMismatch,*'
        (Get-Pm2Pid $ws) | Should-Be $pidBefore -Because 'nothing was stopped'
        Assert-Recovered $ws $before $before.Served.Version $r
        # What the refusal compared: the SHA-256 recorded on the backup and in its backup.json when it was taken.
        $backup.EnvFileSha256 | Should-Be $before.EnvHash.ToLowerInvariant()
        (Get-Content -LiteralPath "$($backup.Path)/backup.json" -Raw | ConvertFrom-Json).envFileSha256 | Should-Be $backup.EnvFileSha256
    }
}

Describe 'A kill at each point of a run: the next run repairs what it left' {
    It 'killed while it adopted the plain app directory (moved into releases/, not yet linked): the next run with -Force restores the link, deploys, and keeps the adopted release' {
        $ws = New-StartedWorkspace 'adopt'
        $before = Get-WsState $ws
        Test-Path -LiteralPath $ws.App -PathType Container | Should-BeTrue
        (Get-Item -LiteralPath $ws.App).LinkType | Should-BeNull -Because 'the app path is a plain checkout'
        $reached = Join-Path $Root 'adopt-reached'
        # The link of the adoption blocks (then the run is killed): the app directory has moved, the link is not made.
        $shims = New-BlockingShims @{ ln = "-s -- *-adopted $($ws.App)" } $reached
        Invoke-KilledRun $ws "`$t | Invoke-VaultDeployment -Artifact '$($Art['v1.3.0'].Artifact)' -Sha256 $($Art['v1.3.0'].Sha256) -Confirm:`$false" `
            -Until { Test-Path -LiteralPath $reached } -PathPrefix $shims
        Test-Path -LiteralPath $ws.App | Should-BeFalse -Because 'the run was killed between the move and the link'
        $adopted = @(Get-ChildItem -LiteralPath "$($ws.App)-releases/releases" -Directory -Filter '*-adopted')
        $adopted.Count | Should-Be 1
        (Get-Served $ws).Version | Should-Be '1.2.3' -Because 'the running process keeps its files'

        $r = New-WsTarget $ws | Invoke-VaultDeployment -Artifact $Art['v1.3.0'].Artifact -Sha256 $Art['v1.3.0'].Sha256 -Force -WarningVariable warns -WarningAction SilentlyContinue
        Write-Host "    after the adoption kill: $($r.Status) $($r.ErrorId) $($r.Error); warnings: $($warns -join ' | ')"
        $r.Status | Should-Be 'Succeeded'
        $r.VersionAfter | Should-Be '1.3.0'
        $r.ReleaseBefore | Should-Be $adopted[0].Name -Because 'the adopted checkout is the release that served'
        ($warns -join "`n") | Should-BeLikeString "*$($ws.App) was missing*link to that release is restored*"
        ($warns -join "`n") | Should-BeLikeString '*clearing a stale deployment lock*'
        (& readlink -f -- $ws.App) | Should-Be "$($ws.App)-releases/releases/$($r.ReleaseAfter)"
        Test-Path -LiteralPath "$($ws.App)-releases/releases/.yv-adopting" | Should-BeFalse
        # Get-WsState's Current was the plain directory; the same files are the adopted release now.
        Test-Path -LiteralPath "$($adopted[0].FullName)/package.json" | Should-BeTrue
        Assert-Recovered $ws $before '1.3.0' $r
    }

    It 'killed during git fetch (a ref lock left in the cache mirror): the next run with -Force removes the stale lock, fetches and deploys the tag' {
        $ws = Get-ManagedKillsWorkspace
        $origin = Join-Path $ws.Directory 'origin.git'
        $mirror = "$($ws.App)-releases/git-cache.git"
        if (-not (Test-Path -LiteralPath $mirror)) { & git clone --quiet --mirror -- $origin $mirror }
        # A branch the mirror has not seen, so the fetch updates a ref; git's reference-transaction hook runs while the
        # ref's lock is held, and blocks there once (the run is killed meanwhile, its git with it).
        $branch = 'kill-' + [guid]::NewGuid().ToString('N').Substring(0, 8)
        & git --git-dir=$origin branch $branch v1.3.0
        $reached = Join-Path $Root 'fetch-reached'
        Set-Content -LiteralPath "$mirror/hooks/reference-transaction" -Value @"
#!/bin/sh
[ "`$1" = prepared ] || exit 0
[ -e '$reached' ] && exit 0
: > '$reached'
exec sleep 600
"@
        & chmod 755 "$mirror/hooks/reference-transaction"
        $before = Get-WsState $ws
        try {
            Invoke-KilledRun $ws "`$t | Invoke-VaultDeployment -Ref v1.3.0 -Confirm:`$false" -Until { Test-Path -LiteralPath $reached } -TargetArguments "-Repository '$origin'"
        }
        finally { Remove-Item -LiteralPath "$mirror/hooks/reference-transaction" -ErrorAction Ignore }
        # The run is killed whole: a git child it started while its descendants were listed for the kill is killed too
        # (one that still names the mirror would rightly make the next run leave the lock in place).
        $late = @(Get-ChildItem -LiteralPath /proc -Directory -ErrorAction Ignore | Where-Object { $_.Name -match '^\d+$' -and $_.Name -ne "$PID" } | Where-Object {
                $p = $_.FullName
                @("$p/cmdline", "$p/environ" | ForEach-Object { try { [IO.File]::ReadAllText($_) } catch { '' } }) -join "`n" -like "*$mirror*"
            } | ForEach-Object Name)
        if ($late) {
            Write-Host "    killed run's processes still naming the mirror, killed now: $(($late | ForEach-Object { "$_ $((Get-Content -LiteralPath "/proc/$_/cmdline" -Raw -ErrorAction Ignore) -replace "`0", ' ')" }) -join '; ')"
            & kill -9 @late 2>$null
        }
        $locks = @(Get-ChildItem -LiteralPath $mirror -Recurse -Force -Filter '*.lock' | ForEach-Object { $_.FullName.Substring($mirror.Length + 1) })
        Write-Host "    left by the killed fetch: $($locks -join ', ')"
        $locks | Should-ContainCollection @("refs/heads/$branch.lock")
        (Get-Served $ws).Version | Should-Be $before.Served.Version -Because 'the fetch is before the stop'

        $r = New-WsTarget $ws -Extra @{ Repository = $origin } | Invoke-VaultDeployment -Ref v1.3.0 -Force -ErrorVariable errs -ErrorAction SilentlyContinue -WarningVariable warns -WarningAction SilentlyContinue
        Write-Host "    after the fetch kill: $($r.Status) $($r.ErrorId) $($r.Error); warnings: $($warns -join ' | ')"
        $r.Status | Should-Be 'Succeeded'
        $r.VersionAfter | Should-Be '1.3.0'
        ($warns -join "`n") | Should-BeLikeString "*removed 1 stale git lock file*refs/heads/$branch.lock*"
        @(Get-ChildItem -LiteralPath $mirror -Recurse -Force -Filter '*.lock').Count | Should-Be 0
        (& git --git-dir=$mirror rev-parse --verify --quiet "refs/heads/$branch") | Should-Be (& git --git-dir=$origin rev-parse 'v1.3.0^{commit}')
        Assert-Recovered $ws $before '1.3.0' $r
    }

    It 'killed before the link rename (the app path''s .yv-switch made, the old version stopped): the next run with -Force switches over the leftover, serves, and leaves none' {
        $ws = Get-ManagedKillsWorkspace
        $before = Get-WsState $ws
        $reached = Join-Path $Root 'switch-reached'
        $shims = New-BlockingShims @{ mv = '-Tf -- *.yv-switch *' } $reached
        Invoke-KilledRun $ws "`$t | Invoke-VaultDeployment -Artifact '$($Art['v1.3.0'].Artifact)' -Sha256 $($Art['v1.3.0'].Sha256) -Confirm:`$false" `
            -Until { Test-Path -LiteralPath $reached } -PathPrefix $shims
        Test-Path -LiteralPath "$($ws.App).yv-switch" | Should-BeTrue -Because 'the new link was made, not renamed'
        (& readlink -f -- $ws.App) | Should-Be $before.Current -Because 'the app path never changed'
        { Invoke-WebRequest -Uri "http://127.0.0.1:$($ws.Port)/health" -TimeoutSec 2 } | Should-Throw -Because 'the old version was stopped'

        $r = New-WsTarget $ws | Invoke-VaultDeployment -Artifact $Art['v1.3.0'].Artifact -Sha256 $Art['v1.3.0'].Sha256 -Force -WarningAction SilentlyContinue
        $r.Status | Should-Be 'Succeeded'
        (& readlink -f -- $ws.App) | Should-Be "$($ws.App)-releases/releases/$($r.ReleaseAfter)"
        Test-Path -LiteralPath "$($ws.App).yv-switch" | Should-BeFalse
        Assert-Recovered $ws $before '1.3.0' $r
    }

    It 'killed before the link rename, then Undo-VaultDeployment -Force: the release that served before the killed run starts again (not the one before it)' {
        $ws = Get-ManagedKillsWorkspace
        $before = Get-WsState $ws
        $reached = Join-Path $Root 'switch-undo-reached'
        $shims = New-BlockingShims @{ mv = '-Tf -- *.yv-switch *' } $reached
        Invoke-KilledRun $ws "`$t | Invoke-VaultDeployment -Artifact '$($Art['v1.3.0'].Artifact)' -Sha256 $($Art['v1.3.0'].Sha256) -Confirm:`$false" `
            -Until { Test-Path -LiteralPath $reached } -PathPrefix $shims
        (& readlink -f -- $ws.App) | Should-Be $before.Current

        $r = New-WsTarget $ws | Undo-VaultDeployment -Force -ErrorVariable errs -ErrorAction SilentlyContinue -WarningVariable warns -WarningAction SilentlyContinue
        Write-Host "    undo after the kill before the rename: $($r.Status) $($r.ReleaseBefore) -> $($r.ReleaseAfter); $($r.Error)"
        $r.Status | Should-Be 'Succeeded'
        (& readlink -f -- $ws.App) | Should-Be $before.Current -Because 'the killed run never switched: what served before it serves again'
        ($warns -join "`n") | Should-BeLikeString '*never switched releases*'
        Test-Path -LiteralPath "$($ws.App).yv-switch" | Should-BeFalse
        (Get-Content -LiteralPath $r.JournalPath -Raw) | Should-BeLikeString '*"step":"run","phase":"end","outcome":"Succeeded"*'
        Assert-Recovered $ws $before $before.Served.Version $null
    }
}
