# A Node backend that is not the sample (tests/fixtures/plain-backend: plain JavaScript without a build, health at
# /healthz answering {"status":"ok"}, no /ready, the version only in package.json, PM2 through its ecosystem file),
# described only by target settings read from a targets file, deployed, verified and rolled back: with PM2 locally
# and over real SSH (from its git origin), and with Docker locally and over SSH (its images pulled from a private
# registry on 127.0.0.1 that requires a password: -RegistryCredential, or the host's ~/.docker/config.json).
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestCommon.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot '../services/YieldVault.TestServices.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot '../services/Pm2.TestServices.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot '../services/Docker.TestServices.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot '../services/Registry.TestServices.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot '../services/PlainBackend.TestServices.psm1') -Force
    Import-Module (Get-VaultModuleManifest) -Force

    $script:Token = 'Planted-Plain-Token-' + [guid]::NewGuid().ToString('N').Substring(0, 12)
    $script:Sshd = Start-TestSshd
    $script:Root = Join-Path ([IO.Path]::GetTempPath()) ('yv-anybackend-' + [guid]::NewGuid().ToString('N').Substring(0, 10))
    [void][IO.Directory]::CreateDirectory($Root)
    & chmod 755 $Root
    # Docker pulls on this machine must not find root's own docker logins: a local target reads this empty config.
    $script:SavedDockerConfig = $env:DOCKER_CONFIG
    $env:DOCKER_CONFIG = Join-Path $Root 'no-docker-login'
    [void][IO.Directory]::CreateDirectory($env:DOCKER_CONFIG)

    # A value as a .psd1 constant: text quoted, numbers as they are, lists and hashtables spelled out.
    function ConvertTo-Psd1Value($Value) {
        if ($Value -is [int]) { return "$Value" }
        if ($Value -is [hashtable]) { return '@{ ' + (($Value.Keys | Sort-Object | ForEach-Object { "$_ = $(ConvertTo-Psd1Value $Value[$_])" }) -join '; ') + ' }' }
        if ($Value -is [array]) { return '@(' + (($Value | ForEach-Object { ConvertTo-Psd1Value $_ }) -join ', ') + ')' }
        "'" + ([string]$Value).Replace("'", "''") + "'"
    }

    # The targets file a new user would write for this backend: every setting by name, nothing else.
    function Get-PlainTarget([hashtable] $Settings, [string] $Name) {
        $lines = foreach ($k in $Settings.Keys | Sort-Object) { "        $k = $(ConvertTo-Psd1Value $Settings[$k])" }
        $file = Join-Path $Root "$Name.targets.psd1"
        Set-Content -LiteralPath $file -Value "@{`n    Targets = @( @{`n$($lines -join "`n")`n    } )`n}"
        Get-VaultTarget -Path $file
    }

    function Get-SshSettings {
        @{ HostName = $Sshd.HostName; SshPort = $Sshd.Port; User = $Sshd.User; KeyFile = $Sshd.UserKeyFile; KnownHostsFile = $Sshd.KnownHostsFile }
    }

    function Get-Features([int] $Port) { @((Invoke-RestMethod -Uri "http://127.0.0.1:$Port/" -TimeoutSec 5).features) }
    function Get-HealthCode([int] $Port) {
        try { (Invoke-WebRequest -Uri "http://127.0.0.1:$Port/healthz" -TimeoutSec 5 -SkipHttpErrorCheck).StatusCode } catch { 0 }
    }

    # The plain backend's PM2 entry and the directory its process really runs in.
    function Get-PlainProcess($Pm2Ws) {
        $entry = @(Get-TestPm2List -Workspace $Pm2Ws | Where-Object name -EQ 'plain-backend')
        if ($entry.Count -ne 1) { throw "PM2 lists $($entry.Count) apps named plain-backend." }
        [pscustomobject]@{ Pid = $entry[0].pid; Cwd = $entry[0].pm2_env.pm_cwd; ExecPath = $entry[0].pm2_env.pm_exec_path
            RealCwd = $(if ($entry[0].pid -gt 0) { (& readlink -f "/proc/$($entry[0].pid)/cwd") }) }
    }

    function Get-Commit([string] $Origin, [string] $Ref) { (& git --git-dir $Origin rev-parse "$Ref^{commit}").Trim() }

    # What a run showed and kept: its result, its verbose and warning lines, and its journal.
    function Get-RunText($Result, $Stream) {
        ($Stream | Out-String) + ($Result | ConvertTo-Json -Depth 6 -WarningAction Ignore) + $(if ($Result.JournalPath -and (Test-Path -LiteralPath $Result.JournalPath)) { Get-Content -LiteralPath $Result.JournalPath -Raw })
    }
}

AfterAll {
    foreach ($ws in $script:Pm2Spaces) { if ($ws) { Stop-TestPm2 -Workspace $ws.Pm2Ws -ErrorAction Continue } }
    if ($script:Docker) {
        Remove-AllTestDockerResources
        Remove-TestBackendImageVariant
    }
    if ($script:YvopsDocker) { Remove-Item -LiteralPath $YvopsDocker -Recurse -Force -ErrorAction Ignore }
    if ($script:Registry) { Stop-TestRegistry $Registry }
    Stop-AllTestRegistries
    if ($script:Sshd) { Stop-TestSshd $Sshd }
    $env:DOCKER_CONFIG = $script:SavedDockerConfig
    if ($script:Root -and (Test-Path -LiteralPath $Root)) { Remove-Item -LiteralPath $Root -Recurse -Force }
    Stop-AllTestServices
}

Describe 'The plain backend with PM2 on <Where>, from a targets file only' -ForEach @(
    @{ Where = 'this machine'; Key = 'local'; Owner = 'root' }
    @{ Where = 'an SSH host'; Key = 'ssh'; Owner = 'yvops' }
) {
    BeforeAll {
        # A workspace: the origin, a checkout of v2.0.0 at <dir>/app (the runbook's plain layout), its .env and a PM2_HOME.
        $pm2 = New-TestPm2Workspace -User $Owner
        $dir = Join-Path $pm2.Directory 'plain'
        [void][IO.Directory]::CreateDirectory($dir)
        $origin = New-TestPlainOrigin -Directory $dir
        $app = New-TestPlainCheckout -Origin $origin -Path (Join-Path $dir 'app') -Ref v2.0.0
        $port = Get-FreeTcpPort
        Set-Content -LiteralPath (Join-Path $app '.env') -Value "PORT=$port`nAPI_TOKEN=$Token`n"
        & chmod 600 (Join-Path $app '.env')
        if ($Owner -ne 'root') { & chown -R "$Owner`:" $pm2.Directory }
        $ws = [pscustomobject]@{ Pm2Ws = $pm2; Dir = $dir; App = $app; Port = $port; Origin = $origin }
        $script:Pm2Spaces = @($script:Pm2Spaces) + $ws | Where-Object { $_ }

        $settings = @{
            Name = "plain-$Key"; ServiceManager = 'Pm2'; ServiceName = 'plain-backend'; Port = $port; AppPath = $app; Pm2Home = $pm2.Pm2Home
            HealthPath = '/healthz'; ReadyPath = ''; VersionPath = ''; RequiredVariables = @('PORT'); MigrationPreset = 'None'
            SmokePreset = 'None'; SmokeChecks = @(@{ Name = 'items'; Path = '/items'; JsonPath = 'items'; JsonType = 'array' })
            StartupMarkers = @('listening on port {Port}')
            LogPath = "$dir/logs/not-a-file.log"; BackupPath = "$dir/backups"; StatePath = "$dir/state"
        }
        if ($Key -eq 'ssh') { $settings += Get-SshSettings }
        $target = Get-PlainTarget $settings "pm2-$Key"
        $started = $target | Start-VaultBackend -Confirm:$false
    }

    It 'starts it from its ecosystem file and finds it healthy by its own rules, with no readiness endpoint' {
        $started.Healthy | Should-BeTrue
        $p = Get-PlainProcess $pm2
        $p.ExecPath | Should-Be "$app/src/server.js"
        $p.RealCwd | Should-Be $app
        $r = $target | Test-VaultBackendHealth -Ready
        $r.Healthy | Should-BeTrue
        $r.StatusCode | Should-Be 200
        $r.Status | Should-Be 'ok'
        $r.Ready | Should-BeNull
        $r.Url | Should-Be "http://localhost:$port/healthz"
    }

    It 'reads the version from package.json and the commit from git, without a warning' {
        $v = $target | Get-VaultBackendVersion -WarningVariable warns
        $v.Version | Should-Be '2.0.0'
        $v.Commit | Should-Be (Get-Commit $origin v2.0.0)
        $v.Source | Should-Be 'git'
        $warns.Count | Should-Be 0
    }

    It 'deploys v2.1.0 (no build: npm ci --omit=dev), verifies it with its own rules and serves it' {
        $r = $target | Invoke-VaultDeployment -Ref v2.1.0 -Verbose 4>&1 3>&1 -ErrorVariable errs | Tee-Object -Variable all |
            Where-Object { $_.PSObject.TypeNames[0] -eq 'YieldVault.Ops.VaultDeploymentResult' }
        $errs.Count | Should-Be 0
        $r.Status | Should-Be 'Succeeded'
        $r.VersionBefore | Should-Be '2.0.0'
        $r.VersionAfter | Should-Be '2.1.0'
        $r.CommitAfter | Should-Be (Get-Commit $origin v2.1.0)
        @($r.Steps | Where-Object Outcome -EQ 'Failed').Count | Should-Be 0
        ($r.Steps | Where-Object Number -EQ 9).Detail | Should-Be 'all smoke checks passed'
        Get-Features $port | Should-ContainCollection @('greetings')
        # What ran (the verbose lines): production dependencies only, nothing built; the start-up marker of this backend found.
        $ran = ($all | Where-Object { $_ -is [Management.Automation.VerboseRecord] } | Out-String)
        $ran | Should-BeLikeString '*npm ci --omit=dev*'
        $ran | Should-BeLikeString '*no build script*'
        $ran | Should-NotBeLikeString '*npm run build*'
        $ran | Should-NotBeLikeString '*npm prune*'
        $text = Get-RunText $r $all
        $text | Should-NotBeLikeString '*lacks startup markers*'
        $text | Should-NotBeLikeString "*$Token*"
        # The app path links to the new release, and that is where the process runs.
        (& readlink -f -- $app) | Should-Be "$app-releases/releases/$($r.ReleaseAfter)"
        (Get-PlainProcess $pm2).RealCwd | Should-Be "$app-releases/releases/$($r.ReleaseAfter)"
        (Get-Content -LiteralPath "$app-releases/shared/.env" -Raw) | Should-BeLikeString "*PORT=$port*"
        $script:Release210 = "$app-releases/releases/$($r.ReleaseAfter)"
    }

    It 'starts it from the ecosystem file through the app path link: PM2 keeps the release directory itself' {
        [void](Invoke-TestPm2 -Workspace $pm2 -ArgumentList 'delete', 'plain-backend')
        $s = $target | Start-VaultBackend -Confirm:$false
        $s.Healthy | Should-BeTrue
        $p = Get-PlainProcess $pm2
        # An ecosystem file without cwd: PM2 took the real directory. The next start must not run this release again.
        $p.Cwd | Should-Be $Release210
        $p.RealCwd | Should-Be $Release210
    }

    It 'refuses a release whose lock file needs pnpm, which is not installed, before anything stops' {
        Get-Command pnpm -CommandType Application -ErrorAction Ignore | Should-BeNull -Because 'this case needs a host without pnpm (the tests install none)'
        $pidBefore = (@(Get-TestPm2List -Workspace $pm2 | Where-Object name -EQ 'plain-backend'))[0].pid
        $r = $target | Invoke-VaultDeployment -Ref v2.2.0-pnpm -ErrorVariable errs -ErrorAction SilentlyContinue
        $r.Status | Should-Be 'Failed'
        $r.ErrorId | Should-Be 'PackageManagerNotFound'
        $errs[0].FullyQualifiedErrorId | Should-BeLikeString 'PackageManagerNotFound,*'
        $r.Error | Should-BeLikeString '*pnpm-lock.yaml*pnpm is not installed*'
        ($r.Steps | Where-Object Number -EQ 6).Outcome | Should-Be 'NotRun'
        $r.FailedProbes | Should-Be 0
        (@(Get-TestPm2List -Workspace $pm2 | Where-Object name -EQ 'plain-backend'))[0].pid | Should-Be $pidBefore
        Get-Features $port | Should-ContainCollection @('greetings')
    }

    It 'rolls back by itself when v2.1.1-broken answers 503 on /healthz, and v2.1.0 serves again' {
        $current = (& readlink -f -- $app)
        $r = $target | Invoke-VaultDeployment -Ref v2.1.1-broken -HealthTimeoutSec 5 -ErrorVariable errs -ErrorAction SilentlyContinue
        $r.Status | Should-Be 'RolledBack'
        $r.ErrorId | Should-Be 'HealthCheckTimeout'
        $errs[0].FullyQualifiedErrorId | Should-BeLikeString 'DeploymentRolledBack,*'
        $r.Error | Should-BeLikeString '*HTTP 503 down*'
        $r.VersionAfter | Should-Be '2.1.0'
        (& readlink -f -- $app) | Should-Be $current
        (Get-PlainProcess $pm2).RealCwd | Should-Be $current
        Get-HealthCode $port | Should-Be 200
        Get-Features $port | Should-ContainCollection @('greetings')
        (Get-Content -LiteralPath $r.JournalPath -Raw) | Should-BeLikeString '*"step":"rollback","phase":"end","outcome":"Succeeded"*'
    }

    It 'goes back to v2.0.0 with Undo-VaultDeployment' {
        $r = $target | Undo-VaultDeployment -Force
        $r.Status | Should-Be 'Succeeded'
        $r.VersionBefore | Should-Be '2.1.0'
        $r.VersionAfter | Should-Be '2.0.0'
        $r.CommitAfter | Should-Be (Get-Commit $origin v2.0.0)
        (Get-PlainProcess $pm2).RealCwd | Should-Be (& readlink -f -- $app)
        (Get-Features $port) -contains 'greetings' | Should-BeFalse
        Get-HealthCode $port | Should-Be 200
    }
}

Describe 'A monorepo app with a build step (AppSubdirectory), with PM2 on this machine' {
    BeforeAll {
        $pm2 = New-TestPm2Workspace -User root
        $dir = Join-Path $pm2.Directory 'mono'
        [void][IO.Directory]::CreateDirectory($dir)
        $origin = New-TestPlainOrigin -Directory $dir
        $app = New-TestPlainCheckout -Origin $origin -Path (Join-Path $dir 'app') -Ref v3.0.0-monorepo
        # The runbook's plain layout, built by hand once: dependencies at the workspace root, the build in apps/api.
        & npm ci --prefix $app --no-audit --no-fund --loglevel=error | Out-Null
        & npm run build --prefix "$app/apps/api" --silent | Out-Null
        $port = Get-FreeTcpPort
        Set-Content -LiteralPath "$app/apps/api/.env" -Value "PORT=$port`nAPI_TOKEN=$Token`n"
        & chmod 600 "$app/apps/api/.env"
        $script:Pm2Spaces = @($script:Pm2Spaces) + [pscustomobject]@{ Pm2Ws = $pm2 } | Where-Object { $_ }
        $target = Get-PlainTarget @{
            Name = 'mono-1'; ServiceManager = 'Pm2'; ServiceName = 'plain-backend'; Port = $port; AppPath = $app; AppSubdirectory = 'apps/api'
            Pm2Home = $pm2.Pm2Home; HealthPath = '/healthz'; ReadyPath = ''; VersionPath = ''; RequiredVariables = @('PORT'); MigrationPreset = 'None'
            SmokePreset = 'None'; StartupMarkers = @('listening on port {Port}')
            LogPath = "$dir/logs/not-a-file.log"; BackupPath = "$dir/backups"; StatePath = "$dir/state"
        } 'mono'
        $started = $target | Start-VaultBackend -Confirm:$false
    }

    It 'starts the app from its subdirectory: its ecosystem file, its build output, its .env' {
        $started.Healthy | Should-BeTrue
        $p = Get-PlainProcess $pm2
        $p.RealCwd | Should-Be "$app/apps/api"
        $p.ExecPath | Should-Be "$app/apps/api/dist/server.js"
        ($target | Get-VaultBackendVersion).Version | Should-Be '3.0.0-monorepo'
    }

    It 'deploys v3.0.1-monorepo: installs at the workspace root, builds in apps/api, links the env file there' {
        $r = $target | Invoke-VaultDeployment -Ref v3.0.1-monorepo -Verbose 4>&1 -ErrorVariable errs | Tee-Object -Variable all |
            Where-Object { $_.PSObject.TypeNames[0] -eq 'YieldVault.Ops.VaultDeploymentResult' }
        $errs.Count | Should-Be 0
        $r.Status | Should-Be 'Succeeded'
        $r.VersionBefore | Should-Be '3.0.0-monorepo'
        $r.VersionAfter | Should-Be '3.0.1-monorepo'
        $release = "$app-releases/releases/$($r.ReleaseAfter)"
        $ran = ($all | Where-Object { $_ -is [Management.Automation.VerboseRecord] } | Out-String)
        $ran | Should-BeLikeString "*npm installs the dependencies in $release (package-lock.json)*"
        $ran | Should-BeLikeString '*npm ci --include=dev*npm run build*npm prune --omit=dev*'
        $ran | Should-BeLikeString '*verify the entry point dist/server.js ("main" of package.json)*'
        Test-Path -LiteralPath "$release/apps/api/dist/server.js" | Should-BeTrue
        (& readlink -- "$release/apps/api/.env") | Should-Be "$app-releases/shared/.env"
        Test-Path -LiteralPath "$release/.env" | Should-BeFalse
        # The adopted first release kept its env file in apps/api too, now a link to the shared one.
        (& readlink -- "$app-releases/releases/$($r.ReleaseBefore)/apps/api/.env") | Should-Be "$app-releases/shared/.env"
        (Get-PlainProcess $pm2).RealCwd | Should-Be "$release/apps/api"
        Get-Features $port | Should-ContainCollection @('monorepo')
        (Get-RunText $r $all) | Should-NotBeLikeString "*$Token*"
    }

    It 'goes back with Undo-VaultDeployment' {
        $r = $target | Undo-VaultDeployment -Force
        $r.Status | Should-Be 'Succeeded'
        $r.VersionAfter | Should-Be '3.0.0-monorepo'
        (Get-Features $port) -contains 'monorepo' | Should-BeFalse
    }
}

Describe 'Health rules of a target' {
    BeforeAll {
        $ws = $script:Pm2Spaces | Select-Object -First 1
        $base = @{ Name = 'rules-1'; Port = $ws.Port; ServiceManager = 'Pm2'; ReadyPath = '' }
    }

    It 'takes a plain-text OK where the target says so, and not where it does not' {
        $text = New-VaultTarget @base -HealthPath /livez -HealthResponse Text | Test-VaultBackendHealth
        $text.Healthy | Should-BeTrue
        $text.Status | Should-Be 'OK'
        $json = New-VaultTarget @base -HealthPath /livez | Test-VaultBackendHealth
        $json.Healthy | Should-BeFalse
        $json.Error | Should-BeLikeString '*not with JSON*HealthResponse*'
    }

    It 'takes only the status values the target lists' {
        (New-VaultTarget @base -HealthPath /healthz -HealthyValues UP, pass | Test-VaultBackendHealth).Healthy | Should-BeFalse
        (New-VaultTarget @base -HealthPath /healthz -HealthyValues OK | Test-VaultBackendHealth).Healthy | Should-BeTrue
    }

    It 'is not healthy at the runbook''s /health, which this backend does not have, and says so' {
        $r = New-VaultTarget @base | Test-VaultBackendHealth
        $r.Healthy | Should-BeFalse
        $r.StatusCode | Should-Be 404
    }
}

Describe 'The plain backend with Docker over <Transport>, pulled from a private registry' -ForEach @(
    @{ Transport = 'local'; Owner = 'root' }
    @{ Transport = 'ssh'; Owner = 'yvops' }
) {
    BeforeAll {
        if (-not $script:Docker) {
            $script:Docker = Start-TestDockerd
            [void](Grant-TestDockerAccess -User yvops)
            [void](New-TestBackendImage)
            $script:Run = Get-TestDockerRunId
            $script:Registry = Start-TestRegistry
            $script:ImageOrigin = New-TestPlainOrigin -Directory (Join-Path $Root 'image-origin')
            $script:Images = @{}
            foreach ($ref in 'v2.0.0', 'v2.1.0', 'v2.1.1-broken') {
                $Images[$ref] = New-TestPlainImage -Origin $ImageOrigin -Ref $ref -Tag "yv-plain:$ref-$Run" -Base 'yieldvault-backend:v1.2.3-test' -RunId $Run
            }
        }

        # What this transport deploys lives only in the registry, under its own name: each pull is a real one.
        $private = @{}
        foreach ($ref in 'v2.1.0', 'v2.1.1-broken') {
            $private[$ref] = Publish-TestRegistryImage -Registry $Registry -Image $Images[$ref].Tag -Repository "yv-plain-$Transport-$Run" -Tag $ref
        }
        $wsRoot = Join-Path $Root "docker-$Transport"
        foreach ($d in 'app', 'logs', 'backups', 'state') { [void][IO.Directory]::CreateDirectory((Join-Path $wsRoot $d)) }
        $port = Get-FreeTcpPort
        Set-Content -LiteralPath "$wsRoot/app/.env" -Value "PORT=$port`nAPI_TOKEN=$Token`n"
        & chmod 600 "$wsRoot/app/.env"
        if ($Owner -ne 'root') { & chown -R "$Owner`:" $wsRoot }
        $service = "yv-plain-$Run-$Transport"
        $original = Start-TestBackendContainer -Name $service -Port $port -Image $Images['v2.0.0'].Tag -Environment @{ API_TOKEN = $Token } -RestartPolicy unless-stopped -NoWait
        for ($i = 0; $i -lt 100 -and (Get-HealthCode $port) -ne 200; $i++) { Start-Sleep -Milliseconds 100 }

        $settings = @{
            Name = "plain-docker-$Transport"; ServiceManager = 'Docker'; ServiceName = $service; Port = $port; AppPath = "$wsRoot/app"
            HealthPath = '/healthz'; ReadyPath = ''; VersionPath = ''; RequiredVariables = @('PORT'); MigrationPreset = 'None'; SmokePreset = 'None'
            StartupMarkers = @('listening on port {Port}'); LogPath = "$wsRoot/logs/not-a-file.log"; BackupPath = "$wsRoot/backups"; StatePath = "$wsRoot/state"
        }
        if ($Transport -eq 'ssh') { $settings += Get-SshSettings }
        $target = Get-PlainTarget $settings "docker-$Transport"
        $deploy = @{}
        if ($Transport -eq 'local') { $deploy.RegistryCredential = $Registry.Credential }

        function Get-Container([string] $Name) {
            $json = & docker container inspect $Name 2>$null
            if ($LASTEXITCODE -ne 0) { return $null }
            ($json | ConvertFrom-Json)[0]
        }
    }

    It 'serves v2.0.0, whose version comes from the image labels' {
        Get-HealthCode $port | Should-Be 200
        $v = $target | Get-VaultBackendVersion
        $v.Version | Should-Be '2.0.0'
        $v.Source | Should-Be 'image'
        $v.Commit | Should-Be $Images['v2.0.0'].Commit
    }

    It 'fails with ImagePullUnauthorized without credentials, and nothing stopped' {
        $before = Get-Container $service
        $r = $target | Invoke-VaultDeployment -Image $private['v2.1.0'] -ErrorVariable errs -ErrorAction SilentlyContinue
        $r.Status | Should-Be 'Failed'
        $r.ErrorId | Should-Be 'ImagePullUnauthorized'
        $errs[0].FullyQualifiedErrorId | Should-Be 'ImagePullUnauthorized,YieldVault.Ops.Commands.InvokeVaultDeploymentCommand'
        # The error says what happened and what to do.
        $r.Error | Should-BeLikeString "*refused*No credentials were sent*Nothing was changed*-RegistryCredential*docker login $($Registry.Address)*"
        ($r.Steps | Where-Object Number -EQ 6).Outcome | Should-Be 'NotRun'
        $r.FailedProbes | Should-Be 0
        (Get-Container $service).State.StartedAt | Should-Be $before.State.StartedAt
        $null = & docker image inspect $private['v2.1.0'] 2>$null
        $LASTEXITCODE | Should-Be 1 -Because 'the refused image must not be on the engine'

    }

    It 'fails with ImagePullUnauthorized for a wrong password, and never shows it' {
        $wrong = [pscredential]::new($Registry.User, (ConvertTo-SecureString ('Planted-Wrong-Password-' + [guid]::NewGuid().ToString('N').Substring(0, 8)) -AsPlainText -Force))
        $r = $target | Invoke-VaultDeployment -Image $private['v2.1.0'] -RegistryCredential $wrong -Verbose 4>&1 -ErrorVariable errs -ErrorAction SilentlyContinue |
            Tee-Object -Variable all | Where-Object { $_.PSObject.TypeNames[0] -eq 'YieldVault.Ops.VaultDeploymentResult' }
        $r.ErrorId | Should-Be 'ImagePullUnauthorized'
        $r.Error | Should-BeLikeString '*refused the credentials from -RegistryCredential*'
        (Get-RunText $r $all) + ($errs | Out-String) | Should-NotBeLikeString "*$($wrong.GetNetworkCredential().Password)*"
    }

    It 'pulls with credentials (-RegistryCredential locally, the host''s ~/.docker/config.json over SSH) and serves v2.1.0' {
        if ($Transport -eq 'ssh') {
            $script:YvopsDocker = '/home/yvops/.docker'
            Test-Path -LiteralPath $YvopsDocker | Should-BeFalse -Because 'the test user must have no docker login of its own here'
            [void](Write-TestDockerLogin -Registry $Registry -Directory $YvopsDocker -Owner yvops)
        }
        $r = $target | Invoke-VaultDeployment -Image $private['v2.1.0'] @deploy -Verbose 4>&1 -ErrorVariable errs | Tee-Object -Variable all |
            Where-Object { $_.PSObject.TypeNames[0] -eq 'YieldVault.Ops.VaultDeploymentResult' }
        $errs.Count | Should-Be 0
        $r.Status | Should-Be 'Succeeded'
        $r.VersionBefore | Should-Be '2.0.0'
        $r.VersionAfter | Should-Be '2.1.0'
        $r.CommitAfter | Should-Be $Images['v2.1.0'].Commit
        $r.ReleaseAfter | Should-Be $private['v2.1.0']
        Get-Features $port | Should-ContainCollection @('greetings')
        (Get-Container $service).Config.Image | Should-Be $private['v2.1.0']
        $text = Get-RunText $r $all
        $text | Should-BeLikeString $(if ($Transport -eq 'local') { '*-RegistryCredential*' } else { '*config.json*' })
        $text | Should-NotBeLikeString "*$($Registry.Password)*"
        $text | Should-NotBeLikeString "*$Token*"
    }

    It 'rolls back by itself when the broken image answers 503, and v2.1.0 serves again' {
        $r = $target | Invoke-VaultDeployment -Image $private['v2.1.1-broken'] @deploy -HealthTimeoutSec 4 -StopTimeoutSec 10 -ErrorVariable errs -ErrorAction SilentlyContinue
        $r.Status | Should-Be 'RolledBack'
        $r.ErrorId | Should-Be 'HealthCheckTimeout'
        $r.VersionAfter | Should-Be '2.1.0'
        (Get-Container $service).Config.Image | Should-Be $private['v2.1.0']
        Get-HealthCode $port | Should-Be 200
        Get-Features $port | Should-ContainCollection @('greetings')
    }

    It 'goes back to v2.0.0 with Undo-VaultDeployment' {
        $r = $target | Undo-VaultDeployment -Force
        $r.Status | Should-Be 'Succeeded'
        $r.VersionAfter | Should-Be '2.0.0'
        (Get-Container $service).Id | Should-Be $original.Id
        (Get-Features $port) -contains 'greetings' | Should-BeFalse
    }
}
