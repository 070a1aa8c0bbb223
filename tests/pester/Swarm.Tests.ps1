# Docker Swarm as the service manager, end to end against the real engine: a single-node swarm on 127.0.0.1 (made and
# left by Swarm.TestServices.psm1, which shares it with other test runs and never leaves one it did not make), a service
# of the sample backend per transport (the local socket; real SSH as yvops with docker system dial-stdio), its images
# pulled from a password-protected registry on 127.0.0.1 (Debian docker-registry). The kernel has no IPVS, so each service
# publishes its port in host mode (reached at 127.0.0.1) and updates stop-first; the tasks sit on Docker's bridge and reach
# this host's PostgreSQL and RPC stand-in through a relay on the bridge's gateway address, never at a container address.
# Shown here: the status (replicas, update state, tasks), v1.3.0 deployed over v1.2.3 by a ServiceUpdate, Undo by the
# service's previous spec, a broken image the engine rolls back by itself (its HEALTHCHECK fails within the monitor), a
# broken image the engine accepts and the runbook's checks refuse (the module rolls it back), and the tasks' log; each with
# the same result objects as the other service managers, and the env file's values never shown.
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestCommon.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot '../services/YieldVault.TestServices.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot '../services/Docker.TestServices.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot '../services/Registry.TestServices.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot '../services/Swarm.TestServices.psm1') -Force
    Import-Module (Get-VaultModuleManifest) -Force

    $script:Dockerd = Start-TestDockerd
    [void](Grant-TestDockerAccess -User yvops)
    $script:Sshd = Start-TestSshd
    $script:Postgres = Start-TestPostgres
    $script:Rpc = Start-TestStellarRpc
    [void](New-TestBackendImage)
    [void](Invoke-TestBackendImageMigration -DatabaseUrl $Postgres.DatabaseUrl)
    $script:Relay = Start-TestTcpRelay -TargetPort $Postgres.Port, $Rpc.Port

    # Release images as CI would push them: v1.2.3 and v1.3.0, v1.3.1 whose /health answers 503 for good, each with a
    # HEALTHCHECK that asks /health (the engine's own monitor then sees a broken task), and v1.3.1 without one.
    $script:Run = Get-TestDockerRunId
    $script:Registry = Start-TestRegistry
    $repository = "yv-swarm-$Run"
    $script:Images = @{}
    foreach ($v in @(@{ Tag = 'v1.2.3'; Version = '1.2.3' }, @{ Tag = 'v1.3.0'; Version = '1.3.0' }, @{ Tag = 'v1.3.1-broken'; Version = '1.3.1'; Broken = $true })) {
        $variant = New-TestBackendImageVariant -Tag "yieldvault-backend:$($v.Tag)-sw-$Run" -Version $v.Version -Broken:([bool]$v['Broken'])
        $checked = Add-TestImageHealthcheck -Image $variant.Tag -Tag "yieldvault-backend:$($v.Tag)-sw-hc-$Run"
        $Images[$v.Tag] = [pscustomobject]@{ Ref = (Publish-TestRegistryImage -Registry $Registry -Image $checked -Repository $repository -Tag $v.Tag); Commit = $variant.Commit; Version = $v.Version }
        if ($v['Broken']) {
            $Images['v1.3.1-unchecked'] = [pscustomobject]@{ Ref = (Publish-TestRegistryImage -Registry $Registry -Image $variant.Tag -Repository $repository -Tag 'v1.3.1-unchecked'); Commit = $variant.Commit; Version = $v.Version }
        }
    }

    $script:Swarm = Start-TestSwarm
    $script:ApiKey = 'Planted-Api-Key-' + [guid]::NewGuid().ToString('N').Substring(0, 12)

    # A workspace per transport: the app dir with its .env (0600, owned by whoever deploys; the service's environment),
    # backups/ and state/, a service running v1.2.3 published in host mode on a free port, and a Swarm target for it. The
    # target's LogPath is no file: the log is the service's tasks' (the engine's).
    function New-SwarmWorkspace([string] $Key, [string] $Owner) {
        $root = Join-Path ([IO.Path]::GetTempPath()) "yv-swarm-$Run-$Key"
        foreach ($d in 'app', 'logs', 'backups', 'state') { [void][IO.Directory]::CreateDirectory((Join-Path $root $d)) }
        & chmod 755 $root
        $port = Get-FreeTcpPort
        $database = $Postgres.DatabaseUrl.Replace("@127.0.0.1:$($Postgres.Port)/", "@$($Relay.Address):$($Relay.Ports[$Postgres.Port])/")
        $envVars = [ordered]@{
            PORT = '3000'; HOST = '0.0.0.0'; NODE_ENV = 'production'; STELLAR_RPC_URL = "http://$($Relay.Address):$($Relay.Ports[$Rpc.Port])/"
            DATABASE_URL = $database; VAULT_CONTRACT_ID = 'CDLZFC3SYJYDZT7K67VZ75HPJVIEUVNIXF47ZG2FB2RMQQVU2HHGCYSC'; ADMIN_API_KEY = $ApiKey
            SHUTDOWN_DRAIN_MS = '300'; RATE_LIMIT_MAX = '100000'
        }
        $envFile = Join-Path $root 'app/.env'
        Set-Content -LiteralPath $envFile -Value (@($envVars.Keys | ForEach-Object { "$_=$($envVars[$_])" }) -join "`n")
        & chmod 600 $envFile
        if ($Owner -ne 'root') { & chown -R "$Owner`:" $root }
        $service = "yv-sw-$Run-$Key"
        [void](New-TestSwarmService -Name $service -Image $Images['v1.2.3'].Ref -PublishPort $port -EnvFile $envFile -DockerConfig $Registry.DockerConfig)
        $p = @{
            Name = "swarm-$Key"; ServiceManager = 'Swarm'; ServiceName = $service; Port = $port; AppPath = "$root/app"; MigrationPreset = 'None'
            LogPath = "$root/logs/not-a-file.log"; BackupPath = "$root/backups"; StatePath = "$root/state"; SwarmMonitorSec = 4
        }
        if ($Key -eq 'ssh') {
            $p += @{ HostName = $Sshd.HostName; SshPort = $Sshd.Port; User = $Sshd.User; KeyFile = $Sshd.UserKeyFile; KnownHostsFile = $Sshd.KnownHostsFile; ConnectTimeoutSec = 5 }
        }
        [pscustomobject]@{ Root = $root; Port = $port; Service = $service; EnvFile = $envFile; Target = (New-VaultTarget @p) }
    }

    function Get-ServedVersion([int] $Port) { Invoke-RestMethod -Uri "http://127.0.0.1:$Port/api/v1/version" -TimeoutSec 5 -DisableKeepAlive }

    # Every run must end with a released lock and a journal whose last line ends the run.
    function Assert-RunEnded($Ws, $Result) {
        Test-Path -LiteralPath "$($Ws.Root)/state/$($Ws.Service)/deploy.lock" | Should-BeFalse -Because 'the lock is released'
        $Result.JournalPath | Should-NotBeEmptyString
        (Get-Content -LiteralPath $Result.JournalPath | Select-Object -Last 1) | Should-BeLikeString '*"step":"run","phase":"end"*'
    }

    # What a run showed and kept: output, verbose and warning lines, the result and its journal.
    function Get-RunText($Result, $Stream) {
        ($Stream | Out-String) + ($Result | ConvertTo-Json -Depth 6 -WarningAction Ignore) + $(if ($Result.JournalPath -and (Test-Path -LiteralPath $Result.JournalPath)) { Get-Content -LiteralPath $Result.JournalPath -Raw })
    }
}

AfterAll {
    # Only what this run made: its services (then the swarm, if the tests made it and no other test run uses it), its
    # containers and images, the registry and the relay.
    if ($script:Swarm) { Stop-TestSwarm $Swarm }
    Remove-AllTestDockerResources
    Remove-TestBackendImageVariant
    if ($script:Registry) { Stop-TestRegistry $Registry }
    Stop-AllTestRegistries
    if ($script:Relay) { Stop-TestTcpRelay $Relay }
    foreach ($key in 'local', 'ssh') {
        $root = Join-Path ([IO.Path]::GetTempPath()) "yv-swarm-$script:Run-$key"
        if ($script:Run -and (Test-Path -LiteralPath $root)) { Remove-Item -LiteralPath $root -Recurse -Force }
    }
    if ($script:Sshd) { Stop-TestSshd $Sshd }
    if ($script:Rpc) { Stop-TestStellarRpc $Rpc }
    if ($script:Postgres) { Stop-TestPostgres $Postgres }
    Stop-AllTestServices
}

Describe 'A Swarm service on <Where>' -ForEach @(
    @{ Where = 'the local engine (unix socket)'; Transport = 'local'; Owner = 'root' }
    @{ Where = 'an SSH host (docker system dial-stdio as yvops)'; Transport = 'ssh'; Owner = 'yvops' }
) {
    BeforeAll {
        $ws = New-SwarmWorkspace -Key $Transport -Owner $Owner
        $target = $ws.Target
        $v123 = $Images['v1.2.3']
        $v130 = $Images['v1.3.0']
    }

    It 'shows the service: replicas, image, its running task, health and version' {
        $s = $target | Get-VaultBackendStatus
        $s.Manager | Should-Be 'Swarm'
        $s.State | Should-Be 'Running'
        $s.Replicas | Should-Be '1/1'
        $s.Image | Should-Be $v123.Ref
        $s.Healthy | Should-BeTrue
        $s.Version | Should-Be '1.2.3'
        $running = @($s.Tasks | Where-Object { $_.State -eq 'running' -and $_.DesiredState -eq 'running' })
        $running.Count | Should-Be 1
        $running[0].Image | Should-Be $v123.Ref
        @($s.Problems).Count | Should-Be 0
        # A task's pid is one on this host: the engine runs here.
        $s.Pid | Should-BeGreaterThan 0
    }

    It 'Undo-VaultDeployment fails with SwarmNoPreviousSpec and changes nothing when the service was never updated' {
        $before = Get-TestSwarmService $ws.Service
        $r = $target | Undo-VaultDeployment -Force -ErrorVariable errs -ErrorAction SilentlyContinue
        $r.Status | Should-Be 'Failed'
        $r.ErrorId | Should-Be 'SwarmNoPreviousSpec'
        $errs[0].FullyQualifiedErrorId | Should-Be 'SwarmNoPreviousSpec,YieldVault.Ops.Commands.UndoVaultDeploymentCommand'
        $r.FailedProbes | Should-Be 0
        (Get-TestSwarmService $ws.Service).Version.Index | Should-Be $before.Version.Index
        Assert-RunEnded $ws $r
    }

    It 'deploys v1.3.0 over v1.2.3 by a ServiceUpdate (stop-first, failure action rollback, the env file as its environment) and serves it' {
        $r = $target | Invoke-VaultDeployment -Image $v130.Ref -RegistryCredential $Registry.Credential -Incident INC-77 -Verbose 4>&1 3>&1 -ErrorVariable errs |
            Tee-Object -Variable all | Where-Object { $_.PSObject.TypeNames[0] -eq 'YieldVault.Ops.VaultDeploymentResult' }
        $errs.Count | Should-Be 0
        $r.Status | Should-Be 'Succeeded'
        $r.VersionBefore | Should-Be '1.2.3'
        $r.VersionAfter | Should-Be '1.3.0'
        $r.CommitAfter | Should-Be $v130.Commit
        $r.ReleaseBefore | Should-Be $v123.Ref
        $r.ReleaseAfter | Should-Be $v130.Ref
        $r.Steps.Count | Should-Be 10
        @($r.Steps | Where-Object Outcome -EQ 'Failed').Count | Should-Be 0
        ($r.Steps | Where-Object Number -EQ 6).Detail | Should-BeLikeString '*left to the rolling update*'
        ($r.Steps | Where-Object Number -EQ 7).Detail | Should-Be "rolled out $($v130.Ref)"
        $served = Get-ServedVersion $ws.Port
        $served.version | Should-Be '1.3.0'
        $served.commit | Should-Be $v130.Commit

        $svc = Get-TestSwarmService $ws.Service
        $svc.Spec.TaskTemplate.ContainerSpec.Image | Should-BeLikeString "$($v130.Ref)@sha256:*"
        $svc.PreviousSpec.TaskTemplate.ContainerSpec.Image | Should-BeLikeString "$($v123.Ref)*"
        $svc.UpdateStatus.State | Should-Be 'completed'
        $svc.Spec.UpdateConfig.Order | Should-Be 'stop-first'
        $svc.Spec.UpdateConfig.FailureAction | Should-Be 'rollback'
        $svc.Spec.UpdateConfig.Parallelism | Should-Be 1
        $svc.Spec.UpdateConfig.Monitor | Should-Be 4000000000
        $svc.Spec.RollbackConfig.Order | Should-Be 'stop-first'
        $svc.Spec.Labels.'yieldvault-ops.release' | Should-Be $v130.Ref
        $svc.Spec.TaskTemplate.ContainerSpec.Env | Should-ContainCollection @("ADMIN_API_KEY=$ApiKey", 'PORT=3000') -IgnoreOrder

        # The env file's values and the registry's password went to the engine only.
        $text = Get-RunText $r $all
        $text | Should-BeLikeString '*INC-77*'
        $text | Should-NotBeLikeString "*$ApiKey*"
        $text | Should-NotBeLikeString "*$($Postgres.Password)*"
        $text | Should-NotBeLikeString "*$($Registry.Password)*"
        Assert-RunEnded $ws $r
        Write-Host "    swarm deploy ($Transport): $([math]::Round($r.Duration.TotalSeconds, 2)) s, downtime $($r.DowntimeMs) ms ($($r.FailedProbes)/$($r.Probes) probes failed)"
    }

    It 'Undo-VaultDeployment goes back to the previous spec through the engine''s rollback and serves v1.2.3' {
        $r = $target | Undo-VaultDeployment -Force
        $r.Status | Should-Be 'Succeeded'
        $r.Kind | Should-Be 'rollback'
        $r.VersionBefore | Should-Be '1.3.0'
        $r.VersionAfter | Should-Be '1.2.3'
        $r.ReleaseBefore | Should-Be $v130.Ref
        $r.ReleaseAfter | Should-Be $v123.Ref
        $r.Steps.Count | Should-Be 3
        $served = Get-ServedVersion $ws.Port
        $served.version | Should-Be '1.2.3'
        $served.commit | Should-Be $v123.Commit
        $svc = Get-TestSwarmService $ws.Service
        $svc.UpdateStatus.State | Should-Be 'rollback_completed'
        $svc.Spec.TaskTemplate.ContainerSpec.Image | Should-BeLikeString "$($v123.Ref)*"
        Assert-RunEnded $ws $r
        (Get-VaultDeploymentHistory -Target $target -Last 1).Kind | Should-Be 'rollback'
        Write-Host "    swarm undo ($Transport): $([math]::Round($r.Duration.TotalSeconds, 2)) s, downtime $($r.DowntimeMs) ms"
    }

    It 'a broken image (its HEALTHCHECK fails) is rolled back by the engine itself: RolledBack, SwarmUpdateRolledBack, v1.2.3 serves' {
        $broken = $Images['v1.3.1-broken']
        $r = $target | Invoke-VaultDeployment -Image $broken.Ref -RegistryCredential $Registry.Credential -ErrorVariable errs -ErrorAction SilentlyContinue
        $r.Status | Should-Be 'RolledBack'
        $r.ErrorId | Should-Be 'SwarmUpdateRolledBack'
        $r.Error | Should-BeLikeString '*rolled the update*back by itself*'
        $errs[0].FullyQualifiedErrorId | Should-BeLikeString 'DeploymentRolledBack,*'
        $r.VersionAfter | Should-Be '1.2.3'
        ($r.Steps | Where-Object Number -EQ 7).Outcome | Should-Be 'Failed'
        (Get-ServedVersion $ws.Port).version | Should-Be '1.2.3'
        $svc = Get-TestSwarmService $ws.Service
        $svc.UpdateStatus.State | Should-Be 'rollback_completed'
        $svc.Spec.TaskTemplate.ContainerSpec.Image | Should-BeLikeString "$($v123.Ref)*"
        # The engine's own words about the failed task are in the error and the status.
        $s = $target | Get-VaultBackendStatus
        $s.UpdateState | Should-Be 'rollback_completed'
        $brokenTasks = @($s.Tasks | Where-Object Image -EQ $broken.Ref)
        $brokenTasks.Count | Should-BeGreaterThan 0
        @($brokenTasks | Where-Object DesiredState -NE 'shutdown').Count | Should-Be 0
        $r.Error | Should-BeLikeString "*the new tasks: task *"
        (Get-Content -LiteralPath $r.JournalPath -Raw) | Should-BeLikeString '*"step":"rollback","phase":"end","outcome":"Succeeded"*'
        Assert-RunEnded $ws $r
        Write-Host "    swarm broken image rolled back by the engine ($Transport): $([math]::Round($r.Duration.TotalSeconds, 2)) s, downtime $($r.DowntimeMs) ms"
    }

    It 'a broken image the engine accepts (no HEALTHCHECK) fails the runbook''s checks and is rolled back to the previous spec' {
        $broken = $Images['v1.3.1-unchecked']
        $r = $target | Invoke-VaultDeployment -Image $broken.Ref -RegistryCredential $Registry.Credential -HealthTimeoutSec 5 -ErrorVariable errs -ErrorAction SilentlyContinue
        $r.Status | Should-Be 'RolledBack'
        $r.ErrorId | Should-Be 'HealthCheckTimeout'
        $errs[0].FullyQualifiedErrorId | Should-BeLikeString 'DeploymentRolledBack,*'
        $r.VersionAfter | Should-Be '1.2.3'
        ($r.Steps | Where-Object Number -EQ 7).Outcome | Should-Be 'Succeeded'
        ($r.Steps | Where-Object Number -EQ 8).Outcome | Should-Be 'Failed'
        (Get-ServedVersion $ws.Port).version | Should-Be '1.2.3'
        $svc = Get-TestSwarmService $ws.Service
        $svc.UpdateStatus.State | Should-Be 'rollback_completed'
        $svc.Spec.TaskTemplate.ContainerSpec.Image | Should-BeLikeString "$($v123.Ref)*"
        Assert-RunEnded $ws $r
    }

    It 'reads the log of the service''s tasks' {
        $log = @($target | Get-VaultBackendLog -Source Manager -Tail 200)
        $log.Count | Should-BeGreaterThan 0
        @($log | Where-Object { $_.Message -like '*Server started on port 3000*' }).Count | Should-BeGreaterThan 0
        $log[0].Source | Should-Be 'swarm'
    }
}

Describe 'Swarm settings' {
    It 'refuses blue-green for a Swarm target, naming the setting' {
        { New-VaultTarget -Name sw -ServiceManager Swarm -Proxy Nginx -BluePort 4001 -GreenPort 4002 -ProxyPort 8081 } |
            Should-Throw -FullyQualifiedErrorId 'TargetInvalid,YieldVault.Ops.Commands.NewVaultTargetCommand'
    }

    It 'refuses -Ref for a Swarm target (it deploys images)' {
        $t = New-VaultTarget -Name sw -ServiceManager Swarm
        $t | Invoke-VaultDeployment -Ref v1.3.0 -Force -ErrorVariable errs -ErrorAction SilentlyContinue
        $errs[0].FullyQualifiedErrorId | Should-Be 'DockerNeedsImage,YieldVault.Ops.Commands.InvokeVaultDeploymentCommand'
    }

    It 'shows the update plan under -WhatIf without touching anything' {
        $t = New-VaultTarget -Name sw -ServiceManager Swarm -ServiceName yv-nosuch -SwarmUpdateOrder StartFirst -SwarmUpdateParallelism 2 -SwarmUpdateDelaySec 3
        # What-if lines go straight to the host: a transcript is the one place they can be read back.
        $transcript = Join-Path $TestDrive 'whatif.txt'
        [void](Start-Transcript -LiteralPath $transcript -UseMinimalHeader)
        try { $t | Invoke-VaultDeployment -Image 'registry.example/app:v1.3.0' -WhatIf } finally { [void](Stop-Transcript) }
        $text = ((Get-Content -LiteralPath $transcript) -join ' ') -replace '\s+', ' '
        $text | Should-BeLikeString '*--update-order start-first --update-parallelism 2 --update-delay 3s*--update-failure-action rollback*'
    }
}
