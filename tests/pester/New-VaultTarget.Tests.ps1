# New-VaultTarget: the runbook's defaults, SSH settings, and specific errors for bad input.
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestCommon.psm1') -Force
    Import-Module (Get-VaultModuleManifest) -Force
    $script:KeyFile = Join-Path $TestDrive 'id_test'
    Set-Content -LiteralPath $KeyFile -Value 'not a real key; only its existence is checked here'
}

Describe 'New-VaultTarget' {
    It 'makes a local target with the runbook defaults' {
        $t = New-VaultTarget -Name local-1
        $t.GetType().FullName | Should-Be 'YieldVault.Ops.VaultTarget'
        $t.Transport | Should-Be 'Local'
        $t.Port | Should-Be 3000
        $t.AppPath | Should-Be '/app/yieldvault-backend'
        $t.EnvFilePath | Should-Be '/app/yieldvault-backend/.env'
        $t.LogPath | Should-Be '/var/log/yieldvault/backend.log'
        $t.BackupPath | Should-Be '/var/backups/yieldvault'
        $t.ServiceName | Should-Be 'yieldvault-backend'
        $t.HealthPath | Should-Be '/health'
        @($t.RequiredVariables) | Should-BeCollection @('STELLAR_RPC_URL', 'VAULT_CONTRACT_ID', 'DATABASE_URL')
    }

    It 'makes an SSH target with every setting' {
        $t = New-VaultTarget -Name prod-1 -HostName app1.internal -SshPort 2222 -User deploy -KeyFile $KeyFile `
            -KnownHostsFile (Join-Path $TestDrive 'kh') -Environment staging -ServiceManager Pm2 -Port 3100 -AppPath '/srv/yv app' `
            -RequiredVariable A, B -PublicUrl https://api.yieldvault.finance -ConnectTimeoutSec 3 -CommandTimeoutSec 30
        $t.Transport | Should-Be 'Ssh'
        $t.Ssh.HostName | Should-Be 'app1.internal'
        $t.Ssh.Port | Should-Be 2222
        $t.Ssh.User | Should-Be 'deploy'
        $t.Ssh.KeyFile | Should-Be $KeyFile
        $t.Ssh.ConnectTimeout.TotalSeconds | Should-Be 3
        $t.ServiceManager | Should-Be 'Pm2'
        $t.AppPath | Should-Be '/srv/yv app'
        $t.PublicUrl.Host | Should-Be 'api.yieldvault.finance'
        @($t.RequiredVariables) | Should-BeCollection @('A', 'B')
        $t.DisplayName | Should-Be 'prod-1 (deploy@app1.internal:2222)'
    }

    It 'resolves a relative key file against the current location' {
        Push-Location $TestDrive
        try { (New-VaultTarget -Name t -HostName h -User u -KeyFile ./id_test).Ssh.KeyFile | Should-Be $KeyFile }
        finally { Pop-Location }
    }

    It 'takes the user and password from a credential and never shows the password' {
        $cred = [pscredential]::new('deploy', (ConvertTo-SecureString 'Sup3r-Secret-Pw' -AsPlainText -Force))
        $t = New-VaultTarget -Name t -HostName h -Credential $cred
        $t.Ssh.User | Should-Be 'deploy'
        $t.Ssh.HasPassword | Should-BeTrue
        ($t | Format-List * | Out-String) + ($t.Ssh | Format-List * | Out-String) + ($t | ConvertTo-Json -Depth 4 -WarningAction Ignore) |
            Should-NotBeLikeString '*Sup3r-Secret-Pw*'
    }

    It 'shows a table that fits 120 columns' {
        $lines = New-VaultTarget -Name a-rather-long-name -HostName app1.internal -User deploy -KeyFile $KeyFile | Format-Table | Out-String -Width 120 -Stream
        ($lines | Where-Object { $_.Length -gt 120 }) | Should-BeNull
        ($lines -join "`n") | Should-BeLikeString '*deploy@app1.internal*'
    }

    It 'refuses <Case> with <ErrorId>' -ForEach @(
        @{ Case = 'a name with a shell metacharacter'; Params = @{ Name = 'prod;rm' }; ErrorId = 'TargetInvalid'; Key = 'Name' }
        @{ Case = 'a relative app path'; Params = @{ Name = 't'; AppPath = 'app' }; ErrorId = 'TargetInvalid'; Key = 'AppPath' }
        @{ Case = 'a path that climbs out'; Params = @{ Name = 't'; LogPath = '/var/log/../../etc/passwd' }; ErrorId = 'TargetInvalid'; Key = 'LogPath' }
        @{ Case = 'a host name that is an ssh option'; Params = @{ Name = 't'; HostName = '-oProxyCommand=touch /tmp/yv-x'; User = 'u'; KeyFile = '/etc/hostname' }; ErrorId = 'TargetInvalid'; Key = 'HostName' }
        @{ Case = 'an SSH target without key or password'; Params = @{ Name = 't'; HostName = 'h'; User = 'u' }; ErrorId = 'TargetInvalid'; Key = 'KeyFile' }
        @{ Case = 'a key file that does not exist'; Params = @{ Name = 't'; HostName = 'h'; User = 'u'; KeyFile = '/nonexistent/key' }; ErrorId = 'TargetInvalid'; Key = 'KeyFile' }
        @{ Case = 'a fingerprint in the wrong form'; Params = @{ Name = 't'; HostName = 'h'; User = 'u'; KeyFile = '/etc/hostname'; HostKeyFingerprint = 'abc' }; ErrorId = 'TargetInvalid'; Key = 'HostKeyFingerprint' }
        @{ Case = 'a bad variable name'; Params = @{ Name = 't'; RequiredVariable = 'A-B' }; ErrorId = 'TargetInvalid'; Key = 'RequiredVariables' }
        @{ Case = 'a public URL with credentials'; Params = @{ Name = 't'; PublicUrl = 'https://u:p@x' }; ErrorId = 'TargetInvalid'; Key = 'PublicUrl' }
    ) {
        $err = { New-VaultTarget @Params } | Should-Throw
        $err.FullyQualifiedErrorId | Should-Be "$ErrorId,YieldVault.Ops.Commands.NewVaultTargetCommand"
        $err.Exception.Message | Should-BeLikeString "*key '$Key'*"
        $err.CategoryInfo.Category | Should-Be 'InvalidData'
        Test-Path /tmp/yv-x | Should-BeFalse
    }

    It 'refuses a port out of range before the cmdlet runs' {
        { New-VaultTarget -Name t -Port 70000 } | Should-Throw -FullyQualifiedErrorId 'ParameterArgumentValidationError,YieldVault.Ops.Commands.NewVaultTargetCommand'
    }
}
