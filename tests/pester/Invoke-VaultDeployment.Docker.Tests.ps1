# Runbook Step 4 Option B and its Docker Rollback end to end against the real Docker engine: the sample backend as
# release images (v1.2.3, v1.3.0 and a v1.3.1 whose /health never passes, all built here from the cached backend
# image, no pulls), deployed with Invoke-VaultDeployment -Image and rolled back with Undo-VaultDeployment, locally
# (unix socket) and over real SSH as yvops (docker group; docker system dial-stdio over the target's connection).
# This file has its own PostgreSQL and RPC stand-in; it removes only its own containers and images (run label).
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestCommon.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot '../services/YieldVault.TestServices.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot '../services/Docker.TestServices.psm1') -Force
    Import-Module (Get-VaultModuleManifest) -Force

    $script:Dockerd = Start-TestDockerd
    [void](Grant-TestDockerAccess -User yvops)
    $script:Sshd = Start-TestSshd
    $script:Postgres = Start-TestPostgres
    $script:Rpc = Start-TestStellarRpc
    [void](New-TestBackendImage)
    # The API's database tables (the smoke checks read transactions), migrated from the image itself.
    [void](Invoke-TestBackendImageMigration -DatabaseUrl $Postgres.DatabaseUrl)

    $script:Run = Get-TestDockerRunId
    $script:V123 = New-TestBackendImageVariant -Tag "yieldvault-backend:v1.2.3-$Run" -Version 1.2.3
    $script:V130 = New-TestBackendImageVariant -Tag "yieldvault-backend:v1.3.0-$Run" -Version 1.3.0
    $script:V131 = New-TestBackendImageVariant -Tag "yieldvault-backend:v1.3.1-$Run" -Version 1.3.1 -Broken
    $script:Missing = "yieldvault-backend:v9.9.9-$Run-nosuch"
    $script:ApiKey = 'Planted-Api-Key-' + [guid]::NewGuid().ToString('N').Substring(0, 12)

    # A workspace per transport: the app dir with its .env (0600, owned by whoever deploys), logs/ (mounted into
    # the containers at the same path), backups/, state/; and the service's container running v1.2.3 on the host's
    # network, the way the runbook's docker run would (restart unless-stopped, the env file's variables).
    function New-DockerWorkspace([string] $Key, [string] $Owner) {
        $root = Join-Path ([IO.Path]::GetTempPath()) "yv-ddeploy-$Run-$Key"
        foreach ($d in 'app', 'logs', 'backups', 'state') { [void][IO.Directory]::CreateDirectory((Join-Path $root $d)) }
        & chmod 755 $root
        $port = Get-FreeTcpPort
        $envVars = [ordered]@{
            PORT = "$port"; NODE_ENV = 'production'; STELLAR_RPC_URL = $Rpc.Url; DATABASE_URL = $Postgres.DatabaseUrl
            VAULT_CONTRACT_ID = 'CDLZFC3SYJYDZT7K67VZ75HPJVIEUVNIXF47ZG2FB2RMQQVU2HHGCYSC'; ADMIN_API_KEY = $ApiKey
            LOG_FILE = "$root/logs/backend.log"; SHUTDOWN_DRAIN_MS = '300'
        }
        $envFile = Join-Path $root 'app/.env'
        Set-Content -LiteralPath $envFile -Value (@($envVars.Keys | ForEach-Object { "$_=$($envVars[$_])" }) -join "`n")
        & chmod 600 $envFile
        if ($Owner -ne 'root') { & chown -R "$Owner`:" $root }
        $service = "yv-ddeploy-$Run-$Key"
        $environment = @{}
        foreach ($k in $envVars.Keys) { if ($k -ne 'PORT') { $environment[$k] = $envVars[$k] } }
        $container = Start-TestBackendContainer -Name $service -Port $port -Environment $environment -RestartPolicy unless-stopped -Image $V123.Tag -Volume "$root/logs:$root/logs"
        $p = @{
            Name = "docker-$Key"; ServiceManager = 'Docker'; ServiceName = $service; Port = $port; AppPath = "$root/app"; MigrationPreset = 'None'
            LogPath = "$root/logs/backend.log"; BackupPath = "$root/backups"; StatePath = "$root/state"
        }
        if ($Key -eq 'ssh') {
            $p += @{ HostName = $Sshd.HostName; SshPort = $Sshd.Port; User = $Sshd.User; KeyFile = $Sshd.UserKeyFile; KnownHostsFile = $Sshd.KnownHostsFile; ConnectTimeoutSec = 5 }
        }
        [pscustomobject]@{ Root = $root; Port = $port; Service = $service; OriginalId = $container.Id; Target = (New-VaultTarget @p) }
    }

    function Get-ServedVersion([int] $Port) { Invoke-RestMethod -Uri "http://127.0.0.1:$Port/api/v1/version" -TimeoutSec 5 }

    # docker inspect of one container, or $null.
    function Get-Container([string] $Name) {
        $json = & docker container inspect $Name 2>$null
        if ($LASTEXITCODE -ne 0) { return $null }
        ($json | ConvertFrom-Json)[0]
    }

    # The names of the service's containers, sorted: what the strategy made, kept and removed.
    function Get-ServiceContainerNames([string] $Service) {
        @(& docker ps -a --filter "name=^$Service(-|$)" --format '{{.Names}}' | Where-Object { $_ } | Sort-Object)
    }
}

AfterAll {
    # Only what this run made: its containers (run label; the strategy's copies carry it too), then its images.
    Remove-AllTestDockerResources
    Remove-TestBackendImageVariant
    foreach ($key in 'local', 'ssh') {
        $root = Join-Path ([IO.Path]::GetTempPath()) "yv-ddeploy-$script:Run-$key"
        if ($script:Run -and (Test-Path -LiteralPath $root)) { Remove-Item -LiteralPath $root -Recurse -Force }
    }
    Stop-TestSshd $script:Sshd
    Stop-TestStellarRpc $script:Rpc
    Stop-TestPostgres $script:Postgres
}

# The Its below run in order on one service per transport: v1.2.3 serves; -WhatIf; a missing image; a broken image
# (rolled back); v1.3.0 (succeeds); undo to v1.2.3; undo again (forward to v1.3.0).
Describe 'Docker deployments over <Transport>' -ForEach @(@{ Transport = 'local'; Owner = 'root' }, @{ Transport = 'ssh'; Owner = 'yvops' }) {
    BeforeAll {
        $ws = New-DockerWorkspace -Key $Transport -Owner $Owner
        $target = $ws.Target
        (Get-ServedVersion $ws.Port).version | Should-Be '1.2.3'
    }

    It '-WhatIf prints the Docker plan and changes nothing' {
        $before = Get-Container $ws.Service
        # What-if lines go straight to the host: a transcript is the one place they can be read back.
        $transcript = Join-Path $ws.Root 'whatif.txt'
        [void](Start-Transcript -LiteralPath $transcript -UseMinimalHeader)
        try { $target | Invoke-VaultDeployment -Image $V130.Tag -WhatIf } finally { [void](Stop-Transcript) }
        $out = ((Get-Content -LiteralPath $transcript) -join ' ') -replace '\s+', ' '
        Remove-Item -LiteralPath $transcript
        $out | Should-BeLikeString '*Step 4/10 Prepare new version*docker pull*'
        $out | Should-BeLikeString '*Step 7/10 Switch and start new version*rename containers*'
        Get-ServiceContainerNames $ws.Service | Should-BeCollection @($ws.Service)
        (Get-Container $ws.Service).State.StartedAt | Should-Be $before.State.StartedAt
        @(Get-ChildItem -LiteralPath "$($ws.Root)/state", "$($ws.Root)/backups" -Recurse -File).Count | Should-Be 0
        (Get-ServedVersion $ws.Port).version | Should-Be '1.2.3'
    }

    It 'fails before the stop with ImageNotFound for an image that does not exist, and the old container never stops serving' {
        $before = Get-Container $ws.Service
        $r = $target | Invoke-VaultDeployment -Image $Missing -ErrorVariable errs -ErrorAction SilentlyContinue
        $r.Status | Should-Be 'Failed'
        $r.ErrorId | Should-Be 'ImageNotFound'
        $errs[0].FullyQualifiedErrorId | Should-Be 'ImageNotFound,YieldVault.Ops.Commands.InvokeVaultDeploymentCommand'
        $r.Error | Should-BeLikeString "*$Missing*pulling it failed*"
        $r.FailedProbes | Should-Be 0
        $r.Probes | Should-BeGreaterThan 0
        ($r.Steps | Where-Object Number -EQ 4).Outcome | Should-Be 'Failed'
        ($r.Steps | Where-Object Number -EQ 6).Outcome | Should-Be 'NotRun'
        $after = Get-Container $ws.Service
        $after.Id | Should-Be $before.Id
        $after.State.StartedAt | Should-Be $before.State.StartedAt
        $after.State.Running | Should-BeTrue
        Get-ServiceContainerNames $ws.Service | Should-BeCollection @($ws.Service)
        (Get-ServedVersion $ws.Port).version | Should-Be '1.2.3'
    }

    It 'removes the new container when a step after its creation fails before the stop (a migration run from the app dir)' {
        $before = Get-Container $ws.Service
        $r = $target | Invoke-VaultDeployment -Image $V130.Tag -MigrationTiming BeforeStop -MigrationCommand false -ErrorVariable errs -ErrorAction SilentlyContinue
        $r.Status | Should-Be 'Failed'
        $r.ErrorId | Should-Be 'MigrationFailed'
        $errs[0].FullyQualifiedErrorId | Should-Be 'MigrationFailed,YieldVault.Ops.Commands.InvokeVaultDeploymentCommand'
        ($r.Steps | Where-Object Number -EQ 4).Detail | Should-Be "$($V130.Tag) (version 1.3.0)"
        ($r.Steps | Where-Object Number -EQ 6).Outcome | Should-Be 'NotRun'
        $r.FailedProbes | Should-Be 0
        (Get-Container $ws.Service).State.StartedAt | Should-Be $before.State.StartedAt
        Get-ServiceContainerNames $ws.Service | Should-BeCollection @($ws.Service)
        (Get-ServedVersion $ws.Port).version | Should-Be '1.2.3'
    }

    It 'rolls back by itself when the new image never gets healthy, and v1.2.3 serves again' {
        $r = $target | Invoke-VaultDeployment -Image $V131.Tag -HealthTimeoutSec 3 -StopTimeoutSec 10 -ErrorVariable errs -ErrorAction SilentlyContinue
        $r.Status | Should-Be 'RolledBack'
        $r.ErrorId | Should-Be 'HealthCheckTimeout'
        $errs[0].FullyQualifiedErrorId | Should-BeLikeString 'DeploymentRolledBack,*'
        $r.VersionAfter | Should-Be '1.2.3'
        $r.ReleaseAfter | Should-Be $V123.Tag
        $served = Get-ServedVersion $ws.Port
        $served.version | Should-Be '1.2.3'
        $served.commit | Should-Be $V123.Commit
        # The old container serves again under its name; the broken one is kept, stopped, for its log.
        $serving = Get-Container $ws.Service
        $serving.Id | Should-Be $ws.OriginalId
        $serving.State.Running | Should-BeTrue
        $failed = @(Get-ServiceContainerNames $ws.Service | Where-Object { $_ -like "$($ws.Service)-failed-*" })
        $failed.Count | Should-Be 1
        $broken = Get-Container $failed[0]
        $broken.Config.Image | Should-Be $V131.Tag
        $broken.State.Running | Should-BeFalse
        (Get-Content -LiteralPath $r.JournalPath -Raw) | Should-BeLikeString '*"step":"rollback","phase":"end","outcome":"Succeeded"*'
        Write-Host "    automatic rollback ($Transport): run $([math]::Round($r.Duration.TotalSeconds, 2)) s (health timeout 3 s), downtime $($r.DowntimeMs) ms"
    }

    It 'Undo-VaultDeployment fails with NoPreviousContainer and changes nothing when no previous container is kept' {
        $before = Get-Container $ws.Service
        $r = $target | Undo-VaultDeployment -Force -ErrorVariable errs -ErrorAction SilentlyContinue
        $r.Status | Should-Be 'Failed'
        $r.ErrorId | Should-Be 'NoPreviousContainer'
        $errs[0].FullyQualifiedErrorId | Should-Be 'NoPreviousContainer,YieldVault.Ops.Commands.UndoVaultDeploymentCommand'
        $r.FailedProbes | Should-Be 0
        (Get-Container $ws.Service).State.StartedAt | Should-Be $before.State.StartedAt
    }

    It 'deploys v1.3.0 with -Image, serves it, and keeps the previous container' {
        $r = $target | Invoke-VaultDeployment -Image $V130.Tag -Incident INC-42 -Verbose 4>&1 -ErrorVariable errs | Tee-Object -Variable all | Where-Object { $_.PSObject.TypeNames[0] -eq 'YieldVault.Ops.VaultDeploymentResult' }
        $errs.Count | Should-Be 0
        $r.Status | Should-Be 'Succeeded'
        $r.VersionBefore | Should-Be '1.2.3'
        $r.VersionAfter | Should-Be '1.3.0'
        $r.CommitAfter | Should-Be $V130.Commit
        $r.ReleaseBefore | Should-Be $V123.Tag
        $r.ReleaseAfter | Should-Be $V130.Tag
        @($r.Steps | Where-Object Outcome -EQ 'Failed').Count | Should-Be 0
        $served = Get-ServedVersion $ws.Port
        $served.version | Should-Be '1.3.0'
        $served.commit | Should-Be $V130.Commit

        # <name> is a new container made like the runbook's docker run, networked like the old one.
        $new = Get-Container $ws.Service
        $new.Id | Should-NotBe $ws.OriginalId
        $new.Config.Image | Should-Be $V130.Tag
        $new.HostConfig.RestartPolicy.Name | Should-Be 'unless-stopped'
        $new.HostConfig.NetworkMode | Should-Be 'host'
        $new.Config.StopTimeout | Should-Be 10
        $new.HostConfig.Binds | Should-ContainCollection @("$($ws.Root)/logs:$($ws.Root)/logs")
        $new.Config.Labels.'yieldvault-ops.service' | Should-Be $ws.Service
        $new.Config.Labels.'yieldvault-ops.release' | Should-Be $V130.Tag
        $new.Config.Labels.'org.opencontainers.image.version' | Should-Be '1.3.0'
        $new.Config.Env | Should-ContainCollection @("ADMIN_API_KEY=$ApiKey", "PORT=$($ws.Port)", "APP_COMMIT=$($V130.Commit)") -IgnoreOrder
        # ...and writes its log through the mounted directory.
        (Get-Content -LiteralPath "$($ws.Root)/logs/backend.log" -Raw) | Should-BeLikeString '*Starting yieldvault-backend 1.3.0*'

        # The old container is kept, stopped, as <name>-previous; the failed one of the last test is gone.
        $previous = Get-Container "$($ws.Service)-previous"
        $previous.Id | Should-Be $ws.OriginalId
        $previous.State.Running | Should-BeFalse
        $previous.Config.Image | Should-Be $V123.Tag
        Get-ServiceContainerNames $ws.Service | Should-BeCollection @($ws.Service, "$($ws.Service)-previous")

        # The env file's values went to the engine only: not into the output, the verbose stream or the journal.
        $text = ($all | Out-String) + ($r | ConvertTo-Json -Depth 6) + (Get-Content -LiteralPath $r.JournalPath -Raw)
        $text | Should-BeLikeString '*INC-42*'
        $text | Should-NotBeLikeString "*$ApiKey*"
        $text | Should-NotBeLikeString "*$($Postgres.Password)*"
        Write-Host "    deployment ($Transport): $([math]::Round($r.Duration.TotalSeconds, 2)) s, downtime $($r.DowntimeMs) ms"
    }

    It 'Undo-VaultDeployment -Force goes back to the previous container and serves v1.2.3' {
        $r = $target | Undo-VaultDeployment -Force
        $r.Status | Should-Be 'Succeeded'
        $r.Kind | Should-Be 'rollback'
        $r.VersionBefore | Should-Be '1.3.0'
        $r.VersionAfter | Should-Be '1.2.3'
        $r.ReleaseBefore | Should-Be $V130.Tag
        $r.ReleaseAfter | Should-Be $V123.Tag
        $r.Steps.Count | Should-Be 4
        $served = Get-ServedVersion $ws.Port
        $served.version | Should-Be '1.2.3'
        $served.commit | Should-Be $V123.Commit
        (Get-Container $ws.Service).Id | Should-Be $ws.OriginalId
        # The version rolled back from becomes the previous one.
        (Get-Container "$($ws.Service)-previous").Config.Image | Should-Be $V130.Tag
        Get-ServiceContainerNames $ws.Service | Should-BeCollection @($ws.Service, "$($ws.Service)-previous")
        Test-Path -LiteralPath "$($ws.Root)/state/$($ws.Service)/deploy.lock" | Should-BeFalse
        Write-Host "    Undo-VaultDeployment ($Transport): $([math]::Round($r.Duration.TotalSeconds, 2)) s, downtime $($r.DowntimeMs) ms ($($r.FailedProbes)/$($r.Probes) probes failed)"
        $r.Duration.TotalSeconds | Should-BeLessThan 30
    }

    It 'a second Undo-VaultDeployment goes forward to v1.3.0 again' {
        $r = $target | Undo-VaultDeployment -Force
        $r.Status | Should-Be 'Succeeded'
        $r.VersionAfter | Should-Be '1.3.0'
        (Get-ServedVersion $ws.Port).version | Should-Be '1.3.0'
        (Get-Container "$($ws.Service)-previous").Id | Should-Be $ws.OriginalId
    }
}
