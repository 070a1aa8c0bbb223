# Invoke-VaultDeployment -Artifact <URL> -Sha256 end to end: a real pre-built artifact of the sample backend (v1.3.0,
# SampleArtifacts.TestServices) served by a local HTTP server (HttpFiles.TestServices) and downloaded with curl on the
# target's host, on this machine and over SSH, into a PM2 deployment of v1.2.3. A good download is deployed (through
# redirects); a wrong checksum, an artifact over MaxArtifactSizeMB (with and without a Content-Length), a 404, a redirect
# loop, a redirect to file://, and a stalled download are refused before the stop, with the old version serving and
# nothing unpacked; what a signed URL carries in its query is never shown.
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestCommon.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot '../services/YieldVault.TestServices.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot '../services/Pm2.TestServices.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot '../services/SampleArtifacts.TestServices.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot '../services/HttpFiles.TestServices.psm1') -Force
    Import-Module (Get-VaultModuleManifest) -Force

    $clock = [Diagnostics.Stopwatch]::StartNew()
    $script:Root = Join-Path ([IO.Path]::GetTempPath()) ('yv-artifacts-' + [guid]::NewGuid().ToString('N').Substring(0, 8))
    [void][IO.Directory]::CreateDirectory($Root)
    [IO.File]::SetUnixFileMode($Root, [IO.UnixFileMode]'UserRead, UserWrite, UserExecute, GroupRead, GroupExecute, OtherRead, OtherExecute')
    $script:Origin = New-TestSampleOrigin -Directory $Root
    $script:Build = Start-TestSampleArtifacts -Origin $Origin -Directory $Root -Tags 'v1.3.0'

    $script:Postgres = Start-TestPostgres
    $script:Rpc = Start-TestStellarRpc
    $script:Sshd = Start-TestSshd
    $script:Files = Join-Path $Root 'served'
    [void][IO.Directory]::CreateDirectory($Files)
    $script:Http = Start-TestHttpFileServer -Directory $Files
    # 3 MB that no target with MaxArtifactSizeMB = 2 may take.
    $big = [byte[]]::new(3MB)
    [Security.Cryptography.RandomNumberGenerator]::Fill($big)
    [IO.File]::WriteAllBytes((Join-Path $Files 'oversize.tar.gz'), $big)
    $script:ApiKey = 'Planted-Api-Key-' + [guid]::NewGuid().ToString('N').Substring(0, 8)
    $script:Base = Wait-TestSampleBase $Build
    [void](Invoke-TestSampleMigration -Path $Base -DatabaseUrl $Postgres.DatabaseUrl)

    function New-Workspace([string] $Owner, [string] $Name) {
        $ws = New-TestPm2Workspace -User $Owner
        $dir = Join-Path $ws.Directory $Name
        New-Item -ItemType Directory -Path $dir | Out-Null
        $app = Join-Path $dir 'app'
        & cp -a -- $Base $app
        $port = Get-FreeTcpPort
        @("PORT=$port", 'NODE_ENV=production', "STELLAR_RPC_URL=$($Rpc.Url)", "DATABASE_URL=$($Postgres.DatabaseUrl)",
            'VAULT_CONTRACT_ID=CDLZFC3SYJYDZT7K67VZ75HPJVIEUVNIXF47ZG2FB2RMQQVU2HHGCYSC', "ADMIN_API_KEY=$ApiKey",
            "LOG_FILE=$dir/logs/backend.log", 'SHUTDOWN_DRAIN_MS=300') | Set-Content -LiteralPath (Join-Path $app '.env')
        & chmod 600 (Join-Path $app '.env')
        if ($Owner -ne 'root') { & chown -R "$Owner`:" $ws.Directory }
        [pscustomobject]@{ Directory = $dir; Root = $ws.Directory; Pm2Home = $ws.Pm2Home; Pm2Ws = $ws; App = $app; Port = $port; Owner = $Owner
            Releases = "$app-releases/releases"; State = "$dir/state" }
    }

    function New-WsTarget($Ws, [switch] $Ssh, [hashtable] $Extra = @{}) {
        $p = @{
            Name = 'artifact-1'; Port = $Ws.Port; AppPath = $Ws.App; ServiceManager = 'Pm2'; Pm2Home = $Ws.Pm2Home; MigrationPreset = 'None'
            LogPath = "$($Ws.Directory)/logs/backend.log"; BackupPath = "$($Ws.Directory)/backups"; StatePath = $Ws.State
        }
        if ($Ssh) { $p += @{ HostName = $Sshd.HostName; SshPort = $Sshd.Port; User = $Sshd.User; KeyFile = $Sshd.UserKeyFile; KnownHostsFile = $Sshd.KnownHostsFile; SshConfigFile = 'none' } }
        foreach ($k in $Extra.Keys) { $p[$k] = $Extra[$k] }
        New-VaultTarget @p
    }

    function Get-ServedVersion($Ws) { (Invoke-RestMethod -Uri "http://127.0.0.1:$($Ws.Port)/api/v1/version" -TimeoutSec 5).version }

    function Get-Pm2Pid($Ws) { (Get-TestPm2List -Workspace $Ws.Pm2Ws | Where-Object name -EQ 'yieldvault-backend').pid }

    # What a refusal before the stop must leave: the same process serving the same version, no new release, no download left.
    function Get-Snapshot($Ws) {
        [pscustomobject]@{
            Pid      = Get-Pm2Pid $Ws
            Version  = Get-ServedVersion $Ws
            Releases = @(Get-ChildItem -LiteralPath $Ws.Releases -Force -ErrorAction Ignore | ForEach-Object Name | Sort-Object)
        }
    }

    function Assert-Untouched($Ws, $Before, $Result) {
        $Result.Status | Should-Be 'Failed'
        ($Result.Steps | Where-Object Number -EQ 6).Outcome | Should-Be 'NotRun' -Because 'nothing was stopped'
        Get-Pm2Pid $Ws | Should-Be $Before.Pid
        Get-ServedVersion $Ws | Should-Be $Before.Version
        @(Get-ChildItem -LiteralPath $Ws.Releases -Force -ErrorAction Ignore | ForEach-Object Name | Sort-Object) | Should-BeCollection $Before.Releases -Because 'nothing was unpacked and no download is left behind'
    }

    function Invoke-Deploy($Target, [string] $Url, [string] $Sha256) {
        $Target | Invoke-VaultDeployment -Artifact $Url -Sha256 $Sha256 -Confirm:$false -ErrorVariable script:DeployErrors -ErrorAction SilentlyContinue -WarningAction SilentlyContinue
    }

    $script:Local = New-Workspace -Owner root -Name 'local'
    $script:LocalTarget = New-WsTarget $Local
    $null = $LocalTarget | Start-VaultBackend -Confirm:$false
    $script:Remote = New-Workspace -Owner $Sshd.User -Name 'remote'
    $script:SshTarget = New-WsTarget $Remote -Ssh
    $null = $SshTarget | Start-VaultBackend -Confirm:$false

    $art = Wait-TestSampleArtifacts $Build
    Copy-Item -LiteralPath $art['v1.3.0'].Artifact -Destination (Join-Path $Files 'v1.3.0.tar.gz')
    $script:Sha = $art['v1.3.0'].Sha256
    $script:Wrong = ('0' * 63) + '1'
    Write-Host "    set-up (services, v1.2.3 on PM2 here and over SSH, the v1.3.0 artifact): $([math]::Round($clock.Elapsed.TotalSeconds, 1)) s"
}

AfterAll {
    foreach ($ws in $script:Local, $script:Remote) { if ($ws) { Stop-TestPm2 -Workspace $ws.Pm2Ws -ErrorAction Continue } }
    if ($script:Build -and -not $Build.Process.HasExited) { $Build.Process.Kill($true) }
    Remove-Module YieldVault.Ops -ErrorAction Ignore
    if ($script:Http) { Stop-TestHttpFileServer $Http }
    if ($script:Sshd) { Stop-TestSshd $Sshd }
    if ($script:Rpc) { Stop-TestStellarRpc $Rpc }
    if ($script:Postgres) { Stop-TestPostgres $Postgres }
    foreach ($ws in $script:Local, $script:Remote) { if ($ws) { Remove-Item -LiteralPath $ws.Root -Recurse -Force -ErrorAction Ignore } }
    if ($script:Root) { Remove-Item -LiteralPath $Root -Recurse -Force -ErrorAction Ignore }
    Stop-AllTestServices
}

Describe 'Artifact downloads refused before the stop (on this machine)' {
    It 'a 404 is ArtifactUnavailable (ObjectNotFound) with the status, and the old version serves on' {
        $before = Get-Snapshot $Local
        $r = Invoke-Deploy $LocalTarget "$($Http.Url)/files/no-such-artifact.tar.gz" $Sha
        $r.ErrorId | Should-Be 'ArtifactUnavailable'
        $r.Error | Should-BeLikeString '*HTTP 404*'
        $DeployErrors[0].CategoryInfo.Category | Should-Be 'ObjectNotFound'
        Assert-Untouched $Local $before $r
    }

    It 'a wrong checksum is ChecksumMismatch: downloaded, not unpacked, nothing stopped' {
        $before = Get-Snapshot $Local
        $requests = @(Get-TestHttpFileRequests $Http).Count
        $r = Invoke-Deploy $LocalTarget "$($Http.Url)/files/v1.3.0.tar.gz" $Wrong
        $r.ErrorId | Should-Be 'ChecksumMismatch'
        $r.Error | Should-BeLikeString "*SHA-256 is $Sha, not $Wrong*"
        @(Get-TestHttpFileRequests $Http | Select-Object -Skip $requests | Where-Object url -EQ '/files/v1.3.0.tar.gz').Count | Should-Be 1
        Assert-Untouched $Local $before $r
    }

    It 'an artifact over MaxArtifactSizeMB is ArtifactTooLarge (LimitsExceeded), <Case>' -ForEach @(
        @{ Case = 'from its Content-Length'; Path = 'files' }
        @{ Case = 'cut off as it arrives without a Content-Length'; Path = 'chunked' }
    ) {
        $before = Get-Snapshot $Local
        $t = New-WsTarget $Local -Extra @{ MaxArtifactSizeMB = 2 }
        $r = Invoke-Deploy $t "$($Http.Url)/$Path/oversize.tar.gz" $Sha
        $r.ErrorId | Should-Be 'ArtifactTooLarge'
        $r.Error | Should-BeLikeString '*larger than the target''s MaxArtifactSizeMB of 2 MB*'
        $DeployErrors[0].CategoryInfo.Category | Should-Be 'LimitsExceeded'
        Assert-Untouched $Local $before $r
    }

    It 'a file on the host over MaxArtifactSizeMB is refused before it is copied' {
        $before = Get-Snapshot $Local
        $r = Invoke-Deploy (New-WsTarget $Local -Extra @{ MaxArtifactSizeMB = 2 }) (Join-Path $Files 'oversize.tar.gz') $Sha
        $r.ErrorId | Should-Be 'ArtifactTooLarge'
        $r.Error | Should-BeLikeString "*($((Get-Item (Join-Path $Files 'oversize.tar.gz')).Length) bytes)*"
        Assert-Untouched $Local $before $r
    }

    It 'redirects are bounded: <Case>' -ForEach @(
        @{ Case = 'a loop'; Path = 'loop'; Message = '*redirected more than 5 times*'; Category = 'ResourceUnavailable' }
        @{ Case = 'six hops'; Path = 'redirect/6/files/v1.3.0.tar.gz'; Message = '*redirected more than 5 times*'; Category = 'ResourceUnavailable' }
        @{ Case = 'to file://'; Path = 'to-file'; Message = '*redirected to a protocol that is not allowed*'; Category = 'SecurityError' }
    ) {
        $before = Get-Snapshot $Local
        $r = Invoke-Deploy $LocalTarget "$($Http.Url)/$Path" $Sha
        $r.ErrorId | Should-Be 'ArtifactUnavailable'
        $r.Error | Should-BeLikeString $Message
        $DeployErrors[0].CategoryInfo.Category | Should-Be $Category
        Assert-Untouched $Local $before $r
    }

    It 'a download that stalls is stopped after ArtifactTimeoutSec (OperationTimeout)' {
        $before = Get-Snapshot $Local
        $watch = [Diagnostics.Stopwatch]::StartNew()
        $r = Invoke-Deploy (New-WsTarget $Local -Extra @{ ArtifactTimeoutSec = 5 }) "$($Http.Url)/stall/v1.3.0.tar.gz" $Sha
        $watch.Stop()
        $r.ErrorId | Should-Be 'ArtifactUnavailable'
        $r.Error | Should-BeLikeString '*did not finish within the target''s ArtifactTimeoutSec of 5 s*'
        $DeployErrors[0].CategoryInfo.Category | Should-Be 'OperationTimeout'
        $watch.Elapsed.TotalSeconds | Should-BeLessThan 60
        Assert-Untouched $Local $before $r
    }

    It 'never shows what a signed URL carries in its query: not in errors, -Verbose, the journal or the history' {
        $token = 'Planted-Artifact-Token-' + [guid]::NewGuid().ToString('N').Substring(0, 12)
        $verbose = $LocalTarget | Invoke-VaultDeployment -Artifact "$($Http.Url)/files/signed.tar.gz?X-Signature=$token&expires=1" -Sha256 $Sha -Confirm:$false `
            -Verbose -ErrorVariable errs -ErrorAction SilentlyContinue -WarningAction SilentlyContinue 4>&1
        $result = @($verbose | Where-Object { $_ -isnot [System.Management.Automation.VerboseRecord] })[0]
        $result.ErrorId | Should-Be 'ArtifactUnavailable'
        $result.Error | Should-BeLikeString '*signed.tar.gz?X-Signature=`*`*`*&expires=`*`*`**'
        $result.Source | Should-BeLikeString '*?X-Signature=`*`*`*&expires=`*`*`*'
        $everything = (@($verbose | ForEach-Object { "$_" }) + @($errs | ForEach-Object { "$_"; $_.ErrorDetails.RecommendedAction }) + $result.Error + $result.Source) -join "`n"
        $everything.Contains($token) | Should-BeFalse
        $records = @(Get-ChildItem -LiteralPath $Local.State -Recurse -File | Where-Object { (Get-Content -LiteralPath $_.FullName -Raw).Contains($token) })
        $records.Count | Should-Be 0 -Because 'the lock, journal and history record the URL without its query values'
    }
}

Describe 'Artifact downloads deployed' {
    It 'deploys a good download through 3 redirects on this machine, checked by its SHA-256' {
        $r = Invoke-Deploy $LocalTarget "$($Http.Url)/redirect/3/files/v1.3.0.tar.gz" $Sha
        $r.Status | Should-Be 'Succeeded'
        $r.VersionAfter | Should-Be '1.3.0'
        Get-ServedVersion $Local | Should-Be '1.3.0'
        $fetched = @(Get-TestHttpFileRequests $Http | Where-Object url -EQ '/files/v1.3.0.tar.gz')[-1]
        $fetched.userAgent | Should-Be 'yieldvault-ops'
    }
}

Describe 'Artifact downloads over SSH (curl runs on the target''s host)' {
    It 'a wrong checksum is refused before the stop' {
        $before = Get-Snapshot $Remote
        $r = Invoke-Deploy $SshTarget "$($Http.Url)/files/v1.3.0.tar.gz" $Wrong
        $r.ErrorId | Should-Be 'ChecksumMismatch'
        Assert-Untouched $Remote $before $r
    }

    It 'an artifact over MaxArtifactSizeMB is refused before the stop' {
        $before = Get-Snapshot $Remote
        $r = Invoke-Deploy (New-WsTarget $Remote -Ssh -Extra @{ MaxArtifactSizeMB = 2 }) "$($Http.Url)/chunked/oversize.tar.gz" $Sha
        $r.ErrorId | Should-Be 'ArtifactTooLarge'
        Assert-Untouched $Remote $before $r
    }

    It 'a 404 is refused before the stop' {
        $before = Get-Snapshot $Remote
        $r = Invoke-Deploy $SshTarget "$($Http.Url)/files/gone.tar.gz" $Sha
        $r.ErrorId | Should-Be 'ArtifactUnavailable'
        $r.Error | Should-BeLikeString '*HTTP 404*'
        Assert-Untouched $Remote $before $r
    }

    It 'deploys a good download, fetched and unpacked by the SSH user on the host' {
        $r = Invoke-Deploy $SshTarget "$($Http.Url)/files/v1.3.0.tar.gz" $Sha
        $r.Status | Should-Be 'Succeeded'
        $r.VersionAfter | Should-Be '1.3.0'
        Get-ServedVersion $Remote | Should-Be '1.3.0'
        (& stat -c %U -- "$($Remote.Releases)/$($r.ReleaseAfter)/package.json") | Should-Be $Sshd.User
    }
}
