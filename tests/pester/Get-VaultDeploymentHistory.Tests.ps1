# The records every run leaves on the target's host (the runbook's deployments.log block and history.jsonl), and
# Get-VaultDeploymentHistory reading them back, with PM2 and the sample backend (real PostgreSQL, RPC stand-in,
# git origin with tags), locally and over real SSH.
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestCommon.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot '../services/YieldVault.TestServices.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot '../services/Pm2.TestServices.psm1') -Force
    Import-Module (Get-VaultModuleManifest) -Force

    $script:ApiKey = 'Planted-Api-Key-' + [guid]::NewGuid().ToString('N').Substring(0, 8)
    $script:DeployedBy = "$([Environment]::UserName)@$([Environment]::MachineName)"

    # A workspace (as in Invoke-VaultDeployment.Tests): <dir>/origin.git, a built v1.2.3 checkout at <dir>/app (adopted
    # into releases/ by the first deployment), its .env with planted secrets, a PM2_HOME.
    function New-Workspace([string] $Owner = 'root', [string] $Name = 'ws') {
        $ws = New-TestPm2Workspace -User $Owner
        $dir = Join-Path $ws.Directory $Name
        New-Item -ItemType Directory -Path $dir | Out-Null
        [pscustomobject]@{
            Directory = $dir; Root = $ws.Directory; Pm2Home = $ws.Pm2Home; Pm2Ws = $ws; App = (Join-Path $dir 'app'); Port = 0; Owner = $Owner
            History = "$dir/state/yieldvault-backend/history.jsonl"; DeploymentLog = "$dir/logs/deployments.log"
        }
    }

    function Initialize-Workspace($Ws) {
        $Ws.Port = Get-FreeTcpPort
        @("PORT=$($Ws.Port)", 'NODE_ENV=production', "STELLAR_RPC_URL=$($Rpc.Url)", "DATABASE_URL=$($Postgres.DatabaseUrl)",
            'VAULT_CONTRACT_ID=CDLZFC3SYJYDZT7K67VZ75HPJVIEUVNIXF47ZG2FB2RMQQVU2HHGCYSC', "ADMIN_API_KEY=$ApiKey",
            "LOG_FILE=$($Ws.Directory)/logs/backend.log", 'SHUTDOWN_DRAIN_MS=300') | Set-Content -LiteralPath (Join-Path $Ws.App '.env')
        & chmod 600 (Join-Path $Ws.App '.env')
        if ($Ws.Owner -ne 'root') { & chown -R "$($Ws.Owner):" $Ws.Root }
    }

    # Local: root runs PM2; the workspace path has a space and a quote to prove paths are quoted everywhere.
    # The origin and the built checkout take longest and need no service: they are made while the services start.
    $script:Local = New-Workspace -Name "local hist 'q'"
    $checkout = Start-ThreadJob -ArgumentList (Join-Path $PSScriptRoot '../services/YieldVault.TestServices.psm1'), $Local.Directory, $Local.App -ScriptBlock {
        param($module, $dir, $app)
        Import-Module $module
        $null = New-TestSampleCheckout -Origin (New-TestSampleOrigin -Directory $dir) -Ref v1.2.3 -Path $app
    }
    try {
        $script:Postgres = Start-TestPostgres
        $script:Rpc = Start-TestStellarRpc
        $script:Sshd = Start-TestSshd
    }
    finally {
        $checkout | Wait-Job -Timeout 300 | Receive-Job -ErrorAction Stop
        $checkout | Remove-Job -Force
    }
    Test-Path -LiteralPath "$($Local.App)/dist/index.js" | Should-BeTrue -Because 'the v1.2.3 checkout should be built'
    # One database for both workspaces: the schema of v1.2.3 once.
    [void](Invoke-TestSampleMigration -Path $Local.App -DatabaseUrl $Postgres.DatabaseUrl)
    Initialize-Workspace $Local

    # SSH: yvops owns the workspace and its PM2 daemon; every command goes over the SSH connection. Its origin and
    # checkout are copies of the local ones (a clone, an npm ci and a build fewer).
    $script:Remote = New-Workspace -Owner $Sshd.User -Name 'remote'
    & cp -a -- "$($Local.Directory)/origin.git" $Local.App $Remote.Directory
    & git -C $Remote.App remote set-url origin "$($Remote.Directory)/origin.git"
    if ($LASTEXITCODE -ne 0) { throw "Could not copy the workspace $($Local.Directory) to $($Remote.Directory)." }
    Initialize-Workspace $Remote

    function New-WsTarget($Ws, [switch] $Ssh, [hashtable] $Extra = @{}) {
        $p = @{
            Name = 'deploy-1'; Port = $Ws.Port; AppPath = $Ws.App; ServiceManager = 'Pm2'; Pm2Home = $Ws.Pm2Home; MigrationPreset = 'Npm'
            LogPath = "$($Ws.Directory)/logs/backend.log"; BackupPath = "$($Ws.Directory)/backups"; StatePath = "$($Ws.Directory)/state"
        }
        if ($Ssh) { $p += @{ HostName = $Sshd.HostName; SshPort = $Sshd.Port; User = $Sshd.User; KeyFile = $Sshd.UserKeyFile; KnownHostsFile = $Sshd.KnownHostsFile } }
        foreach ($k in $Extra.Keys) { $p[$k] = $Extra[$k] }
        New-VaultTarget @p
    }

    # The blocks of deployments.log, oldest first, each as a hashtable of its lines.
    function Get-LogBlock([string] $Path) {
        $text = (Get-Content -LiteralPath $Path -Raw) -replace "`r", ''
        $text | Should-MatchString '\n\n$' -Because 'every block ends with a blank line'
        foreach ($block in $text.TrimEnd("`n") -split "`n`n") {
            $fields = [ordered]@{}
            foreach ($line in $block -split "`n") {
                $name, $value = $line -split ': ', 2
                $fields[$name] = $value
            }
            $fields
        }
    }

    $script:LocalTarget = New-WsTarget $Local
    $null = $LocalTarget | Start-VaultBackend -Confirm:$false
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

Describe 'Deployment records with PM2, on this machine and over SSH' {
    It 'starts with an empty history, without an error, on <Key>' -ForEach @(@{ Key = 'Local' }, @{ Key = 'Remote' }) {
        $ws = Get-Variable -Name $Key -ValueOnly
        $target = if ($Key -eq 'Local') { $LocalTarget } else { $SshTarget }
        $h = $target | Get-VaultDeploymentHistory -ErrorVariable errs -WarningVariable warns
        $h | Should-BeNull
        $errs.Count | Should-Be 0
        $warns.Count | Should-Be 0
        Test-Path -LiteralPath $ws.History | Should-BeFalse
    }

    Context 'after a deployment of v1.2.3 -> v1.3.0 and an undo, on both targets at the same time' {
        BeforeAll {
            # Each deployment builds v1.3.0 (npm ci, tsc); running the two side by side keeps the suite short.
            $job = Start-ThreadJob -ArgumentList (Get-VaultModuleManifest), $SshTarget -ScriptBlock {
                param($module, $target)
                Import-Module $module
                $deployed = $target | Invoke-VaultDeployment -Ref v1.3.0 -Incident INCIDENT-123 -Confirm:$false -WarningAction SilentlyContinue
                [pscustomobject]@{ Deployed = $deployed; Undone = $target | Undo-VaultDeployment -Force }
            }
            try {
                $run = $LocalTarget | Invoke-VaultDeployment -Ref v1.3.0 -Incident INCIDENT-123 -WarningAction SilentlyContinue
                $localRun = [pscustomobject]@{ Deployed = $run; Undone = $LocalTarget | Undo-VaultDeployment -Force }
            }
            finally {
                $remoteRun = $job | Wait-Job -Timeout 300 | Receive-Job -ErrorAction Stop
                $job | Remove-Job -Force
            }
            $script:Runs = @{ Local = $localRun; Remote = $remoteRun }
        }

        Context 'on <Where>' -ForEach @(@{ Where = 'this machine'; Key = 'Local' }, @{ Where = 'an SSH host'; Key = 'Remote' }) {
            BeforeAll {
                $ws = Get-Variable -Name $Key -ValueOnly
                $target = if ($Key -eq 'Local') { $LocalTarget } else { $SshTarget }
                $Deployed = $Runs[$Key].Deployed
                $Undone = $Runs[$Key].Undone
            }

            It 'records both: -Last 2 is the rollback, then the deployment' {
                $Deployed.Status | Should-Be 'Succeeded'
                $Undone.Status | Should-Be 'Succeeded'

                $h = @($target | Get-VaultDeploymentHistory -Last 2)
                $h.Count | Should-Be 2
                $h[0].GetType().FullName | Should-Be 'YieldVault.Ops.VaultDeploymentRecord'
                $h[0].Target.GetType().FullName | Should-Be 'YieldVault.Ops.VaultTarget'
                $h[0].Target.Name | Should-Be 'deploy-1'

                $rollback, $deployment = $h
                $rollback.RunId | Should-Be $Undone.RunId
                $rollback.Kind | Should-Be 'rollback'
                $rollback.Status | Should-Be 'Succeeded'
                $rollback.VersionBefore | Should-Be '1.3.0'
                $rollback.VersionAfter | Should-Be '1.2.3'
                $rollback.Source | Should-Be $Deployed.ReleaseBefore
                $rollback.Incident | Should-BeNull

                $deployment.RunId | Should-Be $Deployed.RunId
                $deployment.Kind | Should-Be 'deploy'
                $deployment.Status | Should-Be 'Succeeded'
                $deployment.Source | Should-Be 'v1.3.0'
                $deployment.Incident | Should-Be 'INCIDENT-123'
                $deployment.VersionBefore | Should-Be '1.2.3'
                $deployment.VersionAfter | Should-Be '1.3.0'
                $deployment.CommitBefore | Should-Be $Deployed.CommitBefore
                $deployment.CommitAfter | Should-MatchString '^[0-9a-f]{40}$'
                $deployment.CommitAfter | Should-Be $Deployed.CommitAfter
                $deployment.ReleaseAfter | Should-Be $Deployed.ReleaseAfter
                $deployment.JournalPath | Should-Be $Deployed.JournalPath
                $deployment.DeployedBy | Should-Be $DeployedBy
                $deployment.ErrorId | Should-BeNull
                $deployment.StartedAt | Should-Be $Deployed.StartedAt
                [math]::Abs(($deployment.Duration - $Deployed.Duration).TotalMilliseconds) | Should-BeLessThan 1
                $deployment.DowntimeMs | Should-Be ([math]::Round($Deployed.DowntimeMs, 1))
                $deployment.StartedAt | Should-BeLessThan $rollback.StartedAt

                # One JSON line per run, in the order the runs ended.
                $lines = @(Get-Content -LiteralPath $ws.History)
                $lines.Count | Should-Be 2
                ($lines[0] | ConvertFrom-Json -AsHashtable).incident | Should-Be 'INCIDENT-123'
                ($lines[1] | ConvertFrom-Json -AsHashtable).kind | Should-Be 'rollback'
            }

            It 'writes the runbook''s block to deployments.log beside the backend''s log' {
                $blocks = @(Get-LogBlock $ws.DeploymentLog)
                $blocks.Count | Should-Be 2
                $deploy, $rollback = $blocks
                @($deploy.Keys) | Should-BeCollection @('Deployment', 'Version', 'Deployed By', 'Incident', 'Status')
                $deploy.Deployment | Should-MatchString '^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$'
                ([DateTimeOffset]::Parse($deploy.Deployment) - $Deployed.StartedAt).TotalSeconds | Should-BeGreaterThan -1
                $deploy.Version | Should-Be $Deployed.CommitAfter
                $deploy['Deployed By'] | Should-Be $DeployedBy
                $deploy.Incident | Should-Be 'INCIDENT-123'
                $deploy.Status | Should-Be 'Success'
                $rollback.Incident | Should-Be '-'
                $rollback.Status | Should-Be 'Rollback'
                $rollback.Version | Should-Be $Deployed.CommitBefore
            }

            It 'records a deployment that fails before the stop (a ref that does not exist) as Failed' {
                $script:Missing = $target | Invoke-VaultDeployment -Ref v9.9.9 -Incident INCIDENT-124 -ErrorAction SilentlyContinue
                $Missing.ErrorId | Should-Be 'RefNotFound'

                $last = $target | Get-VaultDeploymentHistory -Last 1
                $last.RunId | Should-Be $Missing.RunId
                $last.Status | Should-Be 'Failed'
                $last.ErrorId | Should-Be 'RefNotFound'
                $last.Error | Should-BeLikeString '*v9.9.9*'
                $last.Source | Should-Be 'v9.9.9'
                $last.VersionAfter | Should-Be '1.2.3'
                $last.Incident | Should-Be 'INCIDENT-124'

                $block = @(Get-LogBlock $ws.DeploymentLog)[-1]
                $block.Status | Should-Be 'Failed'
                $block.Incident | Should-Be 'INCIDENT-124'
            }

            It 'filters by -Status, -Kind and -Since, and -Last applies after them' {
                @($target | Get-VaultDeploymentHistory -Status Succeeded).RunId | Should-BeCollection @($Undone.RunId, $Deployed.RunId)
                @($target | Get-VaultDeploymentHistory -Status Failed).RunId | Should-BeCollection @($Missing.RunId)
                @($target | Get-VaultDeploymentHistory -Status Failed, RolledBack).RunId | Should-BeCollection @($Missing.RunId)
                @($target | Get-VaultDeploymentHistory -Kind rollback).RunId | Should-BeCollection @($Undone.RunId)
                @($target | Get-VaultDeploymentHistory -Kind deploy).RunId | Should-BeCollection @($Missing.RunId, $Deployed.RunId)
                @($target | Get-VaultDeploymentHistory -Kind deploy -Status Succeeded -Last 1).RunId | Should-BeCollection @($Deployed.RunId)
                @($target | Get-VaultDeploymentHistory -Kind drill).Count | Should-Be 0

                $rollbackStart = ($target | Get-VaultDeploymentHistory -Kind rollback).StartedAt
                @($target | Get-VaultDeploymentHistory -Since $rollbackStart.UtcDateTime).RunId | Should-BeCollection @($Missing.RunId, $Undone.RunId)
                @($target | Get-VaultDeploymentHistory -Since $rollbackStart.LocalDateTime).RunId | Should-BeCollection @($Missing.RunId, $Undone.RunId)
                @($target | Get-VaultDeploymentHistory -Since (Get-Date).AddMinutes(5)).Count | Should-Be 0
            }

            It 'keeps the .env''s secrets out of history.jsonl and deployments.log, even when one is typed into -Ref' {
                # A valid ref that happens to be the API key: it is the Source and is in RefNotFound's message.
                $r = $target | Invoke-VaultDeployment -Ref $ApiKey -ErrorAction SilentlyContinue
                $r.ErrorId | Should-Be 'RefNotFound'

                $last = $target | Get-VaultDeploymentHistory -Last 1
                $last.RunId | Should-Be $r.RunId
                $last.Source | Should-Be '***'
                foreach ($file in $ws.History, $ws.DeploymentLog) {
                    $text = Get-Content -LiteralPath $file -Raw
                    $text | Should-NotBeLikeString "*$ApiKey*"
                    $text | Should-NotBeLikeString "*$($Postgres.Password)*"
                }
            }
        }
    }
}

Describe 'Records that cannot be written, and a damaged history' {
    It 'warns when the log directory cannot be written, and the rollback still succeeds and is in the history' {
        # The log "directory" is a file: mkdir fails even for root.
        $blocker = Join-Path $Local.Directory 'not-a-directory'
        Set-Content -LiteralPath $blocker -Value 'x'
        $target = New-WsTarget $Local -Extra @{ LogPath = "$blocker/backend.log" }
        $release = ($LocalTarget | Get-VaultDeploymentHistory -Kind deploy -Status Succeeded -Last 1).ReleaseAfter

        $r = $target | Undo-VaultDeployment -Release $release -Force -WarningVariable warns -WarningAction SilentlyContinue
        $r.Status | Should-Be 'Succeeded'
        @($warns | Where-Object { "$_" -like "*could not write to the runbook's deployment log $blocker/deployments.log*" }).Count | Should-Be 1
        ($LocalTarget | Get-VaultDeploymentHistory -Last 1).RunId | Should-Be $r.RunId
    }

    It 'skips a line that is not a record with a warning that names the line, and reads the others' {
        $count = @(Get-Content -LiteralPath $Local.History).Count
        Add-Content -LiteralPath $Local.History -Value '{"run":"cut-short","kind":"deploy","stat'
        $r = $LocalTarget | Invoke-VaultDeployment -Ref v9.9.9 -ErrorAction SilentlyContinue

        $h = @($LocalTarget | Get-VaultDeploymentHistory -WarningVariable warns -WarningAction SilentlyContinue)
        $h.Count | Should-Be ($count + 1)
        $h[0].RunId | Should-Be $r.RunId
        $warns.Count | Should-Be 1
        "$($warns[0])" | Should-BeLikeString "*line $($count + 1) of $($Local.History) is not a deployment record*"
    }
}
