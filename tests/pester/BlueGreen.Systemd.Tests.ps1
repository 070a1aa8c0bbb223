# The runbook's Blue-Green Deployment with systemd: the sample backend as yieldvault-backend.service under a real
# systemd (PID 1 of an app-server container, tests/services/AppServer.TestServices.psm1), Debian's nginx as
# nginx.service in the same container in front of it (127.0.0.1:<ProxyPort>; the container shares the host's network),
# driven over real SSH as 'deploy' (sudo for systemctl, journalctl, "nginx -t -q" and "nginx -s reload" only). A slot
# is the template unit yieldvault-backend@<port>, whose directory is the link <releases>/slots/<port>; the unit that ran
# in place is the blue slot. Releases are pre-built artifacts (Step 4 Option C) copied into the container. The module's
# prober asks /health through nginx (over the SSH forward) every 25 ms in every run: a blue-green run must see 0 failed
# probes. What systemd and nginx do is read independently with docker exec (Invoke-TestAppServerCommand).
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestCommon.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot '../services/YieldVault.TestServices.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot '../services/AppServer.TestServices.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot '../services/SampleArtifacts.TestServices.psm1') -Force
    Import-Module (Get-VaultModuleManifest) -Force

    $lap = [Diagnostics.Stopwatch]::StartNew()
    $script:Dockerd = Start-TestDockerd
    $script:Root = Join-Path ([IO.Path]::GetTempPath()) ('yv-bgsystemd-' + [guid]::NewGuid().ToString('N').Substring(0, 8))
    [void][IO.Directory]::CreateDirectory($Root)
    $script:Origin = New-TestSampleOrigin -Directory $Root
    $script:Build = Start-TestSampleArtifacts -Origin $Origin -Directory $Root -Tags 'v1.3.0', 'v1.3.1-broken'
    # Cold on a fresh machine or after a change to app-server/ (debootstrap, ~1-2 min), cached afterwards.
    $script:Image = New-TestAppServerImage
    $script:Postgres = Start-TestPostgres
    $script:Rpc = Start-TestStellarRpc
    $script:Base = Wait-TestSampleBase $Build
    [void](Invoke-TestSampleMigration -Path $Base -DatabaseUrl $Postgres.DatabaseUrl)
    $script:Green = Get-FreeTcpPort
    $script:Server = Start-TestAppServer -AppSource $Base -ProxyPort (Get-FreeTcpPort) -Environment @{
        NODE_ENV          = 'production'
        STELLAR_RPC_URL   = $Rpc.Url
        VAULT_CONTRACT_ID = 'CDYIELDVAULTTESTCONTRACT00000000000000000000000000000000'
        DATABASE_URL      = $Postgres.DatabaseUrl
        ADMIN_API_KEY     = [guid]::NewGuid().ToString('N')
        SHUTDOWN_DRAIN_MS = '300'
        # Every request reaches the backend from 127.0.0.1 (nginx's, the module's checks, this file's): the sample's
        # default of 60 /api/ requests a minute per address would be the budget of all of them.
        RATE_LIMIT_MAX    = '100000'
    }
    $script:Blue = $Server.AppPort

    # The artifacts go where the deploy user can read them on the server (an absolute path on the host is Option C's
    # "download": a copy).
    $script:Art = Wait-TestSampleArtifacts $Build
    [void](Invoke-TestAppServerCommand -Server $Server -ArgumentList 'install', '-d', '-o', 'deploy', '-g', 'deploy', '-m', '0755', '/var/tmp/yv-artifacts')
    $script:Remote = @{}
    foreach ($tag in $Art.Keys) {
        & docker cp $Art[$tag].Artifact "$($Server.ContainerName):/var/tmp/yv-artifacts/$tag.tar.gz"
        if ($LASTEXITCODE -ne 0) { throw "docker cp of the $tag artifact into $($Server.ContainerName) failed." }
        [void](Invoke-TestAppServerCommand -Server $Server -ArgumentList 'chmod', '0644', "/var/tmp/yv-artifacts/$tag.tar.gz")
        $Remote[$tag] = @{ Artifact = "/var/tmp/yv-artifacts/$tag.tar.gz"; Sha256 = $Art[$tag].Sha256 }
    }
    Write-Host ("BlueGreen.Systemd set-up: {0:0.0} s (image {1}, {2:0.0} s; app server {3:0.0} s)" -f $lap.Elapsed.TotalSeconds, $(if ($Image.Cached) { 'cached' } else { 'built' }), $Image.Seconds, $Server.StartSeconds)

    $script:T = New-VaultTarget -Name bg-app -HostName $Server.HostName -SshPort $Server.SshPort -User $Server.User -KeyFile $Server.KeyFile `
        -KnownHostsFile $Server.KnownHostsFile -ConnectTimeoutSec 10 -ServiceManager Systemd -ServiceName $Server.ServiceName -Port $Blue `
        -AppPath $Server.AppPath -LogPath $Server.LogPath -MigrationPreset None `
        -Proxy Nginx -UpstreamFile $Server.UpstreamFile -UpstreamName $Server.UpstreamName -ProxyPort $Server.ProxyPort -ProxyReload Systemctl -BluePort $Blue -GreenPort $Green
    $script:Releases = "$($Server.AppPath)-releases"

    function Invoke-Server([string[]] $ArgumentList, [switch] $AllowFailure, [string] $User) {
        $p = @{}
        if ($User) { $p.User = $User }
        (Invoke-TestAppServerCommand -Server $Server -ArgumentList $ArgumentList -AllowFailure:$AllowFailure @p).Output.Trim()
    }

    # What nginx serves, asked the way a user would (no keep-alive, nginx's port on 127.0.0.1), and the port its upstream
    # file names (read in the server).
    function Get-Served {
        $health = Invoke-WebRequest -Uri "$($Server.ProxyUrl)/health" -TimeoutSec 5 -SkipHttpErrorCheck -DisableKeepAlive
        $version = Invoke-RestMethod -Uri "$($Server.ProxyUrl)/api/v1/version" -TimeoutSec 5 -DisableKeepAlive
        $m = [regex]::Match((Invoke-Server 'cat', $Server.UpstreamFile), 'server\s+127\.0\.0\.1:(\d+)')
        [pscustomobject]@{ Health = [int]$health.StatusCode; Version = $version.version; UpstreamPort = if ($m.Success) { [int]$m.Groups[1].Value } else { $null } }
    }

    # systemd's own view of a unit: is-active and the main process's working directory (read as deploy, its owner:
    # root in the container lacks CAP_SYS_PTRACE, which another user's /proc/<pid>/cwd needs).
    function Get-Unit([string] $Unit) {
        $active = Invoke-Server 'systemctl', 'is-active', $Unit -AllowFailure
        $mainPid = [int](Invoke-Server 'systemctl', 'show', '-p', 'MainPID', '--value', $Unit)
        [pscustomobject]@{ Active = $active; MainPid = $mainPid; Cwd = if ($mainPid -gt 0) { Invoke-Server 'readlink', "/proc/$mainPid/cwd" -User deploy } else { $null } }
    }

    # Every run must end with a released lock and a journal whose last line ends the run.
    function Assert-RunEnded($Result) {
        Invoke-Server 'sh', '-c', 'test -e "$1" && echo held || echo released', 'sh', "/var/lib/yieldvault-ops/$($Server.ServiceName)/deploy.lock" | Should-Be 'released'
        $Result.JournalPath | Should-NotBeEmptyString
        (Invoke-Server 'tail', '-n', '1', $Result.JournalPath) | Should-BeLikeString '*"step":"run","phase":"end"*'
    }

    (Get-Served).Version | Should-Be '1.2.3'
    $script:GreenUnit = "yieldvault-backend@$Green.service"
}

AfterAll {
    if ($script:Server) { Stop-TestAppServer $Server }
    if ($script:Build -and -not $Build.Process.HasExited) { $Build.Process.Kill($true) }
    if ($script:Rpc) { Stop-TestStellarRpc $Rpc }
    if ($script:Postgres) { Stop-TestPostgres $Postgres }
    if ($script:Root) { Remove-Item -LiteralPath $Root -Recurse -Force -ErrorAction Ignore }
    Stop-AllTestAppServers
    # The engine is shared with other suites running at the same time: stop it only when this suite started it and no
    # container runs on it any more.
    if ($script:Dockerd -and $Dockerd.StartedByUs) {
        $running = @(& docker ps -q 2>$null | Where-Object { $_ })
        if ($running.Count -eq 0) { Stop-TestDockerd $Dockerd } else { Write-Host "Leaving dockerd running: $($running.Count) other container(s) use it." }
    }
}

# The Its run in order: v1.2.3 serves in place as yieldvault-backend.service on the blue port.
Describe 'A blue-green deployment with systemd in an app server, over SSH' {
    It 'starts v1.3.0 as yieldvault-backend@<green> from its release while blue serves, switches nginx with 0 failed probes, then stops blue' {
        $r = $T | Invoke-VaultDeployment -Artifact $Remote['v1.3.0'].Artifact -Sha256 $Remote['v1.3.0'].Sha256 -Confirm:$false -WarningAction SilentlyContinue
        Write-Host "    deploy (systemd): $([math]::Round($r.Duration.TotalSeconds, 2)) s, $($r.Probes) probes through nginx, $($r.FailedProbes) failed; switch step $([math]::Round(($r.Steps | Where-Object Number -EQ 8).Duration.TotalMilliseconds)) ms"
        $r.Status | Should-Be 'Succeeded'
        $r.Probes | Should-BeGreaterThan 20
        $r.FailedProbes | Should-Be 0
        $r.DowntimeMs | Should-Be 0
        $r.VersionBefore | Should-Be '1.2.3'
        $r.VersionAfter | Should-Be '1.3.0'
        $served = Get-Served
        $served.Version | Should-Be '1.3.0'
        $served.UpstreamPort | Should-Be $Green

        # The green slot is the template unit's instance, running in its release through the slot's link.
        $release = "$Releases/releases/$($r.ReleaseAfter)"
        Invoke-Server 'readlink', "$Releases/slots/$Green" | Should-Be $release
        $slotUnit = Get-Unit $GreenUnit
        $slotUnit.Active | Should-Be 'active'
        $slotUnit.Cwd | Should-Be $release
        (Invoke-Server 'ps', '-o', 'user=', '-p', "$($slotUnit.MainPid)") | Should-Be 'deploy'
        # The unit that ran in place is the blue slot: stopped after the drain, not removed.
        (Get-Unit 'yieldvault-backend.service').Active | Should-Be 'inactive'

        $state = $T | Get-VaultTrafficState
        $state.Live | Should-Be 'Green'
        $state.Green.Instance | Should-Be "yieldvault-backend@$Green"
        $state.Green.Status | Should-Be 'Running'
        $state.Green.Healthy | Should-BeTrue
        $state.Green.Version | Should-Be '1.3.0'
        $state.Blue.Instance | Should-Be 'yieldvault-backend' -Because 'the unit that ran in place is the blue slot'
        $state.Blue.Status | Should-Be 'Stopped'
        $state.ServedVersion | Should-Be '1.3.0'
        Assert-RunEnded $r
    }

    It 'rolls back by starting yieldvault-backend.service again and switching nginx back: 0 failed probes' {
        $u = $T | Undo-VaultDeployment -Force -WarningAction SilentlyContinue
        Write-Host "    undo, blue cold (systemd): $([math]::Round($u.Duration.TotalSeconds, 2)) s, $($u.Probes) probes, $($u.FailedProbes) failed"
        $u.Status | Should-Be 'Succeeded'
        $u.Kind | Should-Be 'rollback'
        $u.FailedProbes | Should-Be 0
        $u.VersionAfter | Should-Be '1.2.3'
        ($u.Steps | Where-Object Number -EQ 2).Detail | Should-BeLikeString 'started yieldvault-backend;*'
        $served = Get-Served
        $served.Version | Should-Be '1.2.3'
        $served.UpstreamPort | Should-Be $Blue
        (Get-Unit 'yieldvault-backend.service').Active | Should-Be 'active'
        (Get-Unit $GreenUnit).Active | Should-Be 'inactive'
        Assert-RunEnded $u
    }

    It 'with -KeepPrevious keeps blue warm, and the rollback is one switch: no start, 0 failed probes' {
        $bluePid = (Get-Unit 'yieldvault-backend.service').MainPid
        $r = $T | Invoke-VaultDeployment -Artifact $Remote['v1.3.0'].Artifact -Sha256 $Remote['v1.3.0'].Sha256 -KeepPrevious -Confirm:$false -WarningAction SilentlyContinue
        $r.Status | Should-Be 'Succeeded'
        $r.FailedProbes | Should-Be 0
        (Get-Served).Version | Should-Be '1.3.0'
        ($T | Get-VaultTrafficState).Blue.Warm | Should-BeTrue
        $watch = [Diagnostics.Stopwatch]::StartNew()
        $u = $T | Undo-VaultDeployment -Force -WarningAction SilentlyContinue
        $elapsed = $watch.Elapsed.TotalSeconds
        Write-Host "    deploy -KeepPrevious (systemd): $([math]::Round($r.Duration.TotalSeconds, 2)) s, $($r.FailedProbes)/$($r.Probes) failed; undo, blue warm: switch step $([math]::Round(($u.Steps | Where-Object Number -EQ 3).Duration.TotalMilliseconds)) ms, whole run $([math]::Round($elapsed, 2)) s, $($u.FailedProbes)/$($u.Probes) failed"
        $u.Status | Should-Be 'Succeeded'
        $u.FailedProbes | Should-Be 0
        ($u.Steps | Where-Object Number -EQ 2).Detail | Should-BeLikeString '*was running (warm)*'
        (Get-Served).Version | Should-Be '1.2.3'
        (Get-Unit 'yieldvault-backend.service').MainPid | Should-Be $bluePid -Because 'a warm slot is switched to, not restarted'
        (Get-Unit $GreenUnit).Active | Should-Be 'inactive' -Because 'the undo stops the slot it left'
        Assert-RunEnded $u
    }

    It 'a green whose /health fails never gets traffic: Failed (HealthCheckTimeout), 0 failed probes, blue serves on' {
        $bluePid = (Get-Unit 'yieldvault-backend.service').MainPid
        $r = $T | Invoke-VaultDeployment -Artifact $Remote['v1.3.1-broken'].Artifact -Sha256 $Remote['v1.3.1-broken'].Sha256 -HealthTimeoutSec 4 -Confirm:$false `
            -ErrorVariable errs -ErrorAction SilentlyContinue -WarningAction SilentlyContinue
        Write-Host "    broken green (systemd): $([math]::Round($r.Duration.TotalSeconds, 2)) s (health timeout 4 s), $($r.Probes) probes, $($r.FailedProbes) failed"
        $r.Status | Should-Be 'Failed'
        $r.ErrorId | Should-Be 'HealthCheckTimeout'
        $errs[0].FullyQualifiedErrorId | Should-BeLikeString 'HealthCheckTimeout,*'
        $r.FailedProbes | Should-Be 0
        ($r.Steps | Where-Object Number -EQ 7).Outcome | Should-Be 'Failed'
        ($r.Steps | Where-Object Number -EQ 8).Outcome | Should-Be 'NotRun'
        $served = Get-Served
        $served.Health | Should-Be 200
        $served.Version | Should-Be '1.2.3'
        $served.UpstreamPort | Should-Be $Blue
        (Get-Unit 'yieldvault-backend.service').MainPid | Should-Be $bluePid -Because 'the live slot is never stopped'
        (Get-Unit $GreenUnit).Active | Should-Be 'inactive' -Because 'the broken slot is stopped'
        Invoke-Server 'readlink', "$Releases/slots/$Green" | Should-Be "$Releases/releases/$($r.ReleaseAfter)"
        $state = $T | Get-VaultTrafficState
        $state.Live | Should-Be 'Blue'
        $state.Green.Status | Should-Be 'Stopped'
        Assert-RunEnded $r
    }

    It 'Undo does not switch to a slot whose deployment failed (NoPreviousSlot), and blue serves on' {
        $u = $T | Undo-VaultDeployment -Force -ErrorVariable errs -ErrorAction SilentlyContinue
        $u.Status | Should-Be 'Failed'
        $u.ErrorId | Should-Be 'NoPreviousSlot'
        $errs[0].FullyQualifiedErrorId | Should-Be 'NoPreviousSlot,YieldVault.Ops.Commands.UndoVaultDeploymentCommand'
        $u.FailedProbes | Should-Be 0
        (Get-Served).Version | Should-Be '1.2.3'
    }
}
