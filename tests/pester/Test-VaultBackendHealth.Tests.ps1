# Test-VaultBackendHealth end to end: the real sample backend (Node, PostgreSQL, RPC stand-in), locally
# and over a real OpenSSH server on 127.0.0.1, with host keys verified and specific errors for each failure.
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestCommon.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot '../services/YieldVault.TestServices.psm1') -Force
    Import-Module (Get-VaultModuleManifest) -Force

    $script:Stack = Start-TestBackendStack
    $script:Sshd = Start-TestSshd
    $script:Port = $Stack.Port

    function New-SshTarget([hashtable] $Extra = @{}) {
        $p = @{
            Name = 'ssh-1'; HostName = $Sshd.HostName; SshPort = $Sshd.Port; User = $Sshd.User; KeyFile = $Sshd.UserKeyFile
            KnownHostsFile = $Sshd.KnownHostsFile; Port = $Port; ConnectTimeoutSec = 5
        }
        foreach ($k in $Extra.Keys) { $p[$k] = $Extra[$k] }
        if ($p.ContainsKey('Credential')) { $p.Remove('KeyFile') }
        New-VaultTarget @p
    }

    function Get-AcceptedLogins { @(Select-String -LiteralPath $Sshd.LogFile -Pattern 'Accepted (publickey|password) for' -ErrorAction Ignore).Count }
}

AfterAll {
    if ($script:Sshd) { Stop-TestSshd $Sshd }
    if ($script:Stack) { Stop-TestBackendStack $Stack }
    Stop-AllTestServices
}

Describe 'Test-VaultBackendHealth on a local target' {
    It 'reports the running sample backend healthy with its checks' {
        $r = New-VaultTarget -Name local-1 -Port $Port | Test-VaultBackendHealth
        $r.GetType().FullName | Should-Be 'YieldVault.Ops.VaultHealthResult'
        $r.Healthy | Should-BeTrue
        $r.StatusCode | Should-Be 200
        $r.Status | Should-Be 'healthy'
        $r.Checks['api'] | Should-Be 'up'
        $r.Checks['database'] | Should-Be 'up'
        $r.Checks['stellarRpc'] | Should-Be 'up'
        $r.Environment | Should-Be 'production'
        $r.Url | Should-Be "http://localhost:$Port/health"
        $r.LatencyMs | Should-BeGreaterThan 0
        $r.Ready | Should-BeNull
    }

    It 'checks readiness and its dependencies with -Ready' {
        $r = New-VaultTarget -Name local-1 -Port $Port | Test-VaultBackendHealth -Ready
        $r.Ready | Should-BeTrue
        $r.Dependencies['database'] | Should-BeTrue
        $r.Dependencies['stellarRpc'] | Should-BeTrue
        $r.Healthy | Should-BeTrue
    }

    It 'reports unhealthy (not an error) when the Stellar RPC is down' {
        Set-TestStellarRpcMode -Rpc $Stack.Rpc -Mode down
        try {
            Start-Sleep -Milliseconds 400   # the backend caches its checks for 250 ms
            $r = New-VaultTarget -Name local-1 -Port $Port | Test-VaultBackendHealth -Ready -ErrorVariable errs
            $r.Healthy | Should-BeFalse
            $r.StatusCode | Should-Be 503
            $r.Checks['stellarRpc'] | Should-Be 'down'
            $r.Checks['database'] | Should-Be 'up'
            $r.Ready | Should-BeFalse
            $errs.Count | Should-Be 0
        }
        finally {
            Set-TestStellarRpcMode -Rpc $Stack.Rpc -Mode up
            Start-Sleep -Milliseconds 400
        }
        (New-VaultTarget -Name local-1 -Port $Port | Test-VaultBackendHealth).Healthy | Should-BeTrue
    }

    It 'writes BackendUnreachable and returns Healthy = $false for a closed port' {
        $closed = Get-FreeTcpPort
        $r = New-VaultTarget -Name local-1 -Port $closed | Test-VaultBackendHealth -ErrorVariable errs -ErrorAction SilentlyContinue
        $r.Healthy | Should-BeFalse
        $r.StatusCode | Should-BeNull
        $r.Error | Should-BeLikeString '*refused*'
        $errs[0].FullyQualifiedErrorId | Should-Be 'BackendUnreachable,YieldVault.Ops.Commands.TestVaultBackendHealthCommand'
        $errs[0].TargetObject.Name | Should-Be 'local-1'
    }

    It 'formats as a table that fits 120 columns' {
        $lines = New-VaultTarget -Name local-1 -Port $Port | Test-VaultBackendHealth | Format-Table | Out-String -Width 120 -Stream
        ($lines | Where-Object { $_.Length -gt 120 }) | Should-BeNull
        ($lines -join "`n") | Should-BeLikeString '*database=up*'
    }
}

Describe 'Test-VaultBackendHealth over SSH' {
    It 'reaches the backend through an SSH port forward with an ed25519 key' {
        $r = New-SshTarget | Test-VaultBackendHealth -Ready
        $r.Healthy | Should-BeTrue
        $r.Ready | Should-BeTrue
        $r.Checks['database'] | Should-Be 'up'
        $r.Url | Should-Be "http://localhost:$Port/health"
    }

    It 'logs in with an RSA PEM key' {
        (New-SshTarget @{ KeyFile = $Sshd.UserRsaKeyFile; Name = 'ssh-rsa' } | Test-VaultBackendHealth).Healthy | Should-BeTrue
    }

    It 'logs in with a credential (password)' {
        (New-SshTarget @{ Credential = $Sshd.Credential; Name = 'ssh-pw' } | Test-VaultBackendHealth).Healthy | Should-BeTrue
    }

    It 'reuses one SSH connection per host within a session' {
        # A known_hosts file of its own gives this target its own connection (the pool is keyed by it).
        $known = Join-Path $TestDrive 'reuse_known_hosts'
        Copy-Item -LiteralPath $Sshd.KnownHostsFile -Destination $known
        $target = New-SshTarget @{ Name = 'ssh-reuse'; KnownHostsFile = $known }
        $before = Get-AcceptedLogins
        1..3 | ForEach-Object { (Test-VaultBackendHealth -Target $target).Healthy | Should-BeTrue }
        Start-Sleep -Milliseconds 300
        (Get-AcceptedLogins) - $before | Should-Be 1
    }

    It 'refuses a changed host key with HostKeyMismatch and sends nothing' {
        $before = Get-AcceptedLogins
        $r = New-SshTarget @{ Name = 'ssh-mitm'; KnownHostsFile = $Sshd.WrongKnownHostsFile } | Test-VaultBackendHealth -ErrorVariable errs -ErrorAction SilentlyContinue
        $r | Should-BeNull
        $errs[0].FullyQualifiedErrorId | Should-Be 'HostKeyMismatch,YieldVault.Ops.Commands.TestVaultBackendHealthCommand'
        $errs[0].CategoryInfo.Category | Should-Be 'SecurityError'
        $errs[0].Exception.Message | Should-BeLikeString "*$($Sshd.HostKeyFingerprint)*"
        $errs[0].ErrorDetails.RecommendedAction | Should-BeLikeString '*ssh-keygen -R*'
        Get-AcceptedLogins | Should-Be $before
    }

    It 'refuses an unknown host key with HostKeyUnknown' {
        $empty = Join-Path $TestDrive 'empty_known_hosts'
        $r = New-SshTarget @{ Name = 'ssh-new'; KnownHostsFile = $empty } | Test-VaultBackendHealth -ErrorVariable errs -ErrorAction SilentlyContinue
        $r | Should-BeNull
        $errs[0].FullyQualifiedErrorId | Should-Be 'HostKeyUnknown,YieldVault.Ops.Commands.TestVaultBackendHealthCommand'
        Test-Path -LiteralPath $empty | Should-BeFalse
    }

    It 'trusts and records a new host key only with -TrustNewHostKey' {
        $file = Join-Path $TestDrive 'tofu_known_hosts'
        $r = New-SshTarget @{ Name = 'ssh-tofu'; KnownHostsFile = $file; TrustNewHostKey = $true } | Test-VaultBackendHealth -WarningVariable warns
        $r.Healthy | Should-BeTrue
        ($warns -join "`n") | Should-BeLikeString "*$($Sshd.HostKeyFingerprint)*"
        (Get-Content -LiteralPath $file -Raw) | Should-BeLikeString "[[]127.0.0.1]:$($Sshd.Port) ssh-ed25519 *"
        # The recorded key now verifies without the switch, and a changed key is still refused with it.
        (New-SshTarget @{ Name = 'ssh-tofu2'; KnownHostsFile = $file } | Test-VaultBackendHealth).Healthy | Should-BeTrue
        $null = New-SshTarget @{ Name = 'ssh-tofu3'; KnownHostsFile = $Sshd.WrongKnownHostsFile; TrustNewHostKey = $true } |
            Test-VaultBackendHealth -ErrorVariable errs -ErrorAction SilentlyContinue
        $errs[0].FullyQualifiedErrorId | Should-BeLikeString 'HostKeyMismatch,*'
    }

    It 'checks a pinned fingerprint instead of known_hosts' {
        (New-SshTarget @{ Name = 'ssh-pin'; KnownHostsFile = (Join-Path $TestDrive 'none'); HostKeyFingerprint = $Sshd.HostKeyFingerprint } |
            Test-VaultBackendHealth).Healthy | Should-BeTrue
        $null = New-SshTarget @{ Name = 'ssh-pin2'; HostKeyFingerprint = 'SHA256:' + ('A' * 43) } | Test-VaultBackendHealth -ErrorVariable errs -ErrorAction SilentlyContinue
        $errs[0].FullyQualifiedErrorId | Should-BeLikeString 'HostKeyMismatch,*'
    }

    It 'reports wrong credentials as AuthenticationFailed without the password' {
        $bad = [pscredential]::new($Sshd.User, (ConvertTo-SecureString 'Wr0ng-Passw0rd-Planted' -AsPlainText -Force))
        $null = New-SshTarget @{ Name = 'ssh-badpw'; Credential = $bad } | Test-VaultBackendHealth -ErrorVariable errs -ErrorAction SilentlyContinue
        $errs[0].FullyQualifiedErrorId | Should-Be 'AuthenticationFailed,YieldVault.Ops.Commands.TestVaultBackendHealthCommand'
        $errs[0].CategoryInfo.Category | Should-Be 'AuthenticationError'
        ($errs[0] | Out-String) + $errs[0].Exception.ToString() | Should-NotBeLikeString '*Wr0ng-Passw0rd-Planted*'
    }

    It 'reports a key the server does not accept as AuthenticationFailed' {
        $other = Join-Path $TestDrive 'other_key'
        & ssh-keygen -q -t ed25519 -N '' -f $other
        $null = New-SshTarget @{ Name = 'ssh-badkey'; KeyFile = $other } | Test-VaultBackendHealth -ErrorVariable errs -ErrorAction SilentlyContinue
        $errs[0].FullyQualifiedErrorId | Should-BeLikeString 'AuthenticationFailed,*'
    }

    It 'reports a closed SSH port as TargetUnreachable' {
        $null = New-SshTarget @{ Name = 'ssh-closed'; SshPort = (Get-FreeTcpPort) } | Test-VaultBackendHealth -ErrorVariable errs -ErrorAction SilentlyContinue
        $errs[0].FullyQualifiedErrorId | Should-Be 'TargetUnreachable,YieldVault.Ops.Commands.TestVaultBackendHealthCommand'
        $errs[0].Exception.Message | Should-BeLikeString '*connection refused*'
    }

    It 'reports an unresolvable host as TargetUnreachable' {
        $null = New-SshTarget @{ Name = 'ssh-dns'; HostName = 'no-such-host.invalid' } | Test-VaultBackendHealth -ErrorVariable errs -ErrorAction SilentlyContinue
        $errs[0].FullyQualifiedErrorId | Should-BeLikeString 'TargetUnreachable,*'
        $errs[0].Exception.Message | Should-BeLikeString '*no-such-host.invalid*'
    }

    It 'reports a server that never speaks SSH as ConnectTimeout' {
        $listener = [Net.Sockets.TcpListener]::new([Net.IPAddress]::Loopback, 0)
        $listener.Start()   # the kernel accepts connections; nobody ever answers
        try {
            $watch = [Diagnostics.Stopwatch]::StartNew()
            $null = New-SshTarget @{ Name = 'ssh-silent'; SshPort = $listener.LocalEndpoint.Port; ConnectTimeoutSec = 2 } |
                Test-VaultBackendHealth -ErrorVariable errs -ErrorAction SilentlyContinue
            $errs[0].FullyQualifiedErrorId | Should-Be 'ConnectTimeout,YieldVault.Ops.Commands.TestVaultBackendHealthCommand'
            $watch.Elapsed.TotalSeconds | Should-BeLessThan 30
        }
        finally { $listener.Stop() }
    }

    It 'stops promptly when the pipeline is stopped (Ctrl+C)' {
        $listener = [Net.Sockets.TcpListener]::new([Net.IPAddress]::Loopback, 0)
        $listener.Start()
        $ps = [powershell]::Create()
        try {
            $target = New-SshTarget @{ Name = 'ssh-cancel'; SshPort = $listener.LocalEndpoint.Port; ConnectTimeoutSec = 60 }
            $null = $ps.AddCommand('Import-Module').AddParameter('Name', (Get-VaultModuleManifest)).AddStatement().
                AddCommand('Test-VaultBackendHealth').AddParameter('Target', $target)
            $handle = $ps.BeginInvoke()
            Start-Sleep -Seconds 2
            $watch = [Diagnostics.Stopwatch]::StartNew()
            $ps.Stop()
            $handle.AsyncWaitHandle.WaitOne(10000) | Should-BeTrue
            $watch.Elapsed.TotalSeconds | Should-BeLessThan 10
            $ps.InvocationStateInfo.State | Should-Be 'Stopped'
        }
        finally { $ps.Dispose(); $listener.Stop() }
    }

    It 'reports BackendUnreachable when nothing listens on the server port' {
        $r = New-SshTarget @{ Name = 'ssh-noport'; Port = (Get-FreeTcpPort) } | Test-VaultBackendHealth -ErrorVariable errs -ErrorAction SilentlyContinue -TimeoutSec 5
        $r.Healthy | Should-BeFalse
        $errs[0].FullyQualifiedErrorId | Should-BeLikeString 'BackendUnreachable,*'
    }
}

Describe 'Dependency isolation' {
    It 'works when another SSH.NET is already loaded in the session' {
        # Another module's SSH.NET: same assembly name, older version, different types, loaded first.
        $fixture = Join-Path $PSScriptRoot '../fixtures/other-sshnet/OtherSshNet.csproj'
        $outDir = Join-Path $TestDrive 'other-sshnet'
        & dotnet build $fixture -c Release -o $outDir --nologo -v q | Out-Null
        $LASTEXITCODE | Should-Be 0
        $fake = Join-Path $outDir 'Renci.SshNet.dll'
        $t = @{ Port = $Sshd.Port; User = $Sshd.User; Key = $Sshd.UserKeyFile; Known = $Sshd.KnownHostsFile; AppPort = $Port; Module = (Get-VaultModuleManifest); Fake = $fake }
        $script = @"
`$ErrorActionPreference = 'Stop'
Add-Type -LiteralPath '$($t.Fake)'
Import-Module '$($t.Module)'
`$target = New-VaultTarget -Name iso -HostName 127.0.0.1 -SshPort $($t.Port) -User $($t.User) -KeyFile '$($t.Key)' -KnownHostsFile '$($t.Known)' -Port $($t.AppPort)
`$r = Test-VaultBackendHealth -Target `$target
`$loaded = [AppDomain]::CurrentDomain.GetAssemblies() | Where-Object { `$_.GetName().Name -in 'Renci.SshNet', 'Newtonsoft.Json' } |
    ForEach-Object { '{0} {1} {2}' -f `$_.GetName().Name, `$_.GetName().Version, [Runtime.Loader.AssemblyLoadContext]::GetLoadContext(`$_).Name }
[pscustomobject]@{ Healthy = `$r.Healthy; Loaded = @(`$loaded); Fake = ([Renci.SshNet.SshClient]::new()).Owner } | ConvertTo-Json -Compress
"@
        $run = Invoke-FreshPwsh -Script $script
        $run.Error | Should-BeEmptyString
        $result = ($run.Output.Trim() -split "`n")[-1] | ConvertFrom-Json
        $result.Healthy | Should-BeTrue
        $result.Fake | Should-Be 'someone else'
        $result.Loaded | Should-ContainCollection 'Renci.SshNet 2016.1.0.0 Default'
        @($result.Loaded | Where-Object { $_ -like 'Renci.SshNet 2026.*' -and $_ -notlike '* Default' }).Count | Should-Be 1
        # PowerShell's own Newtonsoft.Json stays where it is; ours is a separate copy in the module's context.
        @($result.Loaded | Where-Object { $_ -like 'Newtonsoft.Json *' -and $_ -notlike '* Default' }).Count | Should-Be 1
    }
}
