# Get-VaultTarget: config files, filters, and errors that name the file, the target and the key.
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestCommon.psm1') -Force
    Import-Module (Get-VaultModuleManifest) -Force

    function New-ConfigFile([string] $Text, [string] $Name = 'targets.psd1') {
        $path = Join-Path $TestDrive $Name
        Set-Content -LiteralPath $path -Value $Text
        $path
    }

    Set-Content -LiteralPath (Join-Path $TestDrive 'deploy_key') -Value 'key'
    $script:Config = New-ConfigFile @'
@{
    Defaults = @{ ServiceManager = 'Pm2'; User = 'deploy'; KeyFile = 'deploy_key' }
    Targets  = @(
        @{ Name = 'prod-1'; Environment = 'production'; HostName = 'app1.internal'; PublicUrl = 'https://api.yieldvault.finance' }
        @{ Name = 'prod-2'; Environment = 'production'; HostName = 'app2.internal'; SshPort = 2222 }
        @{ Name = 'staging-1'; Environment = 'staging'; HostName = 'stg1.internal'; ServiceManager = 'Docker'; Port = 3100 }
    )
}
'@
}

Describe 'Get-VaultTarget' {
    It 'reads every target with defaults applied' {
        $targets = Get-VaultTarget -Path $Config
        $targets.Count | Should-Be 3
        $targets[0].Name | Should-Be 'prod-1'
        $targets[0].ServiceManager | Should-Be 'Pm2'
        $targets[0].Ssh.KeyFile | Should-Be (Join-Path $TestDrive 'deploy_key')
        $targets[1].Ssh.Port | Should-Be 2222
        $targets[2].ServiceManager | Should-Be 'Docker'
        $targets[2].Port | Should-Be 3100
    }

    It 'filters by name with wildcards and by environment' {
        (Get-VaultTarget -Path $Config -Name 'prod-*').Name | Should-BeCollection @('prod-1', 'prod-2')
        (Get-VaultTarget -Path $Config -Environment staging).Name | Should-Be 'staging-1'
        (Get-VaultTarget $Config 'PROD-2').Name | Should-Be 'prod-2'
    }

    It 'uses $env:YIELDVAULT_TARGETS when no path is given' {
        $env:YIELDVAULT_TARGETS = $Config
        try { (Get-VaultTarget -Name staging-1).Port | Should-Be 3100 }
        finally { Remove-Item Env:YIELDVAULT_TARGETS }
    }

    It 'completes target names' {
        $env:YIELDVAULT_TARGETS = $Config
        try {
            $line = 'Get-VaultTarget -Name prod'
            $completions = (TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches.CompletionText
            $completions | Should-BeCollection @('prod-1', 'prod-2')
        }
        finally { Remove-Item Env:YIELDVAULT_TARGETS }
    }

    It 'writes TargetNotFound for a name that is not there and still returns the others' {
        $found = Get-VaultTarget -Path $Config -Name prod-1, nope -ErrorVariable errs -ErrorAction SilentlyContinue
        $found.Name | Should-Be 'prod-1'
        $errs.Count | Should-Be 1
        $errs[0].FullyQualifiedErrorId | Should-Be 'TargetNotFound,YieldVault.Ops.Commands.GetVaultTargetCommand'
        $errs[0].Exception.Message | Should-BeLikeString "*no target named 'nope'*"
    }

    It 'feeds targets to the next cmdlet through the pipeline' {
        $results = Get-VaultTarget -Path $Config -Name staging-1 | Test-VaultBackendHealth -ErrorAction SilentlyContinue -TimeoutSec 1
        # stg1.internal cannot be resolved here: the error is about that target, proving it was bound from the pipeline.
        $Error[0].TargetObject.Name | Should-Be 'staging-1'
        $results | Should-BeNull
    }

    It 'reports <Case> as <ErrorId> naming <Expect>' -ForEach @(
        @{ Case = 'a missing file'; Text = $null; ErrorId = 'TargetConfigNotFound'; Expect = @('does not exist') }
        @{ Case = 'a syntax error'; Text = "@{ Targets = @( @{ Name = 'a' }"; ErrorId = 'TargetConfigInvalid'; Expect = @('line ') }
        @{ Case = 'an unknown key'; Text = "@{ Targets = @( @{ Name = 'a'; Prot = 3000 } ) }"; ErrorId = 'TargetConfigInvalid'; Expect = @("target 'a'", "key 'Prot'") }
        @{ Case = 'a wrong type'; Text = "@{ Targets = @( @{ Name = 'web'; Port = 'http' } ) }"; ErrorId = 'TargetConfigInvalid'; Expect = @("target 'web'", "key 'Port'", 'whole number') }
        @{ Case = 'a password in the file'; Text = "@{ Targets = @( @{ Name = 'a'; HostName = 'h'; User = 'u'; Password = 'x' } ) }"; ErrorId = 'TargetConfigInvalid'; Expect = @("key 'Password'", 'not read from files') }
        @{ Case = 'a missing name'; Text = "@{ Targets = @( @{ Port = 1 } ) }"; ErrorId = 'TargetConfigInvalid'; Expect = @("key 'Name'") }
        @{ Case = 'duplicate names'; Text = "@{ Targets = @( @{ Name = 'a' }, @{ Name = 'a' } ) }"; ErrorId = 'TargetConfigInvalid'; Expect = @('more than one target') }
        @{ Case = 'no Targets key'; Text = "@{ Servers = @() }"; ErrorId = 'TargetConfigInvalid'; Expect = @("'Servers'") }
        @{ Case = 'a script instead of data'; Text = "Get-Date"; ErrorId = 'TargetConfigInvalid'; Expect = @('exactly one hashtable') }
    ) {
        $path = if ($null -eq $Text) { Join-Path $TestDrive 'missing.psd1' } else { New-ConfigFile $Text "case-$([guid]::NewGuid().ToString('N')).psd1" }
        $err = { Get-VaultTarget -Path $path } | Should-Throw
        $err.FullyQualifiedErrorId | Should-Be "$ErrorId,YieldVault.Ops.Commands.GetVaultTargetCommand"
        $err.Exception.Message | Should-BeLikeString "*$path*"
        foreach ($e in $Expect) { $err.Exception.Message | Should-BeLikeString "*$e*" }
    }

    It 'warns about TrustNewHostKey = $true kept in a targets file, naming the file and the target, and still reads it' {
        $file = New-ConfigFile @'
@{
    Defaults = @{ User = 'deploy'; KeyFile = 'deploy_key' }
    Targets  = @(
        @{ Name = 'tofu-1'; HostName = 'app1.internal'; TrustNewHostKey = $true }
        @{ Name = 'checked-1'; HostName = 'app2.internal'; TrustNewHostKey = $false }
    )
}
'@ 'tofu.psd1'
        $targets = Get-VaultTarget -Path $file -WarningVariable warnings -WarningAction SilentlyContinue
        @($targets.Name) | Should-BeCollection @('tofu-1', 'checked-1')
        $targets[0].Ssh.TrustNewHostKey | Should-BeTrue
        @($warnings).Count | Should-Be 1
        "$($warnings[0])" | Should-BeLikeString "*$file*'tofu-1'*TrustNewHostKey*first connection*"
        # -TrustNewHostKey given for one session's first contact is what it is meant for: no warning.
        $null = New-VaultTarget -Name tofu-2 -HostName app3.internal -User deploy -KeyFile (Join-Path $TestDrive 'deploy_key') -TrustNewHostKey -WarningVariable newWarnings
        @($newWarnings).Count | Should-Be 0
    }

    It 'never runs code from a config file' {
        $marker = Join-Path $TestDrive 'ran.txt'
        $path = New-ConfigFile "@{ Targets = @( @{ Name = `$(Set-Content -Path '$marker' -Value x; 'a') } ) }"
        $err = { Get-VaultTarget -Path $path } | Should-Throw
        $err.FullyQualifiedErrorId | Should-BeLikeString 'TargetConfigInvalid,*'
        $err.Exception.Message | Should-BeLikeString '*only constant values*'
        Test-Path -LiteralPath $marker | Should-BeFalse
    }

    It 'asks for a path when there is none' {
        Remove-Item Env:YIELDVAULT_TARGETS -ErrorAction Ignore
        { Get-VaultTarget } | Should-Throw -FullyQualifiedErrorId 'TargetConfigNotFound,YieldVault.Ops.Commands.GetVaultTargetCommand'
    }
}
