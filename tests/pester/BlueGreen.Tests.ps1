# The runbook's Blue-Green Deployment with real nginx (Debian's, on 127.0.0.1 with its own prefix) in front of the
# sample backend under PM2, on this machine (nginx and PM2 as root) and over SSH (nginx and PM2 as the SSH user, who
# reloads nginx and writes its upstream file): deploy into the idle slot while the live one serves, switch, switch back,
# a broken green that never gets traffic, a refused nginx -t, Switch-VaultTraffic and Get-VaultTrafficState, and a
# pwsh killed in the middle of a deployment. The module's prober asks /health through nginx every 25 ms in every run:
# a blue-green run must see 0 failed probes. Releases are pre-built artifacts (Step 4 Option C) of the fixture's tags.
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestCommon.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot '../services/YieldVault.TestServices.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot '../services/Pm2.TestServices.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot '../services/Nginx.TestServices.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot '../services/SampleArtifacts.TestServices.psm1') -Force
    Import-Module (Get-VaultModuleManifest) -Force

    $script:Root = Join-Path ([IO.Path]::GetTempPath()) ('yv-bluegreen-' + [guid]::NewGuid().ToString('N').Substring(0, 8))
    [void][IO.Directory]::CreateDirectory($Root)
    [IO.File]::SetUnixFileMode($Root, [IO.UnixFileMode]'UserRead, UserWrite, UserExecute, GroupRead, GroupExecute, OtherRead, OtherExecute')
    $script:Origin = New-TestSampleOrigin -Directory $Root
    $script:Build = Start-TestSampleArtifacts -Origin $Origin -Directory $Root -Tags 'v1.3.0', 'v1.3.1-broken'
    $script:Postgres = Start-TestPostgres
    $script:Rpc = Start-TestStellarRpc
    $script:Sshd = Start-TestSshd
    $script:ApiKey = 'Planted-Api-Key-' + [guid]::NewGuid().ToString('N').Substring(0, 8)
    $script:Base = Wait-TestSampleBase $Build
    [void](Invoke-TestSampleMigration -Path $Base -DatabaseUrl $Postgres.DatabaseUrl)

    # A workspace: a v1.2.3 app (the runbook's plain layout) serving in place on the blue port under PM2, nginx in front
    # of it with an upstream file pointing at the blue port, and a blue-green target for it.
    function New-BlueGreenWorkspace([string] $Owner, [string] $Name, [switch] $Ssh) {
        $ws = New-TestPm2Workspace -User $Owner
        $dir = Join-Path $ws.Directory $Name
        New-Item -ItemType Directory -Path $dir | Out-Null
        $app = Join-Path $dir 'app'
        & cp -a -- $Base $app
        $blue = Get-FreeTcpPort
        $green = Get-FreeTcpPort
        @("PORT=$blue", 'NODE_ENV=production', "STELLAR_RPC_URL=$($Rpc.Url)", "DATABASE_URL=$($Postgres.DatabaseUrl)",
            'VAULT_CONTRACT_ID=CDLZFC3SYJYDZT7K67VZ75HPJVIEUVNIXF47ZG2FB2RMQQVU2HHGCYSC', "ADMIN_API_KEY=$ApiKey",
            "LOG_FILE=$dir/logs/backend.log", 'SHUTDOWN_DRAIN_MS=300') | Set-Content -LiteralPath (Join-Path $app '.env')
        & chmod 600 (Join-Path $app '.env')
        if ($Owner -ne 'root') { & chown -R "$Owner`:" $ws.Directory }
        $nginx = if ($Owner -ne 'root') { Start-TestNginx -InitialPort $blue -User $Owner } else { Start-TestNginx -InitialPort $blue }
        $p = @{
            Name = "bg-$Name"; Port = $blue; AppPath = $app; ServiceManager = 'Pm2'; Pm2Home = $ws.Pm2Home; MigrationPreset = 'None'
            LogPath = "$dir/logs/backend.log"; BackupPath = "$dir/backups"; StatePath = "$dir/state"
            Proxy = 'Nginx'; UpstreamFile = $nginx.UpstreamFile; UpstreamName = $nginx.UpstreamName; ProxyPort = $nginx.Port
            NginxConfig = $nginx.ConfigFile; BluePort = $blue; GreenPort = $green
        }
        if ($Ssh) {
            $p += @{ HostName = $Sshd.HostName; SshPort = $Sshd.Port; User = $Sshd.User; KeyFile = $Sshd.UserKeyFile; KnownHostsFile = $Sshd.KnownHostsFile; UseSudo = $false }
        }
        $target = New-VaultTarget @p
        $null = $target | Start-VaultBackend -Confirm:$false
        [pscustomobject]@{ Name = $Name; Directory = $dir; Root = $ws.Directory; Pm2Ws = $ws; App = $app; Blue = $blue; Green = $green; Nginx = $nginx; Target = $target
            State = "$dir/state/yieldvault-backend"; Lock = "$dir/state/yieldvault-backend/deploy.lock" }
    }

    # What nginx serves, asked the way a user would (no keep-alive, through nginx's own port).
    function Get-Served($Ws) {
        $health = Invoke-WebRequest -Uri "$($Ws.Nginx.Url)/health" -TimeoutSec 5 -SkipHttpErrorCheck -DisableKeepAlive
        $version = Invoke-RestMethod -Uri "$($Ws.Nginx.Url)/api/v1/version" -TimeoutSec 5 -DisableKeepAlive
        [pscustomobject]@{ Health = [int]$health.StatusCode; Version = $version.version; UpstreamPort = Get-TestNginxUpstreamPort $Ws.Nginx }
    }

    # A script for a child pwsh: the workspace's target made again there, then $Command on it ($t).
    function New-ChildScript($Ws, [string] $Command, [string] $Name) {
        $t = $Ws.Target
        $file = Join-Path $Ws.Root "$Name.ps1"
        Set-Content -LiteralPath $file -Value @"
`$ConfirmPreference = 'None'
Import-Module '$(Get-VaultModuleManifest)'
`$t = New-VaultTarget -Name '$($t.Name)' -Port $($Ws.Blue) -AppPath '$($Ws.App)' -ServiceManager Pm2 -Pm2Home '$($t.Pm2Home)' -MigrationPreset None ``
    -LogPath '$($t.LogPath)' -BackupPath '$($t.BackupPath)' -StatePath '$($t.StatePath)' -Proxy Nginx -UpstreamFile '$($Ws.Nginx.UpstreamFile)' ``
    -UpstreamName '$($Ws.Nginx.UpstreamName)' -ProxyPort $($Ws.Nginx.Port) -NginxConfig '$($Ws.Nginx.ConfigFile)' -BluePort $($Ws.Blue) -GreenPort $($Ws.Green)
$Command
"@
        $file
    }

    function Get-SlotApp($Ws, [int] $Port) {
        Get-TestPm2List -Workspace $Ws.Pm2Ws | Where-Object { $_.name -eq "yieldvault-backend-$Port" }
    }

    # Every run must end with a released lock, an untouched .env and a journal whose last line ends the run.
    function Assert-RunEnded($Ws, $Result, [string] $EnvHash) {
        Test-Path -LiteralPath $Ws.Lock | Should-BeFalse -Because 'the lock is released'
        (Get-FileHash -LiteralPath "$($Ws.App)/.env").Hash | Should-Be $EnvHash -Because 'the env file is untouched'
        $Result.JournalPath | Should-NotBeEmptyString
        (Get-Content -LiteralPath $Result.JournalPath | Select-Object -Last 1) | Should-BeLikeString '*"step":"run","phase":"end"*'
    }

    $script:Local = New-BlueGreenWorkspace -Owner root -Name local
    $script:Remote = New-BlueGreenWorkspace -Owner $Sshd.User -Name remote -Ssh
    $script:Art = Wait-TestSampleArtifacts $Build
    foreach ($a in $Art.Values) { [IO.File]::SetUnixFileMode($a.Artifact, [IO.UnixFileMode]'UserRead, UserWrite, GroupRead, OtherRead') }
    $script:LocalEnv = (Get-FileHash -LiteralPath "$($Local.App)/.env").Hash
    $script:RemoteEnv = (Get-FileHash -LiteralPath "$($Remote.App)/.env").Hash
}

AfterAll {
    foreach ($ws in $script:Local, $script:Remote) {
        if ($ws) {
            Stop-TestNginx $ws.Nginx -ErrorAction Continue
            Stop-TestPm2 -Workspace $ws.Pm2Ws -ErrorAction Continue
            Remove-Item -LiteralPath $ws.Root -Recurse -Force -ErrorAction Ignore
        }
    }
    if ($script:Build -and -not $Build.Process.HasExited) { $Build.Process.Kill($true) }
    if ($script:Sshd) { Stop-TestSshd $Sshd }
    if ($script:Rpc) { Stop-TestStellarRpc $Rpc }
    if ($script:Postgres) { Stop-TestPostgres $Postgres }
    if ($script:Root) { Remove-Item -LiteralPath $Root -Recurse -Force -ErrorAction Ignore }
    Stop-AllTestNginx
    Stop-AllTestServices
}

Describe 'A blue-green deployment on <Name>' -ForEach @(@{ Name = 'this machine'; Key = 'Local' }, @{ Name = 'SSH'; Key = 'Remote' }) {
    BeforeAll {
        $script:Ws = Get-Variable -Name $Key -Scope Script -ValueOnly
        $script:EnvHash = Get-Variable -Name "${Key}Env" -Scope Script -ValueOnly
        $script:T = $Ws.Target
    }

    It 'plans the blue-green steps under -WhatIf and changes nothing' {
        # Start-VaultBackend in the setup held the deployment lock, so the state directory exists: the plan must not add to it.
        $stateBefore = @(Get-ChildItem -LiteralPath $Ws.State -Recurse -Force -ErrorAction Ignore | ForEach-Object { "$($_.FullName) $($_.Length) $($_.LastWriteTimeUtc.Ticks)" })
        $transcript = Join-Path $Ws.Root 'whatif.txt'
        Start-Transcript -LiteralPath $transcript -UseMinimalHeader | Out-Null
        try { $result = $T | Invoke-VaultDeployment -Artifact $Art['v1.3.0'].Artifact -Sha256 $Art['v1.3.0'].Sha256 -WhatIf }
        finally { Stop-Transcript | Out-Null }
        $result | Should-BeNull
        $out = Get-Content -LiteralPath $transcript -Raw
        $out | Should-BeLikeString '*blue-green*'
        $out | Should-BeLikeString '*Step 6/10 Start new version in the idle slot*'
        $out | Should-BeLikeString "*Step 8/10 Switch traffic*nginx -t*"
        $out | Should-BeLikeString '*Step 9/10 Drain and stop previous slot*'
        (Get-Served $Ws).UpstreamPort | Should-Be $Ws.Blue
        $stateAfter = @(Get-ChildItem -LiteralPath $Ws.State -Recurse -Force -ErrorAction Ignore | ForEach-Object { "$($_.FullName) $($_.Length) $($_.LastWriteTimeUtc.Ticks)" })
        ($stateAfter -join "`n") | Should-Be ($stateBefore -join "`n") -Because 'a plan writes nothing on the host'
        Test-Path -LiteralPath $Ws.Lock | Should-BeFalse
        Test-Path -LiteralPath "$($Ws.State)/traffic.json" | Should-BeFalse -Because 'no slot was recorded'
    }

    It 'starts v1.3.0 in the green slot while blue serves, switches nginx with 0 failed probes, then stops blue' {
        $r = $T | Invoke-VaultDeployment -Artifact $Art['v1.3.0'].Artifact -Sha256 $Art['v1.3.0'].Sha256 -Confirm:$false -WarningAction SilentlyContinue
        Write-Host "    deploy ($($Ws.Name)): $([math]::Round($r.Duration.TotalSeconds, 2)) s, $($r.Probes) probes through nginx, $($r.FailedProbes) failed"
        $r.Status | Should-Be 'Succeeded'
        $r.Probes | Should-BeGreaterThan 20
        $r.FailedProbes | Should-Be 0
        $r.DowntimeMs | Should-Be 0
        $r.VersionBefore | Should-Be '1.2.3'
        $r.VersionAfter | Should-Be '1.3.0'
        $served = Get-Served $Ws
        $served.Version | Should-Be '1.3.0'
        $served.UpstreamPort | Should-Be $Ws.Green
        # PM2 resolves a linked directory once: the green app runs from its release's real directory.
        $app = Get-SlotApp $Ws $Ws.Green
        $app.pm2_env.status | Should-Be 'online'
        $app.pm2_env.pm_exec_path | Should-Be "$($Ws.App)-releases/releases/$($r.ReleaseAfter)/dist/index.js"
        $state = $T | Get-VaultTrafficState
        $state.Live | Should-Be 'Green'
        $state.Green.Status | Should-Be 'Running'
        $state.Green.Version | Should-Be '1.3.0'
        $state.Blue.Status | Should-Be 'Stopped'
        $state.Blue.Instance | Should-Be 'yieldvault-backend' -Because 'the service that ran in place is the blue slot'
        $state.ServedVersion | Should-Be '1.3.0'
        Assert-RunEnded $Ws $r $EnvHash
    }

    It 'rolls back by starting blue again and switching nginx back: 0 failed probes' {
        $u = $T | Undo-VaultDeployment -Force -WarningAction SilentlyContinue
        Write-Host "    undo, blue cold ($($Ws.Name)): $([math]::Round($u.Duration.TotalSeconds, 2)) s, $($u.FailedProbes) failed probes"
        $u.Status | Should-Be 'Succeeded'
        $u.Kind | Should-Be 'rollback'
        $u.FailedProbes | Should-Be 0
        $u.VersionAfter | Should-Be '1.2.3'
        ($u.Steps | Where-Object Number -EQ 2).Detail | Should-BeLikeString 'started yieldvault-backend;*'
        (Get-Served $Ws).Version | Should-Be '1.2.3'
        (Get-Served $Ws).UpstreamPort | Should-Be $Ws.Blue
        (Get-SlotApp $Ws $Ws.Green).pm2_env.status | Should-Be 'stopped'
        Assert-RunEnded $Ws $u $EnvHash
    }

    It 'with -KeepPrevious keeps blue warm, and the rollback is one switch: no start, 0 failed probes' {
        $r = $T | Invoke-VaultDeployment -Artifact $Art['v1.3.0'].Artifact -Sha256 $Art['v1.3.0'].Sha256 -KeepPrevious -Confirm:$false -WarningAction SilentlyContinue
        $r.Status | Should-Be 'Succeeded'
        $r.FailedProbes | Should-Be 0
        ($T | Get-VaultTrafficState).Blue.Warm | Should-BeTrue
        $watch = [Diagnostics.Stopwatch]::StartNew()
        $u = $T | Undo-VaultDeployment -Force -WarningAction SilentlyContinue
        $served = Get-Served $Ws
        Write-Host "    undo, blue warm ($($Ws.Name)): switch step $([math]::Round(($u.Steps | Where-Object Number -EQ 3).Duration.TotalMilliseconds)) ms, whole run $([math]::Round($watch.Elapsed.TotalSeconds, 2)) s"
        $u.Status | Should-Be 'Succeeded'
        $u.FailedProbes | Should-Be 0
        ($u.Steps | Where-Object Number -EQ 2).Detail | Should-BeLikeString '*was running (warm)*'
        # nginx runs as the target's user here: its old workers get their QUIT as soon as a new worker runs, not after
        # the master's 100 ms sleep (in which an idle old worker still takes new connections to the slot left).
        ($u.Steps | Where-Object Number -EQ 3).Detail | Should-BeLikeString '*old workers told to stop * ms later (a new worker ran), old workers gone*'
        @(Get-TestNginxWorkers $Ws.Nginx | Where-Object Title -Like '*shutting down*').Count | Should-Be 0
        $served.Version | Should-Be '1.2.3'
        Assert-RunEnded $Ws $u $EnvHash
    }

    It 'Switch-VaultTraffic refuses a slot that does not run (SlotNotRunning) and changes nothing' {
        $before = Get-Served $Ws
        $r = $T | Switch-VaultTraffic -To Green -Force -ErrorVariable errs -ErrorAction SilentlyContinue
        $r.Status | Should-Be 'Failed'
        $r.ErrorId | Should-Be 'SlotNotRunning'
        $errs[0].FullyQualifiedErrorId | Should-Be 'SlotNotRunning,YieldVault.Ops.Commands.SwitchVaultTrafficCommand'
        $r.FailedProbes | Should-Be 0
        (Get-Served $Ws).UpstreamPort | Should-Be $before.UpstreamPort
    }

    It 'a green whose /health fails never gets traffic: Failed (HealthCheckTimeout), 0 failed probes, blue serves on' {
        $r = $T | Invoke-VaultDeployment -Artifact $Art['v1.3.1-broken'].Artifact -Sha256 $Art['v1.3.1-broken'].Sha256 -HealthTimeoutSec 4 -Confirm:$false `
            -ErrorVariable errs -ErrorAction SilentlyContinue -WarningAction SilentlyContinue
        $r.Status | Should-Be 'Failed'
        $r.ErrorId | Should-Be 'HealthCheckTimeout'
        $errs[0].FullyQualifiedErrorId | Should-BeLikeString 'HealthCheckTimeout,*'
        $r.FailedProbes | Should-Be 0
        ($r.Steps | Where-Object Number -EQ 7).Outcome | Should-Be 'Failed'
        ($r.Steps | Where-Object Number -EQ 8).Outcome | Should-Be 'NotRun'
        $served = Get-Served $Ws
        $served.Version | Should-Be '1.2.3'
        $served.UpstreamPort | Should-Be $Ws.Blue
        (Get-SlotApp $Ws $Ws.Green).pm2_env.status | Should-Be 'stopped'
        Assert-RunEnded $Ws $r $EnvHash
    }

    It 'Undo does not switch to a slot whose deployment failed (NoPreviousSlot)' {
        $u = $T | Undo-VaultDeployment -Force -ErrorVariable errs -ErrorAction SilentlyContinue
        $u.Status | Should-Be 'Failed'
        $u.ErrorId | Should-Be 'NoPreviousSlot'
        (Get-Served $Ws).Version | Should-Be '1.2.3'
    }
}

Describe 'Blue-green failures on this machine' {
    It 'nginx -t refuses the new upstream: ProxyConfigInvalid, the upstream file is put back, green stopped, 0 failed probes' {
        # An upstream name that nginx's proxy_pass does not use: nginx -t fails on the unknown host.
        $p = @{}
        foreach ($prop in 'Name', 'Port', 'AppPath', 'ServiceManager', 'Pm2Home', 'MigrationPreset', 'LogPath', 'BackupPath', 'StatePath', 'Proxy', 'UpstreamFile', 'ProxyPort', 'NginxConfig', 'BluePort', 'GreenPort') {
            $p[$prop] = $Local.Target.$prop
        }
        $wrong = New-VaultTarget @p -UpstreamName 'not_the_upstream'
        $before = Get-Content -LiteralPath $Local.Nginx.UpstreamFile -Raw
        $r = $wrong | Invoke-VaultDeployment -Artifact $Art['v1.3.0'].Artifact -Sha256 $Art['v1.3.0'].Sha256 -Confirm:$false -ErrorVariable errs -ErrorAction SilentlyContinue -WarningAction SilentlyContinue
        $r.Status | Should-Be 'Failed'
        $r.ErrorId | Should-Be 'ProxyConfigInvalid'
        $r.Error | Should-BeLikeString '*previous upstream file is back*'
        $r.FailedProbes | Should-Be 0
        (Get-Content -LiteralPath $Local.Nginx.UpstreamFile -Raw) | Should-Be $before
        (Get-Served $Local).Version | Should-Be '1.2.3'
        (Get-SlotApp $Local $Local.Green).pm2_env.status | Should-Be 'stopped'
        Assert-RunEnded $Local $r $LocalEnv
    }

    It 'a pwsh killed in the middle of a deployment leaves exactly one slot serving through nginx; the next run repairs' {
        $journals = @(Get-ChildItem -LiteralPath "$($Local.State)/journal" -Filter *.jsonl | ForEach-Object FullName)
        $file = New-ChildScript $Local "`$t | Invoke-VaultDeployment -Artifact '$($Art['v1.3.0'].Artifact)' -Sha256 '$($Art['v1.3.0'].Sha256)' -Confirm:`$false -KeepPrevious" 'killed'
        $child = Start-Process -FilePath (Get-PwshPath) -ArgumentList '-NoProfile', '-NonInteractive', '-File', $file -PassThru `
            -RedirectStandardOutput (Join-Path $Local.Root 'killed.out') -RedirectStandardError (Join-Path $Local.Root 'killed.err')
        # Kill it once the new slot runs and the switch starts: the most delicate moment.
        $deadline = [DateTime]::UtcNow.AddSeconds(120)
        $hit = $null
        while (-not $hit -and [DateTime]::UtcNow -lt $deadline -and -not $child.HasExited) {
            $hit = Get-ChildItem -LiteralPath "$($Local.State)/journal" -Filter *.jsonl | Where-Object FullName -NotIn $journals |
                Where-Object { (Get-Content -LiteralPath $_.FullName -Raw) -match '"step":"Switch traffic","phase":"start"' }
            Start-Sleep -Milliseconds 20
        }
        $hit | Should-NotBeNull -Because 'the run reached the switch'
        $child.Kill($true)
        $child.WaitForExit(10000) | Should-BeTrue
        Start-Sleep -Milliseconds 500

        # Exactly one slot serves: nginx answers healthy, with one and the same version, every time.
        $answers = foreach ($i in 1..20) { Get-Served $Local }
        @($answers | Where-Object Health -NE 200).Count | Should-Be 0
        @($answers.Version | Sort-Object -Unique).Count | Should-Be 1
        ($answers[0].Version -in '1.2.3', '1.3.0') | Should-BeTrue
        Write-Host "    killed at the switch: nginx serves $($answers[0].Version); the upstream file names port $(Get-TestNginxUpstreamPort $Local.Nginx) (blue $($Local.Blue), green $($Local.Green))"

        # The next run clears the dead run's lock and deploys; its journal closes the dead one.
        $next = $Local.Target | Invoke-VaultDeployment -Artifact $Art['v1.3.0'].Artifact -Sha256 $Art['v1.3.0'].Sha256 -Force -Confirm:$false -WarningAction SilentlyContinue
        $next.Status | Should-Be 'Succeeded'
        $next.FailedProbes | Should-Be 0
        $served = Get-Served $Local
        $served.Version | Should-Be '1.3.0'
        ($Local.Target | Get-VaultTrafficState).LivePort | Should-Be $served.UpstreamPort
        (Get-Content -LiteralPath $hit.FullName -Raw) | Should-BeLikeString '*"step":"run","phase":"end","outcome":"Abandoned"*'
    }
}

# Ctrl+C as a terminal sends it: SIGINT to the pwsh running the cmdlet (env resets SIGINT to its default, which a shell
# may have set to ignored for background commands). A workspace of its own: v1.3.0 live in green, v1.2.3 warm in blue.
Describe 'Ctrl+C during a blue-green run on this machine' {
    BeforeAll {
        Import-Module (Join-Path $PSScriptRoot 'FaultsCommon.psm1') -Function 'Wait-Journal', 'Get-Descendants' -Force
        $script:C = New-BlueGreenWorkspace -Owner root -Name ctrlc
        $script:CEnv = (Get-FileHash -LiteralPath "$($C.App)/.env").Hash
        $r = $C.Target | Invoke-VaultDeployment -Artifact $Art['v1.3.0'].Artifact -Sha256 $Art['v1.3.0'].Sha256 -KeepPrevious -Confirm:$false -WarningAction SilentlyContinue
        $r.Status | Should-Be 'Succeeded'

        # Runs $Command in a child pwsh, sends it SIGINT once $When says so, then runs $AfterInt; returns what it said
        # (Said, its warnings also printed) and its run's journal (Journal: the new one, not in $Known, once it has ended).
        function Invoke-CtrlC([string] $Command, [string] $Name, [string[]] $Known, [scriptblock] $When, [scriptblock] $AfterInt = {}) {
            $file = New-ChildScript $C $Command $Name
            $child = Start-Process -FilePath env -ArgumentList '--default-signal=INT', (Get-PwshPath), '-NoProfile', '-NonInteractive', '-File', $file -PassThru `
                -RedirectStandardOutput "$file.out" -RedirectStandardError "$file.err"
            try {
                $deadline = [DateTime]::UtcNow.AddSeconds(120)
                while (-not (& $When) -and [DateTime]::UtcNow -lt $deadline -and -not $child.HasExited) { Start-Sleep -Milliseconds 10 }
                $child.HasExited | Should-BeFalse -Because "the run was to be interrupted in the middle: $(Get-Content -LiteralPath "$file.out", "$file.err" -Raw -ErrorAction Ignore)"
                & kill -INT $child.Id
                & $AfterInt
                $ended = $child.WaitForExit(150000)
            }
            finally {
                if (-not $child.HasExited) { & kill -9 $child.Id @(Get-Descendants $child.Id) 2>$null; $child.WaitForExit(10000) | Out-Null }
            }
            $said = (Get-Content -LiteralPath "$file.out", "$file.err" -Raw -ErrorAction Ignore) -join "`n"
            $ended | Should-BeTrue -Because "the pwsh ends after Ctrl+C: $said"
            $said = $said -replace '\e\[[0-9;]*m', ''
            Write-Host ($said -split "`n" | Where-Object { $_ -match 'WARNING' } | ForEach-Object { "      $_" } | Out-String)
            $journal = Wait-Journal $C $Known '"step":"run","phase":"end"' -TimeoutSec 10
            [pscustomobject]@{ Said = $said; Journal = Get-Content -LiteralPath $journal -Raw }
        }

        # Invoke-CtrlC with the Ctrl+C inside a switch to the Blue slot: a request whose headers never end keeps nginx's
        # old worker (and so the switch command, which waits for it) busy, so the Ctrl+C lands while the switch command
        # runs, after the upstream file has moved; the request is let go a second later.
        function Invoke-CtrlCInSwitch([string] $Command, [string] $Name, [string[]] $Known) {
            $held = [Net.Sockets.TcpClient]::new('127.0.0.1', $C.Nginx.Port)
            try {
                $bytes = [Text.Encoding]::ASCII.GetBytes("GET /health HTTP/1.1`r`nHost: 127.0.0.1`r`n")
                $held.GetStream().Write($bytes, 0, $bytes.Length)
                Start-Sleep -Milliseconds 300
                Invoke-CtrlC $Command $Name $Known { (Get-TestNginxUpstreamPort $C.Nginx) -eq $C.Blue } {
                    Start-Sleep -Seconds 1
                    $held.Dispose()
                }
            }
            finally { $held.Dispose() }
        }

        # nginx answers /health 20 times in a row, healthy, with one version: the one expected (/health carries the
        # version; /api/* is rate-limited per client by the sample backend).
        function Assert-Serves([string] $Version, [int] $Port) {
            $answers = foreach ($i in 1..20) {
                $h = Invoke-WebRequest -Uri "$($C.Nginx.Url)/health" -TimeoutSec 5 -SkipHttpErrorCheck -DisableKeepAlive
                [pscustomobject]@{ Health = [int]$h.StatusCode; Version = ($h.Content | ConvertFrom-Json).version }
            }
            @($answers | Where-Object Health -NE 200).Count | Should-Be 0
            $versions = @($answers.Version | Sort-Object -Unique)
            $versions.Count | Should-Be 1
            $versions[0] | Should-Be $Version
            Get-TestNginxUpstreamPort $C.Nginx | Should-Be $Port
            ($C.Target | Get-VaultTrafficState).LivePort | Should-Be $Port
        }
    }

    AfterAll {
        if ($script:C) {
            Stop-TestNginx $C.Nginx -ErrorAction Continue
            Stop-TestPm2 -Workspace $C.Pm2Ws -ErrorAction Continue
            Remove-Item -LiteralPath $C.Root -Recurse -Force -ErrorAction Ignore
        }
    }

    It 'during Switch-VaultTraffic, after the switch began: the switch ends, then traffic goes back to the slot that served; Cancelled' {
        Assert-Serves '1.3.0' $C.Green
        $known = @(Get-ChildItem -LiteralPath "$($C.State)/journal" -Filter *.jsonl | ForEach-Object FullName)
        $run = Invoke-CtrlCInSwitch '$t | Switch-VaultTraffic -To Blue -Force' 'switch-ctrlc' $known
        $text = $run.Journal
        $said = $run.Said
        $text | Should-BeLikeString '*"step":"Switch traffic","phase":"end","outcome":"Failed"*"detail":"stopped by the user (Ctrl+C)"*'
        $text | Should-BeLikeString '*"step":"cancel","phase":"start"*'
        $text | Should-BeLikeString '*"step":"run","phase":"end","outcome":"Cancelled",*"detail":"stopped by the user (Ctrl+C); rolled back: 1.3.0 serves again"*'
        $said | Should-BeLikeString "*Ctrl+C after nginx's reload, before it was verified: switching traffic back to the Green slot first*"
        $said | Should-BeLikeString '*Switching traffic back to the Green slot*'
        $said | Should-BeLikeString '*after Ctrl+C the previous version (1.3.0) serves again*'
        Assert-Serves '1.3.0' $C.Green
        Test-Path -LiteralPath $C.Lock | Should-BeFalse -Because 'the lock is released'
        (Invoke-WebRequest -Uri "http://127.0.0.1:$($C.Blue)/health" -TimeoutSec 5 -SkipHttpErrorCheck -DisableKeepAlive).StatusCode |
            Should-Be 200 -Because 'the slot traffic was to go to still runs, warm'
    }

    It 'during a blue-green deployment, while the new version is checked in the idle slot: it is stopped, nginx never switches; Cancelled' {
        Assert-Serves '1.3.0' $C.Green
        $known = @(Get-ChildItem -LiteralPath "$($C.State)/journal" -Filter *.jsonl | ForEach-Object FullName)
        $upstream = Get-Content -LiteralPath $C.Nginx.UpstreamFile -Raw
        # v1.3.1-broken never answers healthy: the Ctrl+C lands while the deployment waits for it in the idle slot.
        $run = Invoke-CtrlC "`$t | Invoke-VaultDeployment -Artifact '$($Art['v1.3.1-broken'].Artifact)' -Sha256 '$($Art['v1.3.1-broken'].Sha256)' -HealthTimeoutSec 60 -Confirm:`$false" 'deploy-ctrlc' $known {
            @(Get-ChildItem -LiteralPath "$($C.State)/journal" -Filter *.jsonl | Where-Object FullName -NotIn $known |
                Where-Object { (Get-Content -LiteralPath $_.FullName -Raw) -match '"step":"Verify new version on its own port","phase":"start"' }).Count -gt 0
        }
        $text = $run.Journal
        $said = $run.Said
        $text | Should-BeLikeString '*"step":"cancel","phase":"start","detail":"Ctrl+C before the switch: stopping the new version in the Blue slot first (it never got traffic)"*'
        $text | Should-BeLikeString '*"step":"run","phase":"end","outcome":"Cancelled",*"detail":"stopped by the user (Ctrl+C); the new version in the Blue slot (yieldvault-backend-*) was stopped before any traffic reached it; 1.3.0 serves on in the Green slot"*'
        $text | Should-NotBeLikeString '*"step":"Switch traffic"*'
        $said | Should-BeLikeString '*after Ctrl+C the new version in the Blue slot * was stopped before any traffic reached it; 1.3.0 serves on in the Green slot*'
        $said | Should-NotBeLikeString '*could not be brought back*'
        (Get-Content -LiteralPath $C.Nginx.UpstreamFile -Raw) | Should-Be $upstream -Because 'nginx was never switched'
        Assert-Serves '1.3.0' $C.Green
        (Get-SlotApp $C $C.Blue).pm2_env.status | Should-Be 'stopped' -Because 'the new version never got traffic and was stopped'
        ($C.Target | Get-VaultTrafficState).Blue.Warm | Should-BeFalse
        Test-Path -LiteralPath $C.Lock | Should-BeFalse -Because 'the lock is released'
        (Get-FileHash -LiteralPath "$($C.App)/.env").Hash | Should-Be $CEnv
    }

    It 'during a blue-green deployment, after nginx''s reload and before it is verified: the switch ends, traffic goes back, the new slot stops; Cancelled' {
        Assert-Serves '1.3.0' $C.Green
        $known = @(Get-ChildItem -LiteralPath "$($C.State)/journal" -Filter *.jsonl | ForEach-Object FullName)
        # The same version again, as a new release in the Blue slot: where traffic goes is told by nginx's upstream port.
        $run = Invoke-CtrlCInSwitch "`$t | Invoke-VaultDeployment -Artifact '$($Art['v1.3.0'].Artifact)' -Sha256 '$($Art['v1.3.0'].Sha256)' -Confirm:`$false" 'deploy-switch-ctrlc' $known
        $text = $run.Journal
        $said = $run.Said
        $text | Should-BeLikeString '*"step":"Switch traffic","phase":"end","outcome":"Failed"*"detail":"stopped by the user (Ctrl+C)"*'
        $text | Should-BeLikeString "*`"step`":`"cancel`",`"phase`":`"start`",`"detail`":`"Ctrl+C after nginx's reload, before it was verified: switching traffic back to the Green slot first`"*"
        $text | Should-BeLikeString '*"step":"rollback","phase":"end","outcome":"Succeeded"*'
        $text | Should-BeLikeString '*"step":"run","phase":"end","outcome":"Cancelled",*"detail":"stopped by the user (Ctrl+C); rolled back: 1.3.0 serves again"*'
        $said | Should-BeLikeString '*after Ctrl+C the previous version (1.3.0) serves again*'
        Assert-Serves '1.3.0' $C.Green
        (Get-SlotApp $C $C.Blue).pm2_env.status | Should-Be 'stopped' -Because 'the version traffic was taken back from is stopped'
        ($C.Target | Get-VaultTrafficState).Blue.Warm | Should-BeFalse
        Test-Path -LiteralPath $C.Lock | Should-BeFalse -Because 'the lock is released'
        (Get-FileHash -LiteralPath "$($C.App)/.env").Hash | Should-Be $CEnv
    }
}
