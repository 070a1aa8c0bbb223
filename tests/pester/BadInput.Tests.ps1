# Hostile and malformed input across the cmdlets. Each case either fails with its stable error id before
# anything runs, or (for data that is legitimately accepted) is shown to travel as data: a marker file that the
# injected command would create never appears, on this machine or on the SSH side (the same /tmp here).
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestCommon.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot '../services/YieldVault.TestServices.psm1') -Force
    Import-Module (Get-VaultModuleManifest) -Force

    $script:Sshd = Start-TestSshd
    $script:Tag = [guid]::NewGuid().ToString('N').Substring(0, 8)
    # A workspace per side (the SSH one owned by the SSH user): an app directory with a valid env file, no backend.
    $script:Ws = Join-Path ([IO.Path]::GetTempPath()) "yv-badinput-$Tag"
    $script:WsOf = @{ Local = "$Ws/local"; SSH = "$Ws/ssh" }
    foreach ($dir in $WsOf.Values) { New-Item -ItemType Directory -Path "$dir/app" | Out-Null }
    & chmod 755 $Ws
    & chown -R "$($Sshd.User):" $WsOf.SSH

    function New-Marker([string] $Case) { "/tmp/yv-bad-$Tag-$Case" }

    function Get-ErrorId([scriptblock] $Action) {
        $ErrorActionPreference = 'Stop'
        try { $null = & $Action; '<no error>' } catch { $_.FullyQualifiedErrorId }
    }

    function New-BadTarget([string] $Where, [hashtable] $Extra = @{}) {
        $w = $WsOf[$Where]
        $p = @{
            Name = "bad-$($Where.ToLowerInvariant())"; AppPath = "$w/app"; ServiceManager = 'Pm2'; Pm2Home = "$w/pm2-none"; MigrationPreset = 'None'
            Port = 9; LogPath = "$w/logs/backend.log"; BackupPath = "$w/backups"; StatePath = "$w/state"
        }
        if ($Where -eq 'SSH') { $p += @{ HostName = $Sshd.HostName; SshPort = $Sshd.Port; User = $Sshd.User; KeyFile = $Sshd.UserKeyFile; KnownHostsFile = $Sshd.KnownHostsFile } }
        foreach ($k in $Extra.Keys) { $p[$k] = $Extra[$k] }
        New-VaultTarget @p
    }

    function Set-EnvFile([string[]] $Lines) {
        foreach ($w in $WsOf.Values) {
            Set-Content -LiteralPath "$w/app/.env" -Value $Lines
            & chmod 600 "$w/app/.env"
        }
        & chown "$($Sshd.User):" "$($WsOf.SSH)/app/.env"
    }

    $script:GoodEnv = @('STELLAR_RPC_URL=http://127.0.0.1:9/', 'VAULT_CONTRACT_ID=CDLZFC3SYJYDZT7K67VZ75HPJVIEUVNIXF47ZG2FB2RMQQVU2HHGCYSC', 'DATABASE_URL=postgres://yv:pw@127.0.0.1:9/yv')
    Set-EnvFile $GoodEnv
    $script:Local = New-BadTarget Local
    $script:Hex = 'ab' * 32

    function Write-Psd1([string] $Name, [string] $Text) {
        $path = Join-Path $Ws "$Name.psd1"
        [IO.File]::WriteAllText($path, $Text)
        $path
    }
}

AfterAll {
    if ($script:Sshd) { Stop-TestSshd $Sshd }
    if ($script:Ws) { Remove-Item -LiteralPath $Ws -Recurse -Force -ErrorAction Ignore }
    Get-ChildItem -Path '/tmp' -Filter "yv-bad-$($script:Tag)-*" -ErrorAction Ignore | Remove-Item -Recurse -Force -ErrorAction Ignore
    Stop-AllTestServices
}

Describe 'Refused before anything runs: <Case>' -ForEach @(
    # Refs, images, artifacts, checksums (Invoke-VaultDeployment)
    @{ Case = 'ref-semicolon'; ErrorId = 'InvalidRef'; Do = { param($m) $Local | Invoke-VaultDeployment -Ref "main;touch $m" } }
    @{ Case = 'ref-option'; ErrorId = 'InvalidRef'; Do = { param($m) $Local | Invoke-VaultDeployment -Ref "--output=$m" } }
    @{ Case = 'ref-nul'; ErrorId = 'InvalidRef'; Do = { param($m) $Local | Invoke-VaultDeployment -Ref "v1.3.0`0$m" } }
    @{ Case = 'ref-trailing-newline'; ErrorId = 'InvalidRef'; Do = { param($m) $Local | Invoke-VaultDeployment -Ref "v1.3.0`n" } }
    @{ Case = 'image-semicolon'; ErrorId = 'InvalidImage'; Do = { param($m) $Local | Invoke-VaultDeployment -Image "busybox;touch $m" } }
    @{ Case = 'image-option'; ErrorId = 'InvalidImage'; Do = { param($m) $Local | Invoke-VaultDeployment -Image '--privileged' } }
    @{ Case = 'image-uppercase'; ErrorId = 'InvalidImage'; Do = { param($m) $Local | Invoke-VaultDeployment -Image 'Registry.example/Backend:v1' } }
    @{ Case = 'artifact-quote'; ErrorId = 'InvalidArtifact'; Do = { param($m) $Local | Invoke-VaultDeployment -Artifact "https://example.invalid/a.tgz';touch $m;'" -Sha256 $Hex } }
    @{ Case = 'artifact-ftp'; ErrorId = 'InvalidArtifact'; Do = { param($m) $Local | Invoke-VaultDeployment -Artifact 'ftp://example.invalid/a.tgz' -Sha256 $Hex } }
    @{ Case = 'artifact-dotdot'; ErrorId = 'InvalidArtifact'; Do = { param($m) $Local | Invoke-VaultDeployment -Artifact '/tmp/../etc/passwd' -Sha256 $Hex } }
    @{ Case = 'artifact-relative'; ErrorId = 'InvalidArtifact'; Do = { param($m) $Local | Invoke-VaultDeployment -Artifact 'builds/a.tgz' -Sha256 $Hex } }
    @{ Case = 'artifact-file-url'; ErrorId = 'InvalidArtifact'; Do = { param($m) $Local | Invoke-VaultDeployment -Artifact 'file:///etc/passwd' -Sha256 $Hex } }
    @{ Case = 'sha-63'; ErrorId = 'InvalidChecksum'; Do = { param($m) $Local | Invoke-VaultDeployment -Artifact '/tmp/a.tgz' -Sha256 $Hex.Substring(1) } }
    @{ Case = 'sha-65'; ErrorId = 'InvalidChecksum'; Do = { param($m) $Local | Invoke-VaultDeployment -Artifact '/tmp/a.tgz' -Sha256 "$($Hex)a" } }
    @{ Case = 'sha-nonhex'; ErrorId = 'InvalidChecksum'; Do = { param($m) $Local | Invoke-VaultDeployment -Artifact '/tmp/a.tgz' -Sha256 ('g' * 64) } }
    @{ Case = 'sha-newline'; ErrorId = 'InvalidChecksum'; Do = { param($m) $Local | Invoke-VaultDeployment -Artifact '/tmp/a.tgz' -Sha256 "$Hex`n" } }
    @{ Case = 'migration-nul'; ErrorId = 'InvalidMigrationCommand'; Do = { param($m) $Local | Invoke-VaultDeployment -Ref v1.3.0 -MigrationCommand 'sh', "-c`0touch $m" } }
    # Parameters the binder refuses
    @{ Case = 'incident-semicolon'; ErrorId = 'ParameterArgumentValidationError'; Do = { param($m) $Local | Invoke-VaultDeployment -Ref v1.3.0 -Incident "INC-1;touch $m" } }
    @{ Case = 'incident-newline'; ErrorId = 'ParameterArgumentValidationError'; Do = { param($m) $Local | Invoke-VaultDeployment -Ref v1.3.0 -Incident "INC-1`n" } }
    @{ Case = 'health-timeout-0'; ErrorId = 'ParameterArgumentValidationError'; Do = { param($m) $Local | Invoke-VaultDeployment -Ref v1.3.0 -HealthTimeoutSec 0 } }
    @{ Case = 'stop-timeout-negative'; ErrorId = 'ParameterArgumentValidationError'; Do = { param($m) $Local | Invoke-VaultDeployment -Ref v1.3.0 -StopTimeoutSec -1 } }
    @{ Case = 'health-timeout-huge'; ErrorId = 'ParameterArgumentValidationError'; Do = { param($m) $Local | Invoke-VaultDeployment -Ref v1.3.0 -HealthTimeoutSec ([int]::MaxValue) } }
    @{ Case = 'wait-timeout-0'; ErrorId = 'ParameterArgumentValidationError'; Do = { param($m) $Local | Wait-VaultBackendHealthy -TimeoutSec 0 } }
    @{ Case = 'release-dotdot'; ErrorId = 'ParameterArgumentValidationError'; Do = { param($m) $Local | Undo-VaultDeployment -Release '../../etc' -Force } }
    @{ Case = 'release-semicolon'; ErrorId = 'ParameterArgumentValidationError'; Do = { param($m) $Local | Undo-VaultDeployment -Release "r;touch $m" -Force } }
    @{ Case = 'command-timeout-0'; ErrorId = 'ParameterArgumentValidationError'; Do = { param($m) New-BadTarget Local @{ CommandTimeoutSec = 0 } } }
    # Targets (New-VaultTarget): names, paths, hosts, users, known_hosts
    @{ Case = 'name-semicolon'; ErrorId = 'TargetInvalid'; Do = { param($m) New-BadTarget Local @{ Name = "prod;touch $m" } } }
    @{ Case = 'name-option'; ErrorId = 'TargetInvalid'; Do = { param($m) New-BadTarget Local @{ Name = '-rf' } } }
    @{ Case = 'name-newline'; ErrorId = 'TargetInvalid'; Do = { param($m) New-BadTarget Local @{ Name = "prod-1`n" } } }
    @{ Case = 'apppath-dotdot'; ErrorId = 'TargetInvalid'; Do = { param($m) New-BadTarget Local @{ AppPath = '/app/../etc' } } }
    @{ Case = 'apppath-newline'; ErrorId = 'TargetInvalid'; Do = { param($m) New-BadTarget Local @{ AppPath = "/app/x`ntouch $m" } } }
    @{ Case = 'logpath-nul'; ErrorId = 'TargetInvalid'; Do = { param($m) New-BadTarget Local @{ LogPath = "/var/log/x`0$m" } } }
    @{ Case = 'backuppath-relative'; ErrorId = 'TargetInvalid'; Do = { param($m) New-BadTarget Local @{ BackupPath = 'backups' } } }
    @{ Case = 'statepath-dotdot'; ErrorId = 'TargetInvalid'; Do = { param($m) New-BadTarget Local @{ StatePath = '/var/lib/../../tmp' } } }
    @{ Case = 'releasespath-dotdot'; ErrorId = 'TargetInvalid'; Do = { param($m) New-BadTarget Local @{ ReleasesPath = '/srv/releases/..' } } }
    @{ Case = 'envfile-dotdot'; ErrorId = 'TargetInvalid'; Do = { param($m) New-BadTarget Local @{ EnvFile = '../../etc/shadow' } } }
    @{ Case = 'envfile-newline'; ErrorId = 'TargetInvalid'; Do = { param($m) New-BadTarget Local @{ EnvFile = ".env`n$m" } } }
    @{ Case = 'pm2home-dotdot'; ErrorId = 'TargetInvalid'; Do = { param($m) New-BadTarget Local @{ Pm2Home = '/home/x/../../root/.pm2' } } }
    @{ Case = 'servicename-newline'; ErrorId = 'TargetInvalid'; Do = { param($m) New-BadTarget Local @{ ServiceName = "yieldvault-backend`n" } } }
    @{ Case = 'host-ssh-option'; ErrorId = 'TargetInvalid'; Do = { param($m) New-BadTarget SSH @{ HostName = "-oProxyCommand=touch $m" } } }
    @{ Case = 'host-space'; ErrorId = 'TargetInvalid'; Do = { param($m) New-BadTarget SSH @{ HostName = 'app1 -p 2222' } } }
    @{ Case = 'user-ssh-option'; ErrorId = 'TargetInvalid'; Do = { param($m) New-BadTarget SSH @{ User = "-oProxyCommand=touch $m" } } }
    @{ Case = 'user-semicolon'; ErrorId = 'TargetInvalid'; Do = { param($m) New-BadTarget SSH @{ User = "root;touch $m" } } }
    @{ Case = 'user-newline'; ErrorId = 'TargetInvalid'; Do = { param($m) New-BadTarget SSH @{ User = "yvops`n" } } }
    @{ Case = 'knownhosts-newline'; ErrorId = 'TargetInvalid'; Do = { param($m) New-BadTarget SSH @{ KnownHostsFile = "/tmp/kh`n$m" } } }
    @{ Case = 'fingerprint-garbage'; ErrorId = 'TargetInvalid'; Do = { param($m) New-BadTarget SSH @{ HostKeyFingerprint = "SHA256:;touch $m" } } }
    # Probe paths that would make the probe ask another host than the tunnel (new Uri(base, path))
    @{ Case = 'healthpath-double-slash'; ErrorId = 'TargetInvalid'; Do = { param($m) New-BadTarget Local @{ HealthPath = '//evil.example/h' } } }
    @{ Case = 'healthpath-backslash'; ErrorId = 'TargetInvalid'; Do = { param($m) New-BadTarget Local @{ HealthPath = '/\evil.example/h' } } }
    @{ Case = 'readypath-backslash'; ErrorId = 'TargetInvalid'; Do = { param($m) New-BadTarget Local @{ ReadyPath = '/\evil.example/r' } } }
    @{ Case = 'readypath-double-slash'; ErrorId = 'TargetInvalid'; Do = { param($m) New-BadTarget Local @{ ReadyPath = '//evil.example/r' } } }
    @{ Case = 'versionpath-backslash'; ErrorId = 'TargetInvalid'; Do = { param($m) New-BadTarget Local @{ VersionPath = '/\evil.example/v' } } }
    @{ Case = 'versionpath-absolute-url'; ErrorId = 'TargetInvalid'; Do = { param($m) New-BadTarget Local @{ VersionPath = 'http://evil.example/v' } } }
    # The admin API key over plain http to a public address (Test-VaultSmoke -BaseUrl)
    @{ Case = 'smoke-http-includewrite'; ErrorId = 'BaseUrlNotSecure'; Do = { param($m) $Local | Test-VaultSmoke -BaseUrl 'http://api.example.invalid' -IncludeWrite } }
    @{ Case = 'smoke-http-apikey'; ErrorId = 'BaseUrlNotSecure'; Do = { param($m) $Local | Test-VaultSmoke -BaseUrl 'http://10.0.0.1:8080/backend' -ApiKey (ConvertTo-SecureString 'Planted-Api-Key-1' -AsPlainText -Force) } }
    @{ Case = 'smoke-http-localhost-lookalike'; ErrorId = 'BaseUrlNotSecure'; Do = { param($m) $Local | Test-VaultSmoke -BaseUrl 'http://localhost.example.invalid' -IncludeWrite } }
    # Migration paths (Invoke-VaultMigration)
    @{ Case = 'migration-path-dotdot'; ErrorId = 'InvalidPath'; Do = { param($m) $Local | Invoke-VaultMigration -Deploy -Command 'true' -Path "$Ws/local/app/../../../etc" -Confirm:$false } }
    @{ Case = 'migration-path-relative'; ErrorId = 'InvalidPath'; Do = { param($m) $Local | Invoke-VaultMigration -Deploy -Command 'true' -Path 'app' -Confirm:$false } }
    @{ Case = 'migration-path-newline'; ErrorId = 'InvalidPath'; Do = { param($m) $Local | Invoke-VaultMigration -Deploy -Command 'true' -Path "$Ws/local/app`n$m" -Confirm:$false } }
) {
    AfterEach {
        # A case that got further than it should must not make the next ones fail too.
        Remove-Item -LiteralPath "$($WsOf.Local)/state", "$($WsOf.Local)/backups", "$($WsOf.Local)/logs" -Recurse -Force -ErrorAction Ignore
    }

    It 'fails with <ErrorId> and runs nothing' {
        $marker = New-Marker $Case
        $id = Get-ErrorId { & $Do $marker }
        $id | Should-BeLikeString "$ErrorId,*"
        Test-Path -LiteralPath $marker | Should-BeFalse
        Test-Path -LiteralPath "$($WsOf.Local)/state" | Should-BeFalse -Because 'no run got as far as its lock'
    }
}

Describe 'Targets files that try to run code or are malformed: <Case>' -ForEach @(
    @{ Case = 'psd1-command'; Text = "@{ Targets = @( @{ Name = (New-Item -ItemType File -Path 'MARKER') } ) }"; Message = '*constant*' }
    @{ Case = 'psd1-subexpression'; Text = "@{ Targets = @( @{ Name = `"`$(New-Item -ItemType File -Path 'MARKER')`" } ) }"; Message = '*constant*' }
    @{ Case = 'psd1-scriptblock'; Text = "@{ Targets = @( @{ Name = 'a'; AppPath = { New-Item -ItemType File -Path 'MARKER' } } ) }"; Message = '*' }
    @{ Case = 'psd1-variable'; Text = "@{ Targets = @( @{ Name = 'a'; AppPath = `$env:HOME } ) }"; Message = '*constant*' }
    @{ Case = 'psd1-second-statement'; Text = "@{ Targets = @( @{ Name = 'a' } ) }`nNew-Item -ItemType File -Path 'MARKER'"; Message = '*exactly one hashtable*' }
    @{ Case = 'psd1-wrong-type-port'; Text = "@{ Targets = @( @{ Name = 'a'; Port = 'http' } ) }"; Message = "*key 'Port'*whole number*" }
    @{ Case = 'psd1-list-port'; Text = "@{ Targets = @( @{ Name = 'a'; Port = @(3000, 3001) } ) }"; Message = "*key 'Port'*" }
    @{ Case = 'psd1-wrong-type-flag'; Text = "@{ Targets = @( @{ Name = 'a'; UseSudo = 'yes' } ) }"; Message = "*key 'UseSudo'*" }
    @{ Case = 'psd1-unknown-key'; Text = "@{ Targets = @( @{ Name = 'a'; AppPth = '/app' } ) }"; Message = "*key 'AppPth'*unknown key*" }
    @{ Case = 'psd1-password'; Text = "@{ Targets = @( @{ Name = 'a'; HostName = 'h'; User = 'u'; Password = 'Hunter2-Secret' } ) }"; Message = '*passwords are not read from files*' }
    @{ Case = 'psd1-timeout-negative'; Text = "@{ Targets = @( @{ Name = 'a'; HostName = 'h'; User = 'u'; CommandTimeoutSec = -5 } ) }"; Message = "*key 'CommandTimeoutSec'*" }
    @{ Case = 'psd1-local-timeout-text'; Text = "@{ Targets = @( @{ Name = 'a'; CommandTimeoutSec = 'forever' } ) }"; Message = "*key 'CommandTimeoutSec'*" }
    @{ Case = 'psd1-deep'; Text = "@{ Targets = @( @{ Name = 'a'; Environment = " + ('@{ x = ' * 3000) + "'v'" + (' }' * 3000) + ' } ) }'; Message = '*' }
    @{ Case = 'psd1-healthpath-backslash'; Text = "@{ Targets = @( @{ Name = 'a'; HealthPath = '/\evil.example/h' } ) }"; Message = "*key 'HealthPath'*" }
    @{ Case = 'psd1-readypath-double-slash'; Text = "@{ Targets = @( @{ Name = 'a'; ReadyPath = '//evil.example/r' } ) }"; Message = "*key 'ReadyPath'*" }
    @{ Case = 'psd1-versionpath-backslash'; Text = "@{ Targets = @( @{ Name = 'a'; VersionPath = '/\evil.example/v' } ) }"; Message = "*key 'VersionPath'*" }
    @{ Case = 'psd1-top-level-key'; Text = "@{ Targets = @( @{ Name = 'a' } ); Run = 'MARKER' }"; Message = "*unknown top-level key 'Run'*" }
) {
    It 'fails with TargetConfigInvalid and runs nothing' {
        $marker = New-Marker $Case
        $file = Write-Psd1 $Case $Text.Replace('MARKER', $marker)
        $err = $null
        $id = Get-ErrorId { Get-VaultTarget -Path $file }
        $id | Should-BeLikeString 'TargetConfigInvalid,*'
        try { Get-VaultTarget -Path $file -ErrorAction Stop } catch { $err = $_ }
        $err.Exception.Message | Should-BeLikeString $Message
        $err.Exception.Message | Should-NotBeLikeString '*Hunter2-Secret*'
        Test-Path -LiteralPath $marker | Should-BeFalse
    }
}

Describe 'Files that never end or are huge' {
    # In a fresh pwsh with a time limit: a regression here would hang or exhaust the memory of the test run.
    It 'a targets file of <Case> fails with TargetConfigInvalid within seconds' -ForEach @(
        @{ Case = '/dev/zero'; Path = '/dev/zero' }
        @{ Case = '16 MB'; Path = 'HUGE' }
    ) {
        if ($Path -eq 'HUGE') {
            $Path = Join-Path $Ws 'huge.psd1'
            [IO.File]::WriteAllText($Path, "@{ Targets = @( @{ Name = 'a'; Environment = '" + ('x' * 16MB) + "' } ) }")
        }
        $r = Invoke-FreshPwsh -TimeoutSec 60 -Script @"
Import-Module '$(Get-VaultModuleManifest)'
try { Get-VaultTarget -Path '$Path' -ErrorAction Stop; 'no error' } catch { `$_.FullyQualifiedErrorId; `$_.Exception.Message }
"@
        ($r.Output -split "`n")[0].Trim() | Should-BeLikeString 'TargetConfigInvalid,*'
        $r.Output | Should-BeLikeString '*larger than*'
    }

    It 'a known_hosts file that never ends (/dev/zero) fails with KnownHostsInvalid, and no login happens' {
        $accepted = @(Select-String -LiteralPath $Sshd.LogFile -Pattern 'Accepted publickey').Count
        $r = Invoke-FreshPwsh -TimeoutSec 60 -Script @"
Import-Module '$(Get-VaultModuleManifest)'
`$t = New-VaultTarget -Name kh -HostName $($Sshd.HostName) -SshPort $($Sshd.Port) -User $($Sshd.User) -KeyFile '$($Sshd.UserKeyFile)' -KnownHostsFile /dev/zero -ServiceManager Pm2
try { `$t | Get-VaultBackendStatus -ErrorAction Stop | Out-Null; 'no error' } catch { `$_.FullyQualifiedErrorId }
"@
        ($r.Output -split "`n")[0].Trim() | Should-BeLikeString 'KnownHostsInvalid,*'
        @(Select-String -LiteralPath $Sshd.LogFile -Pattern 'Accepted publickey').Count | Should-Be $accepted
    }
}

Describe 'Error messages keep credentials out' {
    It 'an artifact URL with a password is refused without echoing the password' {
        $err = $null
        try { $Local | Invoke-VaultDeployment -Artifact 'https://deploy:Hunter2-Secret@artifacts.example.invalid/a.tgz' -Sha256 $Hex -ErrorAction Stop } catch { $err = $_ }
        $err.FullyQualifiedErrorId | Should-BeLikeString 'InvalidArtifact,*'
        $err.Exception.Message | Should-NotBeLikeString '*Hunter2-Secret*'
        $err.ErrorDetails.Message | Should-NotBeLikeString '*Hunter2-Secret*'
    }
}

Describe 'Accepted as data, never run as code, on <Where>' -ForEach @(@{ Where = 'Local' }, @{ Where = 'SSH' }) {
    BeforeAll {
        $target = New-BadTarget $Where
        $w = $WsOf[$Where]
    }

    AfterEach {
        Set-EnvFile $GoodEnv
        Remove-Item -LiteralPath "$w/state", "$w/out.txt" -Recurse -Force -ErrorAction Ignore
    }

    It 'env file values with $(...), backticks, an export line, a dashed key and a bare command: names checked, nothing run' {
        $m = New-Marker "env-$Where"
        Set-EnvFile ($GoodEnv + @("A=`$(touch $m-a)", "B=``touch $m-b``", "export C=`$(touch $m-c)", "MY-KEY=`$(touch $m-d)", "touch $m-e", "D='`$(touch $m-f)'"))
        $check = $target | Test-VaultEnvironment
        $check.Passed | Should-BeTrue
        # A migration loads the env file (here without dotenv in the directory): values arrive as data.
        $r = $target | Invoke-VaultMigration -Deploy -Command 'sh', '-c', 'printf "%s|%s|%s|%s" "$A" "$B" "$C" "$D" > "$1"', 'sh', "$w/out.txt" -Confirm:$false
        $r.Succeeded | Should-BeTrue
        # As dotenv reads them: quotes (backticks too) removed, nothing expanded.
        Get-Content -LiteralPath "$w/out.txt" -Raw | Should-Be "`$(touch $m-a)|touch $m-b|`$(touch $m-c)|`$(touch $m-f)"
        Get-ChildItem -Path '/tmp' -Filter "$([IO.Path]::GetFileName($m))*" | Should-BeNull
    }

    It 'a migration loads the target''s EnvFile (config/prod.env), not ./.env, and its values stay data' {
        $m = New-Marker "envfile-$Where"
        New-Item -ItemType Directory -Path "$w/app/config" -Force | Out-Null
        Set-Content -LiteralPath "$w/app/config/prod.env" -Value @("YV_FROM=config/prod.env `$(touch $m)", 'YV_HASH=a#b', 'my.dotted-key=kept')
        if ($Where -eq 'SSH') { & chown -R "$($Sshd.User):" "$w/app/config" }
        $t = New-BadTarget $Where @{ EnvFile = 'config/prod.env' }
        $r = $t | Invoke-VaultMigration -Deploy -Command 'sh', '-c', 'printf "%s|%s" "$YV_FROM" "$YV_HASH" > "$1"', 'sh', "$w/out.txt" -Confirm:$false
        $r.Succeeded | Should-BeTrue
        Get-Content -LiteralPath "$w/out.txt" -Raw | Should-Be "config/prod.env `$(touch $m)|a"
        Test-Path -LiteralPath $m | Should-BeFalse
        Remove-Item -LiteralPath "$w/app/config" -Recurse -Force
    }

    It '-MigrationCommand words with shell metacharacters reach the program as words' {
        $m = New-Marker "words-$Where"
        $words = @("a;touch $m", "`$(touch $m)", "``touch $m``", '|', 'touch', $m, '&&', "x' ; touch '$m", "> $m")
        $r = $target | Invoke-VaultMigration -Deploy -Command (@('printf', '[%s]') + $words) -Confirm:$false
        $r.Succeeded | Should-BeTrue
        $r.Output | Should-Be (($words | ForEach-Object { "[$_]" }) -join '')
        Test-Path -LiteralPath $m | Should-BeFalse
    }

    It 'an artifact path and state path with spaces, quotes and $(...) are used literally and fail as data (before the stop)' {
        $m = New-Marker "artifact-$Where"
        $state = "$w/state/st '`$(touch $m-s)' x"
        $t = New-BadTarget $Where @{ StatePath = $state }
        $r = $t | Invoke-VaultDeployment -Artifact "$w/no such '`$(touch $m-a)'/a.tar.gz" -Sha256 $Hex -ErrorAction SilentlyContinue -ErrorVariable errs
        $r.Status | Should-Be 'Failed'
        $r.ErrorId | Should-Be 'ArtifactUnavailable'
        ($r.Steps | Where-Object Number -EQ 6).Outcome | Should-Be 'NotRun'
        Test-Path -LiteralPath "$state/yieldvault-backend/journal" -PathType Container | Should-BeTrue -Because 'the literal state path was used'
        Test-Path -LiteralPath "$state/yieldvault-backend/deploy.lock" | Should-BeFalse
        Get-ChildItem -Path '/tmp' -Filter "$([IO.Path]::GetFileName($m))*" | Should-BeNull
    }

    It 'an artifact URL with $(...) in its path goes to curl as one word' {
        $m = New-Marker "url-$Where"
        $r = $target | Invoke-VaultDeployment -Artifact "http://127.0.0.1:9/`$(touch`${IFS}$m)/a.tgz" -Sha256 $Hex -ErrorAction SilentlyContinue
        $r.ErrorId | Should-Be 'ArtifactUnavailable'
        Test-Path -LiteralPath $m | Should-BeFalse
    }

    It 'a backup path with spaces, quotes and $(...) is created literally, with the env file copied byte for byte' {
        $m = New-Marker "backup-$Where"
        $t = New-BadTarget $Where @{ BackupPath = "$w/state/b '`$(touch $m)' ``id``" }
        $b = $t | Backup-VaultDeployment -Confirm:$false
        $b.Path.StartsWith("$w/state/b '`$(touch $m)' ``id``/") | Should-BeTrue
        (Get-FileHash -LiteralPath $b.EnvFileCopy).Hash | Should-Be (Get-FileHash -LiteralPath "$w/app/.env").Hash
        Test-Path -LiteralPath $m | Should-BeFalse
    }

    It 'a release name that is not one of the releases is ReleaseNotFound' {
        $id = Get-ErrorId { $target | Undo-VaultDeployment -Release 'r-1.2.3' -Force }
        $id | Should-BeLikeString 'ReleaseNotFound,*'
    }
}

Describe "The operator's environment stays out of commands run on this machine" {
    # Secrets in the pwsh process's environment, as an operator's shell would hold them: a command the module runs
    # locally (and the npm scripts it starts) gets a minimal environment instead.
    BeforeAll {
        $w = $WsOf.Local
        $script:PlantedEnv = @{
            YIELDVAULT_SLACK_WEBHOOK_URL = "https://hooks.slack.com/services/Planted-Webhook-$Tag"
            AWS_SECRET_ACCESS_KEY        = "Planted-Aws-Secret-$Tag"
            GITHUB_TOKEN                 = "Planted-Github-Token-$Tag"
            NODE_AUTH_TOKEN              = "Planted-Node-Auth-$Tag"
        }
        foreach ($name in $PlantedEnv.Keys) { [Environment]::SetEnvironmentVariable($name, $PlantedEnv[$name]) }
    }

    AfterAll {
        foreach ($name in $PlantedEnv.Keys) { [Environment]::SetEnvironmentVariable($name, $null) }
        Remove-Item -LiteralPath "$w/app/package.json", "$w/env-command.txt", "$w/env-npm.txt" -ErrorAction Ignore
    }

    It 'a command run through LocalShell (Invoke-VaultMigration -Command env) does not see them' {
        $r = $Local | Invoke-VaultMigration -Deploy -Command 'sh', '-c', 'env > "$1"', 'sh', "$w/env-command.txt" -Confirm:$false
        $r.Succeeded | Should-BeTrue
        $seen = Get-Content -LiteralPath "$w/env-command.txt" -Raw
        $seen | Should-BeLikeString '*PATH=*'
        $seen | Should-NotBeLikeString '*Planted-*'
    }

    It 'an npm script (-Preset Npm: npm run migrate) does not see them' {
        # An absolute path: an earlier case may have made the app path a link into releases/.
        Set-Content -LiteralPath "$w/app/package.json" -Value "{ `"name`": `"yv-env`", `"version`": `"1.0.0`", `"scripts`": { `"migrate`": `"env > $w/env-npm.txt`" } }"
        $r = $Local | Invoke-VaultMigration -Deploy -Preset Npm -Confirm:$false
        $r.Succeeded | Should-BeTrue
        $seen = Get-Content -LiteralPath "$w/env-npm.txt" -Raw
        $seen | Should-BeLikeString '*npm_lifecycle_event=migrate*'
        $seen | Should-NotBeLikeString '*Planted-*'
    }
}
