# Reaching real servers the way operators do: an ~/.ssh/config (Host aliases with HostName, User, Port, IdentityFile;
# first value wins; ProxyJump), a jump host (JumpHost / ProxyJump) with the host keys of both hops verified, and keys
# from a running ssh-agent (SSH_AUTH_SOCK). Against real OpenSSH: a target sshd, a second sshd as the jump host (its
# log at DEBUG1 shows the tunnels it opens), a real ssh-agent loaded with ssh-add, and a small HTTP server the target
# probes (/health) through its SSH connection.
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestCommon.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot '../services/YieldVault.TestServices.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot '../services/HttpFiles.TestServices.psm1') -Force
    Import-Module (Get-VaultModuleManifest) -Force

    # The suite decides which agent is in use; the caller's own agent stays out of it.
    $script:SavedAuthSock = $env:SSH_AUTH_SOCK
    Remove-Item Env:SSH_AUTH_SOCK -ErrorAction Ignore
    $script:SavedHome = $env:HOME

    $script:Target = Start-TestSshd
    $script:Bastion = Start-TestSshd -User yvjump -ConfigLines 'LogLevel DEBUG1'
    # The operator's key (the target user's) opens the jump host too.
    Add-Content -LiteralPath (Join-Path $Bastion.Directory 'authorized_keys') -NoNewline -Value (
        (Get-Content -Raw "$($Target.UserKeyFile).pub") + (Get-Content -Raw "$($Target.UserRsaKeyFile).pub"))
    $script:Http = Start-TestHttpFileServer
    $script:Jump = "yvjump@127.0.0.1:$($Bastion.Port)"
    $script:KeyFingerprint = ((& ssh-keygen -l -E sha256 -f "$($Target.UserKeyFile).pub") -split '\s+')[1]
    $script:RsaFingerprint = ((& ssh-keygen -l -E sha256 -f "$($Target.UserRsaKeyFile).pub") -split '\s+')[1]

    # Each test logs in anew: the session keeps one connection per host and account, and the known_hosts file is
    # part of what makes an account, so every test gets a known_hosts file of its own.
    function New-KnownHosts([string] $Name, [string[]] $Lines = @($Target.HostKeyLines, $Bastion.HostKeyLines)) {
        $path = Join-Path $TestDrive "known_hosts-$Name"
        Set-Content -LiteralPath $path -Value ($Lines -join '') -NoNewline
        $path
    }

    function New-BehindTarget([string] $Name, [hashtable] $Extra = @{}) {
        $p = @{
            Name = $Name; HostName = $Target.HostName; SshPort = $Target.Port; User = $Target.User; KeyFile = $Target.UserKeyFile
            Port = $Http.Port; ConnectTimeoutSec = 5; SshConfigFile = 'none'; JumpHost = $Jump
        }
        if (-not $Extra.ContainsKey('KnownHostsFile')) { $p.KnownHostsFile = New-KnownHosts $Name }
        foreach ($k in $Extra.Keys) { if ($null -eq $Extra[$k]) { $p.Remove($k) } else { $p[$k] = $Extra[$k] } }
        New-VaultTarget @p
    }

    function Get-Logins($Sshd, [string] $User) {
        @(Select-String -LiteralPath $Sshd.LogFile -Pattern "Accepted publickey for $User from" -ErrorAction Ignore).Count
    }

    function Get-LastLogin($Sshd, [string] $User) {
        @(Select-String -LiteralPath $Sshd.LogFile -Pattern "Accepted publickey for $User from 127\.0\.0\.1 port (\d+) ssh2: (.*)$")[-1]
    }

    function Test-Descendant([int] $ProcessId, [int] $Ancestor) {
        for ($i = 0; $i -lt 64 -and $ProcessId -gt 1; $i++) {
            if ($ProcessId -eq $Ancestor) { return $true }
            $stat = [IO.File]::ReadAllText("/proc/$ProcessId/stat")
            $ProcessId = [int]($stat.Substring($stat.LastIndexOf(')') + 2).Split(' ')[1])
        }
        $false
    }

    function Get-TcpOwner([int] $LocalPort) {
        # The processes that own the established TCP connection whose local port is LocalPort.
        $line = (& ss -Htnp state established "( sport = :$LocalPort )") -join "`n"
        @([regex]::Matches($line, 'pid=(\d+)') | ForEach-Object { [int]$_.Groups[1].Value } | Sort-Object -Unique)
    }
}

AfterAll {
    $env:HOME = $script:SavedHome
    if ($script:SavedAuthSock) { $env:SSH_AUTH_SOCK = $script:SavedAuthSock } else { Remove-Item Env:SSH_AUTH_SOCK -ErrorAction Ignore }
    Remove-Module YieldVault.Ops -ErrorAction Ignore   # closes the session's connections before their servers stop
    if ($script:Http) { Stop-TestHttpFileServer $Http }
    if ($script:Bastion) { Stop-TestSshd $Bastion }
    if ($script:Target) { Stop-TestSshd $Target }
    Stop-AllTestServices
}

Describe 'A jump host (-JumpHost)' {
    It 'reaches the target only through the jump host, with both host keys verified' {
        $beforeTarget = Get-Logins $Target 'yvops'
        $beforeBastion = Get-Logins $Bastion 'yvjump'
        $t = New-BehindTarget 'behind-1'
        $t.Ssh.JumpHost.ToString() | Should-Be $Jump
        $t.DisplayName | Should-Be "behind-1 (yvops@127.0.0.1:$($Target.Port) via $Jump)"

        $r = $t | Test-VaultBackendHealth
        $r.Healthy | Should-BeTrue
        (Get-Logins $Bastion 'yvjump') - $beforeBastion | Should-Be 1
        (Get-Logins $Target 'yvops') - $beforeTarget | Should-Be 1

        # The jump host opened the tunnel to the target's SSH port ...
        Select-String -LiteralPath $Bastion.LogFile -Pattern "server_request_direct_tcpip: .*target 127\.0\.0\.1 port $($Target.Port)$" | Should-NotBeNull
        # ... and the connection the target accepted that login on is owned by the jump host's sshd, not by this pwsh.
        $login = Get-LastLogin $Target 'yvops'
        $owners = Get-TcpOwner -LocalPort ([int]$login.Matches[0].Groups[1].Value)
        $owners.Count | Should-BeGreaterThan 0
        foreach ($owner in $owners) {
            Test-Descendant -ProcessId $owner -Ancestor $Bastion.Pid | Should-BeTrue -Because "pid $owner must be a process of the jump host's sshd"
            $owner | Should-NotBe $PID
        }
    }

    It 'refuses an unknown jump host key (HostKeyUnknown) before anything reaches the target' {
        $beforeTarget = Get-Logins $Target 'yvops'
        $beforeBastion = Get-Logins $Bastion 'yvjump'
        $t = New-BehindTarget 'behind-2' @{ KnownHostsFile = (New-KnownHosts 'behind-2' $Target.HostKeyLines) }
        $err = Get-VaultCommandError -Target $t -Command Test-VaultBackendHealth -FullyQualifiedErrorId 'HostKeyUnknown,YieldVault.Ops.Commands.TestVaultBackendHealthCommand' -Category SecurityError
        $err.Exception.Message | Should-BeLikeString "The jump host 127.0.0.1:$($Bastion.Port) presented host key SHA256:*"
        $err.ErrorDetails.RecommendedAction | Should-BeLikeString '*-TrustNewHostKey*'
        Get-Logins $Bastion 'yvjump' | Should-Be $beforeBastion
        Get-Logins $Target 'yvops' | Should-Be $beforeTarget
    }

    It "refuses a changed target key behind a trusted jump host (HostKeyMismatch), and logs in to neither's account on the target" {
        $beforeTarget = Get-Logins $Target 'yvops'
        $wrong = Get-Content -Raw -LiteralPath $Target.WrongKnownHostsFile
        $t = New-BehindTarget 'behind-3' @{ KnownHostsFile = (New-KnownHosts 'behind-3' $wrong, $Bastion.HostKeyLines) }
        $err = Get-VaultCommandError -Target $t -Command Test-VaultBackendHealth -FullyQualifiedErrorId 'HostKeyMismatch,YieldVault.Ops.Commands.TestVaultBackendHealthCommand'
        $err.Exception.Message | Should-BeLikeString "The host key of 127.0.0.1:$($Target.Port) (*) does not match*"
        $err.ErrorDetails.RecommendedAction | Should-BeLikeString "*ssh-keygen -R '[[]127.0.0.1]:$($Target.Port)'*"
        Get-Logins $Target 'yvops' | Should-Be $beforeTarget
    }

    It 'records both new host keys with -TrustNewHostKey, and then trusts them without it' {
        $file = Join-Path $TestDrive 'known_hosts-tofu'
        $t = New-BehindTarget 'behind-4' @{ KnownHostsFile = $file; TrustNewHostKey = $true }
        ($t | Test-VaultBackendHealth -WarningVariable warns -WarningAction SilentlyContinue).Healthy | Should-BeTrue
        $warns.Count | Should-Be 2
        ($warns -join "`n") | Should-BeLikeString "*the jump host 127.0.0.1:$($Bastion.Port)*"
        $recorded = Get-Content -LiteralPath $file
        @($recorded | Where-Object { $_ -like "[[]127.0.0.1]:$($Bastion.Port) ssh-*" }).Count | Should-Be 1
        @($recorded | Where-Object { $_ -like "[[]127.0.0.1]:$($Target.Port) ssh-*" }).Count | Should-Be 1
        (New-BehindTarget 'behind-5' @{ KnownHostsFile = $file } | Test-VaultBackendHealth).Healthy | Should-BeTrue
    }

    It 'is JumpHostRefused when the jump host cannot reach the target' {
        $closed = Get-FreeTcpPort
        $t = New-BehindTarget 'behind-6' @{ SshPort = $closed }
        $err = Get-VaultCommandError -Target $t -Command Test-VaultBackendHealth -FullyQualifiedErrorId 'JumpHostRefused,YieldVault.Ops.Commands.TestVaultBackendHealthCommand' -Category ConnectionError
        $err.Exception.Message | Should-BeLikeString "The jump host did not open a connection to 127.0.0.1:$closed*"
        Select-String -LiteralPath $Bastion.LogFile -Pattern "target 127\.0\.0\.1 port $closed$" | Should-NotBeNull
    }

    It 'never sends a password to the jump host: a target with only a credential and a jump host is refused' {
        { New-BehindTarget 'behind-7' @{ KeyFile = $null; Credential = $Target.Credential } } |
            Should-Throw -FullyQualifiedErrorId 'TargetInvalid,YieldVault.Ops.Commands.NewVaultTargetCommand' -ExceptionMessage '*jump host*password is never sent*'
    }

    It 'refuses a JumpHost of <Case> from the parameters and from a targets file' -ForEach @(
        @{ Case = 'a chain'; Value = 'a@one.internal,b@two.internal'; Message = '*chain of jump hosts*' }
        @{ Case = 'a port out of range'; Value = 'ops@bastion.internal:70000'; Message = "*port '70000'*" }
        @{ Case = 'a bad user'; Value = 'op s@bastion.internal'; Message = '*not a valid user name*' }
        @{ Case = 'shell syntax'; Value = 'bastion;touch /tmp/x'; Message = '*not a host name*' }
    ) {
        { New-BehindTarget 'bad-jump' @{ JumpHost = $Value } } |
            Should-Throw -FullyQualifiedErrorId 'TargetInvalid,YieldVault.Ops.Commands.NewVaultTargetCommand' -ExceptionMessage $Message
        $file = Join-Path $TestDrive 'targets-badjump.psd1'
        Set-Content -LiteralPath $file -Value "@{ Targets = @( @{ Name = 'bad-jump'; HostName = 'app1.internal'; User = 'deploy'; KeyFile = '$($Target.UserKeyFile)'; JumpHost = '$Value' } ) }"
        { Get-VaultTarget -Path $file } | Should-Throw -FullyQualifiedErrorId 'TargetConfigInvalid,YieldVault.Ops.Commands.GetVaultTargetCommand' -ExceptionMessage "*key 'JumpHost'*"
    }
}

Describe 'The ssh client config (~/.ssh/config, SshConfigFile)' {
    BeforeAll {
        $script:SshConfig = Join-Path $TestDrive 'ssh_config'
        Set-Content -LiteralPath $SshConfig -Value @"
# An operator's ~/.ssh/config
Host yv-target yv-target-alias
    HostName 127.0.0.1
    Port $($Target.Port)
    User $($Target.User)
    IdentityFile $($Target.UserKeyFile)

Host yv-behind
    HostName 127.0.0.1
    Port $($Target.Port)
    User $($Target.User)
    IdentityFile $($Target.UserKeyFile)
    ProxyJump yv-bastion

Host yv-bastion
    HostName 127.0.0.1
    Port $($Bastion.Port)
    User yvjump

Host yv-? !yv-n
    User someone-else

Host yv-*
    User first-value-wins-so-not-this-one
    Port 2200

Host *
    IdentityFile ~/.ssh/no-such-key
"@
    }

    It 'resolves a Host alias to its HostName, Port, User and IdentityFile, and logs in with them' {
        $before = Get-Logins $Target 'yvops'
        $t = New-VaultTarget -Name alias-1 -HostName yv-target-alias -SshConfigFile $SshConfig -KnownHostsFile (New-KnownHosts 'alias-1') -Port $Http.Port
        $t.Ssh.HostName | Should-Be '127.0.0.1'
        $t.Ssh.Alias | Should-Be 'yv-target-alias'
        $t.Ssh.Port | Should-Be $Target.Port
        $t.Ssh.User | Should-Be 'yvops'
        $t.Ssh.KeyFile | Should-BeNull
        @($t.Ssh.IdentityFiles) | Should-BeCollection @($Target.UserKeyFile) -Because 'an IdentityFile that names no file is passed over, as ssh does'
        $t.Ssh.JumpHost | Should-BeNull
        ($t | Test-VaultBackendHealth).Healthy | Should-BeTrue
        (Get-Logins $Target 'yvops') - $before | Should-Be 1
        (Get-LastLogin $Target 'yvops').Line | Should-BeLikeString "*ED25519 $KeyFingerprint"
    }

    It "takes the first value of each keyword, and the target's own settings over the file" {
        $t = New-VaultTarget -Name first-1 -HostName yv-x -SshConfigFile $SshConfig -KeyFile $Target.UserKeyFile
        $t.Ssh.HostName | Should-Be 'yv-x' -Because 'no block gives yv-x a HostName'
        $t.Ssh.User | Should-Be 'someone-else' -Because 'Host yv-? comes before Host yv-*'
        $t.Ssh.Port | Should-Be 2200
        $n = New-VaultTarget -Name first-2 -HostName yv-n -SshConfigFile $SshConfig -KeyFile $Target.UserKeyFile
        $n.Ssh.User | Should-Be 'first-value-wins-so-not-this-one' -Because '!yv-n excludes yv-n from Host yv-?'
        $own = New-VaultTarget -Name own-1 -HostName yv-target -SshConfigFile $SshConfig -User deploy -SshPort 2222 -KeyFile $Target.UserKeyFile
        $own.Ssh.User | Should-Be 'deploy'
        $own.Ssh.Port | Should-Be 2222
        $own.Ssh.HostName | Should-Be '127.0.0.1'
        $own.Ssh.KeyFile | Should-Be $Target.UserKeyFile
    }

    It 'follows a ProxyJump of the config through the jump host (resolved with the config too)' {
        $beforeBastion = Get-Logins $Bastion 'yvjump'
        $t = New-VaultTarget -Name behind-cfg -HostName yv-behind -SshConfigFile $SshConfig -KnownHostsFile (New-KnownHosts 'behind-cfg') -Port $Http.Port
        $t.Ssh.JumpHost.HostName | Should-Be '127.0.0.1'
        $t.Ssh.JumpHost.Port | Should-Be $Bastion.Port
        $t.Ssh.JumpHost.User | Should-Be 'yvjump'
        $t.Ssh.JumpHost.Alias | Should-Be 'yv-bastion'
        ($t | Test-VaultBackendHealth).Healthy | Should-BeTrue
        (Get-Logins $Bastion 'yvjump') - $beforeBastion | Should-Be 1
    }

    It 'lets JumpHost none turn a ProxyJump of the config off' {
        $t = New-VaultTarget -Name direct-cfg -HostName yv-behind -SshConfigFile $SshConfig -JumpHost none
        $t.Ssh.JumpHost | Should-BeNull
    }

    It 'reads SshConfigFile and JumpHost from a targets file (a relative path from its folder)' {
        $dir = Join-Path $TestDrive 'conf'
        New-Item -ItemType Directory -Path $dir -Force | Out-Null
        Copy-Item -LiteralPath $SshConfig -Destination (Join-Path $dir 'ssh_config')
        Set-Content -LiteralPath (Join-Path $dir 'targets.psd1') -Value @"
@{
    Defaults = @{ SshConfigFile = 'ssh_config'; Port = $($Http.Port); KnownHostsFile = '$(New-KnownHosts 'file-1')' }
    Targets  = @(
        @{ Name = 'file-direct'; HostName = 'yv-target' }
        @{ Name = 'file-behind'; HostName = 'yv-target'; JumpHost = '$Jump' }
    )
}
"@
        $targets = Get-VaultTarget -Path (Join-Path $dir 'targets.psd1')
        $targets[0].Ssh.SshConfigFile | Should-Be (Join-Path $dir 'ssh_config')
        $targets[0].Ssh.Port | Should-Be $Target.Port
        $targets[1].Ssh.JumpHost.ToString() | Should-Be $Jump
        $results = $targets | Test-VaultBackendHealth
        @($results.Healthy) | Should-BeCollection @($true, $true)
    }

    It 'reads ~/.ssh/config by default, and not with SshConfigFile none' {
        $homeDir = Join-Path $TestDrive 'home'
        New-Item -ItemType Directory -Path (Join-Path $homeDir '.ssh') -Force | Out-Null
        Set-Content -LiteralPath (Join-Path $homeDir '.ssh/config') -Value "Host yv-home`n    HostName 127.0.0.1`n    Port $($Target.Port)`n    User yvops`n"
        try {
            $env:HOME = $homeDir
            $t = New-VaultTarget -Name home-1 -HostName yv-home -KeyFile $Target.UserKeyFile
            $t.Ssh.HostName | Should-Be '127.0.0.1'
            $t.Ssh.SshConfigFile | Should-Be (Join-Path $homeDir '.ssh/config')
            $none = New-VaultTarget -Name home-2 -HostName yv-home -KeyFile $Target.UserKeyFile -User deploy -SshConfigFile none
            $none.Ssh.HostName | Should-Be 'yv-home'
            $none.Ssh.Port | Should-Be 22
            $none.Ssh.SshConfigFile | Should-BeNull
        }
        finally { $env:HOME = $SavedHome }
    }

    It 'is SshConfigInvalid, naming the file and the line, for a bad value in a block that applies (before anything connects)' {
        $bad = Join-Path $TestDrive 'ssh_config_bad'
        Set-Content -LiteralPath $bad -Value "Host yv-other`n    Port not-a-port`nHost yv-bad`n    User ops`n    Port 99999`n"
        { New-VaultTarget -Name bad-1 -HostName yv-bad -SshConfigFile $bad -KeyFile $Target.UserKeyFile } |
            Should-Throw -FullyQualifiedErrorId 'SshConfigInvalid,YieldVault.Ops.Commands.NewVaultTargetCommand' -ExceptionMessage "*$bad, line 5: Port '99999' is not a port number*"
        # A block for another host is not read: its mistake is not this target's.
        (New-VaultTarget -Name ok-1 -HostName yv-fine -User ops -SshConfigFile $bad -KeyFile $Target.UserKeyFile).Ssh.HostName | Should-Be 'yv-fine'
        { New-VaultTarget -Name bad-2 -HostName yv-bad -SshConfigFile (Join-Path $TestDrive 'no-such-config') -KeyFile $Target.UserKeyFile } |
            Should-Throw -FullyQualifiedErrorId 'TargetInvalid,YieldVault.Ops.Commands.NewVaultTargetCommand' -ExceptionMessage '*SshConfigFile*does not exist*'
    }
}

Describe 'Keys from a running ssh-agent (SSH_AUTH_SOCK)' {
    AfterEach {
        Remove-Item Env:SSH_AUTH_SOCK -ErrorAction Ignore
        if ($script:Agent) { Stop-TestSshAgent $Agent; $script:Agent = $null }
    }

    It 'logs in with an ed25519 key the agent holds, with no KeyFile' {
        $script:Agent = Start-TestSshAgent -KeyFile $Target.UserKeyFile
        $env:SSH_AUTH_SOCK = $Agent.Socket
        $t = New-VaultTarget -Name agent-1 -HostName $Target.HostName -SshPort $Target.Port -User yvops -SshConfigFile none -KnownHostsFile (New-KnownHosts 'agent-1') -Port $Http.Port
        $t.Ssh.KeyFile | Should-BeNull
        @($t.Ssh.IdentityFiles).Count | Should-Be 0
        ($t | Test-VaultBackendHealth).Healthy | Should-BeTrue
        (Get-LastLogin $Target 'yvops').Line | Should-BeLikeString "*ED25519 $KeyFingerprint"
    }

    It 'signs with SHA-2 (rsa-sha2-*) for an RSA key the agent holds' {
        $script:Agent = Start-TestSshAgent -KeyFile $Target.UserRsaKeyFile
        $env:SSH_AUTH_SOCK = $Agent.Socket
        $t = New-VaultTarget -Name agent-2 -HostName $Target.HostName -SshPort $Target.Port -User yvops -SshConfigFile none -KnownHostsFile (New-KnownHosts 'agent-2') -Port $Http.Port
        ($t | Test-VaultBackendHealth).Healthy | Should-BeTrue
        # OpenSSH 9.2 refuses ssh-rsa (SHA-1) signatures by default: an accepted RSA login is a SHA-2 one.
        (Get-LastLogin $Target 'yvops').Line | Should-BeLikeString "*RSA $RsaFingerprint"
    }

    It 'opens the jump host and the target with the agent key' {
        $script:Agent = Start-TestSshAgent -KeyFile $Target.UserKeyFile
        $env:SSH_AUTH_SOCK = $Agent.Socket
        $beforeBastion = Get-Logins $Bastion 'yvjump'
        $t = New-BehindTarget 'agent-3' @{ KeyFile = $null }
        ($t | Test-VaultBackendHealth).Healthy | Should-BeTrue
        (Get-Logins $Bastion 'yvjump') - $beforeBastion | Should-Be 1
        (Get-LastLogin $Bastion 'yvjump').Line | Should-BeLikeString "*ED25519 $KeyFingerprint"
        (Get-LastLogin $Target 'yvops').Line | Should-BeLikeString "*ED25519 $KeyFingerprint"
    }

    It 'is SshAgentFailed when the agent is the only way in and does not answer' {
        $env:SSH_AUTH_SOCK = Join-Path $TestDrive 'no-agent.sock'
        $t = New-VaultTarget -Name agent-4 -HostName $Target.HostName -SshPort $Target.Port -User yvops -SshConfigFile none -KnownHostsFile (New-KnownHosts 'agent-4') -Port $Http.Port
        $err = Get-VaultCommandError -Target $t -Command Test-VaultBackendHealth -FullyQualifiedErrorId 'SshAgentFailed,YieldVault.Ops.Commands.TestVaultBackendHealthCommand' -Category AuthenticationError
        $err.Exception.Message | Should-BeLikeString "*ssh-agent at $($env:SSH_AUTH_SOCK)*"
        # With a key file as well, the agent's silence costs nothing.
        $withKey = New-VaultTarget -Name agent-5 -HostName $Target.HostName -SshPort $Target.Port -User yvops -SshConfigFile none -KeyFile $Target.UserKeyFile -KnownHostsFile (New-KnownHosts 'agent-5') -Port $Http.Port
        ($withKey | Test-VaultBackendHealth).Healthy | Should-BeTrue
    }

    It 'is SshAgentFailed when the agent holds no keys and nothing else can log in' {
        $script:Agent = Start-TestSshAgent
        $env:SSH_AUTH_SOCK = $Agent.Socket
        $t = New-VaultTarget -Name agent-6 -HostName $Target.HostName -SshPort $Target.Port -User yvops -SshConfigFile none -KnownHostsFile (New-KnownHosts 'agent-6') -Port $Http.Port
        $err = Get-VaultCommandError -Target $t -Command Test-VaultBackendHealth -FullyQualifiedErrorId 'SshAgentFailed,YieldVault.Ops.Commands.TestVaultBackendHealthCommand'
        $err.Exception.Message | Should-BeLikeString '*holds 0 keys*'
    }

    It 'needs a key, a credential or an agent: without any, New-VaultTarget refuses the target' {
        { New-VaultTarget -Name agent-7 -HostName $Target.HostName -SshPort $Target.Port -User yvops -SshConfigFile none } |
            Should-Throw -FullyQualifiedErrorId 'TargetInvalid,YieldVault.Ops.Commands.NewVaultTargetCommand' -ExceptionMessage '*KeyFile, a Credential, an IdentityFile*ssh-agent (SSH_AUTH_SOCK)*'
    }
}
