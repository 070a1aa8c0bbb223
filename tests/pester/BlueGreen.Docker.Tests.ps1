# The runbook's Blue-Green Deployment for Docker targets, with real nginx (Debian's, on 127.0.0.1 with its own prefix)
# in front of the sample backend's container, on this machine (the engine's unix socket; nginx as root) and over real
# SSH as yvops (docker group; docker system dial-stdio over the target's connection; nginx runs as yvops, who reloads it
# and writes its upstream file). A container per slot (<service>-<port>) is made like the live one: on the host's
# network its PORT is the slot's port; on a bridge network the live port's binding is published at the slot's port.
# The module's prober asks /health through nginx every 25 ms in every run: a blue-green run must see 0 failed probes.
# Images are built here from the cached backend image (no pulls); this file removes only its own containers and images.
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestCommon.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot '../services/YieldVault.TestServices.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot '../services/Docker.TestServices.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot '../services/PlainBackend.TestServices.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot '../services/Nginx.TestServices.psm1') -Force
    Import-Module (Get-VaultModuleManifest) -Force

    $script:Dockerd = Start-TestDockerd
    [void](Grant-TestDockerAccess -User yvops)
    $script:Sshd = Start-TestSshd
    $script:Postgres = Start-TestPostgres
    $script:Rpc = Start-TestStellarRpc
    [void](New-TestBackendImage)
    [void](Invoke-TestBackendImageMigration -DatabaseUrl $Postgres.DatabaseUrl)

    $script:Run = Get-TestDockerRunId
    $script:V123 = New-TestBackendImageVariant -Tag "yieldvault-backend:v1.2.3-bg-$Run" -Version 1.2.3
    $script:V130 = New-TestBackendImageVariant -Tag "yieldvault-backend:v1.3.0-bg-$Run" -Version 1.3.0
    $script:V131 = New-TestBackendImageVariant -Tag "yieldvault-backend:v1.3.1-bg-$Run" -Version 1.3.1 -Broken
    $script:ApiKey = 'Planted-Api-Key-' + [guid]::NewGuid().ToString('N').Substring(0, 12)
    $script:Root = Join-Path ([IO.Path]::GetTempPath()) "yv-bgdocker-$Run"
    [void][IO.Directory]::CreateDirectory($Root)
    & chmod 755 $Root

    # A workspace per transport: the app dir with its .env (0600, owned by whoever deploys), logs/ (mounted into the
    # containers at the same path), backups/, state/; the service's container running v1.2.3 on the host's network on
    # the blue port (restart unless-stopped, like the runbook's docker run); nginx in front of it (upstream: the blue
    # port); and a blue-green target for it.
    function New-BlueGreenDockerWorkspace([string] $Key, [string] $Owner) {
        $dir = Join-Path $Root $Key
        foreach ($d in 'app', 'logs', 'backups', 'state') { [void][IO.Directory]::CreateDirectory((Join-Path $dir $d)) }
        & chmod 755 $dir
        $blue = Get-FreeTcpPort
        $green = Get-FreeTcpPort
        $envVars = [ordered]@{
            PORT = "$blue"; NODE_ENV = 'production'; STELLAR_RPC_URL = $Rpc.Url; DATABASE_URL = $Postgres.DatabaseUrl
            VAULT_CONTRACT_ID = 'CDLZFC3SYJYDZT7K67VZ75HPJVIEUVNIXF47ZG2FB2RMQQVU2HHGCYSC'; ADMIN_API_KEY = $ApiKey
            LOG_FILE = "$dir/logs/backend.log"; SHUTDOWN_DRAIN_MS = '300'
            # Every request reaches the backend from 127.0.0.1 (nginx's, the module's checks, this file's): the sample's
            # default of 60 /api/ requests a minute per address would be the budget of all of them, and its 429s would
            # read as "no version in the answer".
            RATE_LIMIT_MAX = '100000'
        }
        $envFile = Join-Path $dir 'app/.env'
        Set-Content -LiteralPath $envFile -Value (@($envVars.Keys | ForEach-Object { "$_=$($envVars[$_])" }) -join "`n")
        & chmod 600 $envFile
        if ($Owner -ne 'root') { & chown -R "$Owner`:" $dir }
        $service = "yv-bg-$Run-$Key"
        $environment = @{}
        foreach ($k in $envVars.Keys) { if ($k -ne 'PORT') { $environment[$k] = $envVars[$k] } }
        $container = Start-TestBackendContainer -Name $service -Port $blue -Environment $environment -RestartPolicy unless-stopped -Image $V123.Tag -Volume "$dir/logs:$dir/logs"
        $nginx = if ($Owner -ne 'root') { Start-TestNginx -InitialPort $blue -User $Owner } else { Start-TestNginx -InitialPort $blue }
        $p = @{
            Name = "bgd-$Key"; ServiceManager = 'Docker'; ServiceName = $service; Port = $blue; AppPath = "$dir/app"; MigrationPreset = 'None'
            LogPath = "$dir/logs/backend.log"; BackupPath = "$dir/backups"; StatePath = "$dir/state"
            Proxy = 'Nginx'; UpstreamFile = $nginx.UpstreamFile; UpstreamName = $nginx.UpstreamName; ProxyPort = $nginx.Port
            NginxConfig = $nginx.ConfigFile; BluePort = $blue; GreenPort = $green
        }
        if ($Key -eq 'ssh') {
            $p += @{ HostName = $Sshd.HostName; SshPort = $Sshd.Port; User = $Sshd.User; KeyFile = $Sshd.UserKeyFile; KnownHostsFile = $Sshd.KnownHostsFile; ConnectTimeoutSec = 5; UseSudo = $false }
        }
        [pscustomobject]@{
            Key = $Key; Directory = $dir; Service = $service; OriginalId = $container.Id; Blue = $blue; Green = $green; Nginx = $nginx
            Target = (New-VaultTarget @p); EnvFile = $envFile; State = "$dir/state/$service"; Lock = "$dir/state/$service/deploy.lock"
        }
    }

    # docker inspect of one container (the CLI, not the module), or $null.
    function Get-Container([string] $Name) {
        $json = & docker container inspect $Name 2>$null
        if ($LASTEXITCODE -ne 0) { return $null }
        ($json | ConvertFrom-Json)[0]
    }

    # The names of the service's containers, sorted.
    function Get-ServiceContainerNames([string] $Service) {
        @(& docker ps -a --filter "name=^$Service(-|$)" --format '{{.Names}}' | Where-Object { $_ } | Sort-Object)
    }

    # What nginx serves, asked the way a user would (no keep-alive, through nginx's own port).
    function Get-Served($Ws) {
        $health = Invoke-WebRequest -Uri "$($Ws.Nginx.Url)/health" -TimeoutSec 5 -SkipHttpErrorCheck -DisableKeepAlive
        $version = Invoke-RestMethod -Uri "$($Ws.Nginx.Url)/api/v1/version" -TimeoutSec 5 -DisableKeepAlive
        [pscustomobject]@{ Health = [int]$health.StatusCode; Version = $version.version; Commit = $version.commit; UpstreamPort = Get-TestNginxUpstreamPort $Ws.Nginx }
    }

    # Every run must end with a released lock, an untouched .env and a journal whose last line ends the run.
    function Assert-RunEnded($Ws, $Result, [string] $EnvHash) {
        Test-Path -LiteralPath $Ws.Lock | Should-BeFalse -Because 'the lock is released'
        (Get-FileHash -LiteralPath $Ws.EnvFile).Hash | Should-Be $EnvHash -Because 'the env file is untouched'
        $Result.JournalPath | Should-NotBeEmptyString
        (Get-Content -LiteralPath $Result.JournalPath | Select-Object -Last 1) | Should-BeLikeString '*"step":"run","phase":"end"*'
    }

    $script:Local = New-BlueGreenDockerWorkspace -Key local -Owner root
    $script:Remote = New-BlueGreenDockerWorkspace -Key ssh -Owner $Sshd.User
    $script:LocalEnv = (Get-FileHash -LiteralPath $Local.EnvFile).Hash
    $script:RemoteEnv = (Get-FileHash -LiteralPath $Remote.EnvFile).Hash
}

AfterAll {
    foreach ($ws in $script:Local, $script:Remote, $script:Bridge) {
        if ($ws) { Stop-TestNginx $ws.Nginx -ErrorAction Continue }
    }
    # Only what this run made: its containers (run label; the slots' containers carry it from their images), then its images.
    Remove-AllTestDockerResources
    Remove-TestBackendImageVariant
    if ($script:Root -and (Test-Path -LiteralPath $Root)) { Remove-Item -LiteralPath $Root -Recurse -Force }
    if ($script:Sshd) { Stop-TestSshd $Sshd }
    if ($script:Rpc) { Stop-TestStellarRpc $Rpc }
    if ($script:Postgres) { Stop-TestPostgres $Postgres }
    Stop-AllTestNginx
}

# The Its run in order on one service per transport: v1.2.3 serves in place (the container <service> on the blue port).
Describe 'A blue-green Docker deployment over <Name>' -ForEach @(@{ Name = 'the local engine'; Key = 'Local' }, @{ Name = 'SSH'; Key = 'Remote' }) {
    BeforeAll {
        $script:Ws = Get-Variable -Name $Key -Scope Script -ValueOnly
        $script:EnvHash = Get-Variable -Name "${Key}Env" -Scope Script -ValueOnly
        $script:T = $Ws.Target
        (Get-Served $Ws).Version | Should-Be '1.2.3'
    }

    It 'plans the blue-green Docker steps under -WhatIf and changes nothing' {
        $before = Get-Container $Ws.Service
        $transcript = Join-Path $Ws.Directory 'whatif.txt'
        [void](Start-Transcript -LiteralPath $transcript -UseMinimalHeader)
        try { $result = $T | Invoke-VaultDeployment -Image $V130.Tag -WhatIf } finally { [void](Stop-Transcript) }
        $out = ((Get-Content -LiteralPath $transcript) -join ' ') -replace '\s+', ' '
        Remove-Item -LiteralPath $transcript
        $result | Should-BeNull
        $out | Should-BeLikeString '*blue-green*'
        $out | Should-BeLikeString "*Step 6/10 Start new version in the idle slot*docker create + start $($Ws.Service)-<idle port>*"
        $out | Should-BeLikeString '*Step 8/10 Switch traffic*nginx -t*'
        Get-ServiceContainerNames $Ws.Service | Should-BeCollection @($Ws.Service)
        (Get-Container $Ws.Service).State.StartedAt | Should-Be $before.State.StartedAt
        (Get-Served $Ws).UpstreamPort | Should-Be $Ws.Blue
        Test-Path -LiteralPath $Ws.State | Should-BeFalse -Because 'a plan writes nothing on the host'
    }

    It 'starts v1.3.0 in the green slot''s container while blue serves, switches nginx with 0 failed probes, then stops blue' {
        $r = $T | Invoke-VaultDeployment -Image $V130.Tag -Confirm:$false -WarningAction SilentlyContinue
        Write-Host "    deploy ($($Ws.Key)): $([math]::Round($r.Duration.TotalSeconds, 2)) s, $($r.Probes) probes through nginx, $($r.FailedProbes) failed; switch step $([math]::Round(($r.Steps | Where-Object Number -EQ 8).Duration.TotalMilliseconds)) ms"
        $r.Status | Should-Be 'Succeeded'
        $r.Probes | Should-BeGreaterThan 20
        $r.FailedProbes | Should-Be 0
        $r.DowntimeMs | Should-Be 0
        $r.VersionBefore | Should-Be '1.2.3'
        $r.VersionAfter | Should-Be '1.3.0'
        $r.CommitAfter | Should-Be $V130.Commit
        $r.ReleaseBefore | Should-Be $V123.Tag
        $r.ReleaseAfter | Should-Be $V130.Tag
        $served = Get-Served $Ws
        $served.Version | Should-Be '1.3.0'
        $served.Commit | Should-Be $V130.Commit
        $served.UpstreamPort | Should-Be $Ws.Green

        # The green slot is a container of its own, made like the live one but answering on the green port.
        $green = Get-Container "$($Ws.Service)-$($Ws.Green)"
        $green.State.Running | Should-BeTrue
        $green.Config.Image | Should-Be $V130.Tag
        $green.HostConfig.NetworkMode | Should-Be 'host'
        $green.HostConfig.RestartPolicy.Name | Should-Be 'unless-stopped'
        $green.HostConfig.Binds | Should-ContainCollection @("$($Ws.Directory)/logs:$($Ws.Directory)/logs")
        $green.Config.Env | Should-ContainCollection @("PORT=$($Ws.Green)", "ADMIN_API_KEY=$ApiKey") -IgnoreOrder
        $green.Config.Labels.'yieldvault-ops.service' | Should-Be $Ws.Service
        # The container that ran in place is the blue slot: stopped after the drain, kept for the switch back.
        $blue = Get-Container $Ws.Service
        $blue.Id | Should-Be $Ws.OriginalId
        $blue.State.Running | Should-BeFalse
        Get-ServiceContainerNames $Ws.Service | Should-BeCollection @($Ws.Service, "$($Ws.Service)-$($Ws.Green)")

        $state = $T | Get-VaultTrafficState
        $state.Live | Should-Be 'Green'
        $state.LivePort | Should-Be $Ws.Green
        $state.Green.Instance | Should-Be "$($Ws.Service)-$($Ws.Green)"
        $state.Green.Status | Should-Be 'Running'
        $state.Green.Healthy | Should-BeTrue
        $state.Green.Version | Should-Be '1.3.0'
        $state.Green.Release | Should-Be $V130.Tag
        $state.Blue.Instance | Should-Be $Ws.Service -Because 'the container that ran in place is the blue slot'
        $state.Blue.Status | Should-Be 'Stopped'
        $state.Blue.Warm | Should-BeFalse
        $state.ServedVersion | Should-Be '1.3.0'
        Assert-RunEnded $Ws $r $EnvHash
    }

    It 'rolls back by starting blue''s container again and switching nginx back: 0 failed probes' {
        $u = $T | Undo-VaultDeployment -Force -WarningAction SilentlyContinue
        Write-Host "    undo, blue cold ($($Ws.Key)): $([math]::Round($u.Duration.TotalSeconds, 2)) s, $($u.Probes) probes, $($u.FailedProbes) failed"
        $u.Status | Should-Be 'Succeeded'
        $u.Kind | Should-Be 'rollback'
        $u.FailedProbes | Should-Be 0
        $u.VersionBefore | Should-Be '1.3.0'
        $u.VersionAfter | Should-Be '1.2.3'
        ($u.Steps | Where-Object Number -EQ 2).Detail | Should-BeLikeString "started $($Ws.Service);*"
        $served = Get-Served $Ws
        $served.Version | Should-Be '1.2.3'
        $served.Commit | Should-Be $V123.Commit
        $served.UpstreamPort | Should-Be $Ws.Blue
        $blue = Get-Container $Ws.Service
        $blue.Id | Should-Be $Ws.OriginalId
        $blue.State.Running | Should-BeTrue
        (Get-Container "$($Ws.Service)-$($Ws.Green)").State.Running | Should-BeFalse
        Assert-RunEnded $Ws $u $EnvHash
    }

    It 'with -KeepPrevious keeps blue''s container warm, and the rollback is one switch: no start, 0 failed probes' {
        $blueStarted = (Get-Container $Ws.Service).State.StartedAt
        $r = $T | Invoke-VaultDeployment -Image $V130.Tag -KeepPrevious -Confirm:$false -WarningAction SilentlyContinue
        $r.Status | Should-Be 'Succeeded'
        $r.FailedProbes | Should-Be 0
        (Get-Served $Ws).Version | Should-Be '1.3.0'
        $state = $T | Get-VaultTrafficState
        $state.Live | Should-Be 'Green'
        $state.Blue.Warm | Should-BeTrue
        $state.Blue.Status | Should-Be 'Running'
        $state.Blue.Version | Should-Be '1.2.3'
        $watch = [Diagnostics.Stopwatch]::StartNew()
        $u = $T | Undo-VaultDeployment -Force -KeepPrevious -WarningAction SilentlyContinue
        $elapsed = $watch.Elapsed.TotalSeconds
        $served = Get-Served $Ws
        Write-Host "    deploy -KeepPrevious ($($Ws.Key)): $([math]::Round($r.Duration.TotalSeconds, 2)) s, $($r.FailedProbes)/$($r.Probes) failed; undo, blue warm: switch step $([math]::Round(($u.Steps | Where-Object Number -EQ 3).Duration.TotalMilliseconds)) ms, whole run $([math]::Round($elapsed, 2)) s, $($u.FailedProbes)/$($u.Probes) failed"
        $u.Status | Should-Be 'Succeeded'
        $u.FailedProbes | Should-Be 0
        ($u.Steps | Where-Object Number -EQ 2).Detail | Should-BeLikeString '*was running (warm)*'
        $served.Version | Should-Be '1.2.3'
        $served.UpstreamPort | Should-Be $Ws.Blue
        (Get-Container $Ws.Service).State.StartedAt | Should-Be $blueStarted -Because 'a warm slot is switched to, not started'
        # -KeepPrevious on the undo: green stays warm too, for a switch forward.
        (Get-Container "$($Ws.Service)-$($Ws.Green)").State.Running | Should-BeTrue
        ($T | Get-VaultTrafficState).Green.Warm | Should-BeTrue
        Assert-RunEnded $Ws $u $EnvHash
    }

    It 'Switch-VaultTraffic -To Green goes forward to the warm container and back: 0 failed probes' {
        $to = $T | Switch-VaultTraffic -To Green -Force -WarningAction SilentlyContinue
        $to.Status | Should-Be 'Succeeded'
        $to.FailedProbes | Should-Be 0
        (Get-Served $Ws).Version | Should-Be '1.3.0'
        $back = $T | Switch-VaultTraffic -To Blue -Force -WarningAction SilentlyContinue
        $back.Status | Should-Be 'Succeeded'
        $back.FailedProbes | Should-Be 0
        Write-Host "    Switch-VaultTraffic ($($Ws.Key)): to green $([math]::Round($to.Duration.TotalSeconds, 2)) s, back $([math]::Round($back.Duration.TotalSeconds, 2)) s, $($to.Probes + $back.Probes) probes, $($to.FailedProbes + $back.FailedProbes) failed"
        (Get-Served $Ws).Version | Should-Be '1.2.3'
        Assert-RunEnded $Ws $back $EnvHash
    }

    It 'a green container whose /health fails never gets traffic: Failed (HealthCheckTimeout), 0 failed probes, blue serves on' {
        $blueBefore = Get-Container $Ws.Service
        $r = $T | Invoke-VaultDeployment -Image $V131.Tag -HealthTimeoutSec 4 -StopTimeoutSec 10 -Confirm:$false `
            -ErrorVariable errs -ErrorAction SilentlyContinue -WarningAction SilentlyContinue
        Write-Host "    broken green ($($Ws.Key)): $([math]::Round($r.Duration.TotalSeconds, 2)) s (health timeout 4 s), $($r.Probes) probes, $($r.FailedProbes) failed"
        $r.Status | Should-Be 'Failed'
        $r.ErrorId | Should-Be 'HealthCheckTimeout'
        $errs[0].FullyQualifiedErrorId | Should-BeLikeString 'HealthCheckTimeout,*'
        $r.FailedProbes | Should-Be 0
        $r.VersionAfter | Should-Be '1.2.3'
        ($r.Steps | Where-Object Number -EQ 7).Outcome | Should-Be 'Failed'
        ($r.Steps | Where-Object Number -EQ 8).Outcome | Should-Be 'NotRun'
        $served = Get-Served $Ws
        $served.Health | Should-Be 200
        $served.Version | Should-Be '1.2.3'
        $served.UpstreamPort | Should-Be $Ws.Blue
        # The old container serves on, never stopped; the broken one is kept, stopped, for its log.
        $blue = Get-Container $Ws.Service
        $blue.Id | Should-Be $Ws.OriginalId
        $blue.State.Running | Should-BeTrue
        $blue.State.StartedAt | Should-Be $blueBefore.State.StartedAt
        $broken = Get-Container "$($Ws.Service)-$($Ws.Green)"
        $broken.Config.Image | Should-Be $V131.Tag
        $broken.State.Running | Should-BeFalse
        $state = $T | Get-VaultTrafficState
        $state.Live | Should-Be 'Blue'
        $state.Green.Status | Should-Be 'Stopped'
        $state.Green.Warm | Should-BeFalse
        Assert-RunEnded $Ws $r $EnvHash
    }

    It 'Undo does not switch to a slot whose deployment failed (NoPreviousSlot), and blue serves on' {
        $u = $T | Undo-VaultDeployment -Force -ErrorVariable errs -ErrorAction SilentlyContinue
        $u.Status | Should-Be 'Failed'
        $u.ErrorId | Should-Be 'NoPreviousSlot'
        $errs[0].FullyQualifiedErrorId | Should-Be 'NoPreviousSlot,YieldVault.Ops.Commands.UndoVaultDeploymentCommand'
        $u.FailedProbes | Should-Be 0
        (Get-Served $Ws).Version | Should-Be '1.2.3'
        (Get-Container $Ws.Service).State.Running | Should-BeTrue
    }

    It 'alternates slots: v1.3.0 into green, then v1.2.3 into blue, where a container made like green''s replaces the one that ran in place; 0 failed probes' {
        $toGreen = $T | Invoke-VaultDeployment -Image $V130.Tag -Confirm:$false -WarningAction SilentlyContinue
        $toGreen.Status | Should-Be 'Succeeded'
        $toGreen.FailedProbes | Should-Be 0
        (Get-Container "$($Ws.Service)-$($Ws.Green)").Config.Image | Should-Be $V130.Tag -Because 'the failed green container made way for the new one'
        $toBlue = $T | Invoke-VaultDeployment -Image $V123.Tag -Confirm:$false -WarningAction SilentlyContinue
        Write-Host "    green then blue ($($Ws.Key)): $([math]::Round($toGreen.Duration.TotalSeconds, 2)) s and $([math]::Round($toBlue.Duration.TotalSeconds, 2)) s, $($toGreen.FailedProbes + $toBlue.FailedProbes)/$($toGreen.Probes + $toBlue.Probes) failed probes"
        $toBlue.Status | Should-Be 'Succeeded'
        $toBlue.FailedProbes | Should-Be 0
        $toBlue.VersionBefore | Should-Be '1.3.0'
        $toBlue.VersionAfter | Should-Be '1.2.3'
        $served = Get-Served $Ws
        $served.Version | Should-Be '1.2.3'
        $served.UpstreamPort | Should-Be $Ws.Blue
        # The container that ran in place is gone; blue is now a slot container like green's, on the blue port.
        Get-ServiceContainerNames $Ws.Service | Should-BeCollection @("$($Ws.Service)-$($Ws.Blue)", "$($Ws.Service)-$($Ws.Green)")
        $blue = Get-Container "$($Ws.Service)-$($Ws.Blue)"
        $blue.State.Running | Should-BeTrue
        $blue.Config.Image | Should-Be $V123.Tag
        $blue.HostConfig.NetworkMode | Should-Be 'host'
        $blue.Config.Env | Should-ContainCollection @("PORT=$($Ws.Blue)") -IgnoreOrder
        (Get-Container "$($Ws.Service)-$($Ws.Green)").State.Running | Should-BeFalse
        $state = $T | Get-VaultTrafficState
        $state.Blue.Instance | Should-Be "$($Ws.Service)-$($Ws.Blue)"
        $state.Blue.Version | Should-Be '1.2.3'
        $state.Green.Version | Should-Be '1.3.0'
        # And back to green, which is stopped: Undo starts it first.
        $u = $T | Undo-VaultDeployment -Force -WarningAction SilentlyContinue
        $u.Status | Should-Be 'Succeeded'
        $u.FailedProbes | Should-Be 0
        (Get-Served $Ws).Version | Should-Be '1.3.0'
        Assert-RunEnded $Ws $u $EnvHash
    }
}

# A container on Docker's bridge network, published at 127.0.0.1:<blue port>: the green slot's container publishes the
# same container port at the green port. The plain backend (tests/fixtures/plain-backend: /healthz, no database, version
# only in the image's labels) is used here because on a bridge network the container's 127.0.0.1 is its own, so the
# sample backend could not reach PostgreSQL there and would never be healthy.
Describe 'A blue-green deployment of a bridge-network container (published port) on the local engine' {
    BeforeAll {
        $script:PlainOrigin = New-TestPlainOrigin -Directory (Join-Path $Root 'plain-origin')
        $script:Plain = @{}
        foreach ($ref in 'v2.0.0', 'v2.1.0', 'v2.1.1-broken') {
            $Plain[$ref] = New-TestPlainImage -Origin $PlainOrigin -Ref $ref -Tag "yv-plain:$ref-bg-$Run" -Base 'yieldvault-backend:v1.2.3-test' -RunId $Run
        }
        $dir = Join-Path $Root 'bridge'
        foreach ($d in 'app', 'logs', 'backups', 'state') { [void][IO.Directory]::CreateDirectory((Join-Path $dir $d)) }
        $blue = Get-FreeTcpPort
        $green = Get-FreeTcpPort
        $token = 'Planted-Plain-Token-' + [guid]::NewGuid().ToString('N').Substring(0, 12)
        # What Start-TestBackendContainer -PublishPort runs: HOST=0.0.0.0, PORT=3000, -p 127.0.0.1:<blue>:3000.
        Set-Content -LiteralPath "$dir/app/.env" -Value "PORT=3000`nHOST=0.0.0.0`nAPI_TOKEN=$token`n"
        & chmod 600 "$dir/app/.env"
        $service = "yv-bg-$Run-bridge"
        $container = Start-TestBackendContainer -Name $service -PublishPort $blue -Image $Plain['v2.0.0'].Tag -Environment @{ API_TOKEN = $token } -RestartPolicy unless-stopped -NoWait
        $nginx = Start-TestNginx -InitialPort $blue
        $script:Bridge = [pscustomobject]@{
            Key = 'bridge'; Directory = $dir; Service = $service; OriginalId = $container.Id; Blue = $blue; Green = $green; Nginx = $nginx
            EnvFile = "$dir/app/.env"; State = "$dir/state/$service"; Lock = "$dir/state/$service/deploy.lock"
            Target = New-VaultTarget -Name 'bgd-bridge' -ServiceManager Docker -ServiceName $service -Port $blue -AppPath "$dir/app" -MigrationPreset None `
                -HealthPath '/healthz' -ReadyPath '' -VersionPath '' -RequiredVariables PORT -SmokePreset None -StartupMarkers 'listening on port {Port}' `
                -LogPath "$dir/logs/not-a-file.log" -BackupPath "$dir/backups" -StatePath "$dir/state" `
                -Proxy Nginx -UpstreamFile $nginx.UpstreamFile -UpstreamName $nginx.UpstreamName -ProxyPort $nginx.Port -NginxConfig $nginx.ConfigFile -BluePort $blue -GreenPort $green
        }
        $script:BridgeEnv = (Get-FileHash -LiteralPath $Bridge.EnvFile).Hash

        # What nginx serves: /healthz and the features of / (a release adds to them), no keep-alive.
        function Get-PlainServed {
            $health = Invoke-WebRequest -Uri "$($Bridge.Nginx.Url)/healthz" -TimeoutSec 5 -SkipHttpErrorCheck -DisableKeepAlive
            $root = Invoke-RestMethod -Uri "$($Bridge.Nginx.Url)/" -TimeoutSec 5 -DisableKeepAlive
            [pscustomobject]@{ Health = [int]$health.StatusCode; Features = @($root.features); UpstreamPort = Get-TestNginxUpstreamPort $Bridge.Nginx }
        }
        $deadline = [DateTime]::UtcNow.AddSeconds(20)
        for ($i = 0; $i -lt 200 -and [DateTime]::UtcNow -lt $deadline; $i++) {
            try { if ((Get-PlainServed).Health -eq 200) { break } } catch { Write-Verbose "not serving yet: $_" }
            Start-Sleep -Milliseconds 100
        }
        (Get-PlainServed).Health | Should-Be 200
    }

    It 'starts v2.1.0 in a green container that publishes the same container port at the green port; 0 failed probes' {
        $r = $Bridge.Target | Invoke-VaultDeployment -Image $Plain['v2.1.0'].Tag -Confirm:$false -WarningAction SilentlyContinue
        Write-Host "    deploy (bridge): $([math]::Round($r.Duration.TotalSeconds, 2)) s, $($r.Probes) probes through nginx, $($r.FailedProbes) failed"
        $r.Status | Should-Be 'Succeeded'
        $r.Probes | Should-BeGreaterThan 20
        $r.FailedProbes | Should-Be 0
        $r.VersionBefore | Should-Be '2.0.0'
        $r.VersionAfter | Should-Be '2.1.0'
        $served = Get-PlainServed
        $served.Features | Should-ContainCollection @('greetings')
        $served.UpstreamPort | Should-Be $Bridge.Green
        $green = Get-Container "$($Bridge.Service)-$($Bridge.Green)"
        $green.State.Running | Should-BeTrue
        $green.Config.Image | Should-Be $Plain['v2.1.0'].Tag
        $green.HostConfig.NetworkMode -in 'host', 'none' | Should-BeFalse
        $green.HostConfig.PortBindings.'3000/tcp'[0].HostIp | Should-Be '127.0.0.1'
        $green.HostConfig.PortBindings.'3000/tcp'[0].HostPort | Should-Be "$($Bridge.Green)"
        $green.Config.Env | Should-ContainCollection @('PORT=3000', 'HOST=0.0.0.0') -IgnoreOrder
        # The live container's binding is untouched.
        $blue = Get-Container $Bridge.Service
        $blue.Id | Should-Be $Bridge.OriginalId
        $blue.HostConfig.PortBindings.'3000/tcp'[0].HostPort | Should-Be "$($Bridge.Blue)"
        $blue.State.Running | Should-BeFalse
        $state = $Bridge.Target | Get-VaultTrafficState
        $state.Live | Should-Be 'Green'
        $state.Green.Version | Should-Be '2.1.0'
        Assert-RunEnded $Bridge $r $BridgeEnv
    }

    It 'rolls back by starting the original bridge container (published at the blue port) and switching back: 0 failed probes' {
        $u = $Bridge.Target | Undo-VaultDeployment -Force -WarningAction SilentlyContinue
        Write-Host "    undo, blue cold (bridge): $([math]::Round($u.Duration.TotalSeconds, 2)) s, $($u.Probes) probes, $($u.FailedProbes) failed"
        $u.Status | Should-Be 'Succeeded'
        $u.FailedProbes | Should-Be 0
        $u.VersionAfter | Should-Be '2.0.0'
        $served = Get-PlainServed
        $served.Health | Should-Be 200
        $served.Features -contains 'greetings' | Should-BeFalse
        $served.UpstreamPort | Should-Be $Bridge.Blue
        $blue = Get-Container $Bridge.Service
        $blue.Id | Should-Be $Bridge.OriginalId
        $blue.State.Running | Should-BeTrue
        (Get-Container "$($Bridge.Service)-$($Bridge.Green)").State.Running | Should-BeFalse
        Assert-RunEnded $Bridge $u $BridgeEnv
    }

    It 'a broken green container (its /healthz answers 503) never gets traffic: Failed, 0 failed probes, blue serves on' {
        $r = $Bridge.Target | Invoke-VaultDeployment -Image $Plain['v2.1.1-broken'].Tag -HealthTimeoutSec 4 -Confirm:$false -ErrorAction SilentlyContinue -WarningAction SilentlyContinue
        Write-Host "    broken green (bridge): $([math]::Round($r.Duration.TotalSeconds, 2)) s, $($r.FailedProbes)/$($r.Probes) failed probes"
        $r.Status | Should-Be 'Failed'
        $r.ErrorId | Should-Be 'HealthCheckTimeout'
        $r.FailedProbes | Should-Be 0
        $served = Get-PlainServed
        $served.Health | Should-Be 200
        $served.UpstreamPort | Should-Be $Bridge.Blue
        (Get-Container $Bridge.Service).State.Running | Should-BeTrue
        $broken = Get-Container "$($Bridge.Service)-$($Bridge.Green)"
        $broken.Config.Image | Should-Be $Plain['v2.1.1-broken'].Tag
        $broken.State.Running | Should-BeFalse
        Assert-RunEnded $Bridge $r $BridgeEnv
    }

    It 'alternates slots: v2.1.0 into green, then v2.0.0 into blue, whose container publishes green''s binding at the blue port; 0 failed probes' {
        $toGreen = $Bridge.Target | Invoke-VaultDeployment -Image $Plain['v2.1.0'].Tag -Confirm:$false -WarningAction SilentlyContinue
        $toGreen.Status | Should-Be 'Succeeded'
        $toGreen.FailedProbes | Should-Be 0
        $toBlue = $Bridge.Target | Invoke-VaultDeployment -Image $Plain['v2.0.0'].Tag -Confirm:$false -WarningAction SilentlyContinue
        Write-Host "    green then blue (bridge): $([math]::Round($toGreen.Duration.TotalSeconds, 2)) s and $([math]::Round($toBlue.Duration.TotalSeconds, 2)) s, $($toGreen.FailedProbes + $toBlue.FailedProbes)/$($toGreen.Probes + $toBlue.Probes) failed probes"
        $toBlue.Status | Should-Be 'Succeeded'
        $toBlue.FailedProbes | Should-Be 0
        $toBlue.VersionAfter | Should-Be '2.0.0'
        $served = Get-PlainServed
        $served.Health | Should-Be 200
        $served.Features -contains 'greetings' | Should-BeFalse
        $served.UpstreamPort | Should-Be $Bridge.Blue
        Get-ServiceContainerNames $Bridge.Service | Should-BeCollection @("$($Bridge.Service)-$($Bridge.Blue)", "$($Bridge.Service)-$($Bridge.Green)")
        $blue = Get-Container "$($Bridge.Service)-$($Bridge.Blue)"
        $blue.State.Running | Should-BeTrue
        $blue.HostConfig.PortBindings.'3000/tcp'[0].HostIp | Should-Be '127.0.0.1'
        $blue.HostConfig.PortBindings.'3000/tcp'[0].HostPort | Should-Be "$($Bridge.Blue)"
        (Get-Container "$($Bridge.Service)-$($Bridge.Green)").HostConfig.PortBindings.'3000/tcp'[0].HostPort | Should-Be "$($Bridge.Green)"
        Assert-RunEnded $Bridge $toBlue $BridgeEnv
    }
}
