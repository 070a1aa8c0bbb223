@{
    # The module's version lives here and only here: build.ps1 reads it and stamps the assemblies.
    ModuleVersion        = '0.1.0'
    RootModule           = 'YieldVault.Ops.psm1'
    GUID                 = '5b0f6f7e-9d2a-4c61-8f0e-3a7d2c1b9e44'
    Author               = 'YieldVault.Ops'
    CompanyName          = 'YieldVault'
    Copyright            = '(c) YieldVault. All rights reserved.'
    Description          = 'Runs the YieldVault backend redeployment runbook as safe, scriptable cmdlets: assess, back up, deploy, verify, roll back and record, locally or over SSH.'
    PowerShellVersion    = '7.2'
    CompatiblePSEditions = @('Core')
    FormatsToProcess     = @('YieldVault.Ops.Format.ps1xml')
    CmdletsToExport      = @(
        'Backup-VaultDeployment'
        'ConvertTo-VaultRunbookReport'
        'Disable-VaultMaintenanceMode'
        'Enable-VaultMaintenanceMode'
        'Get-VaultBackendLog'
        'Get-VaultBackendStatus'
        'Get-VaultBackendVersion'
        'Get-VaultDeploymentHistory'
        'Get-VaultDeploymentJournal'
        'Get-VaultDeploymentLock'
        'Get-VaultDiagnosis'
        'Get-VaultRelease'
        'Get-VaultTarget'
        'Get-VaultTrafficState'
        'Invoke-VaultDeployment'
        'Invoke-VaultMigration'
        'Invoke-VaultRunbook'
        'Invoke-VaultRunbookTest'
        'New-VaultTarget'
        'Restart-VaultBackend'
        'Send-VaultNotification'
        'Start-VaultBackend'
        'Stop-VaultBackend'
        'Switch-VaultTraffic'
        'Test-VaultBackendHealth'
        'Test-VaultDependency'
        'Test-VaultDeploymentReadiness'
        'Test-VaultEnvironment'
        'Test-VaultSmoke'
        'Undo-VaultDeployment'
        'Unlock-VaultDeployment'
        'Wait-VaultBackendHealthy'
        'Watch-VaultBackend'
    )
    FunctionsToExport    = @()
    AliasesToExport      = @()
    VariablesToExport    = @()
    PrivateData          = @{
        PSData = @{
            Tags       = @('YieldVault', 'Runbook', 'Deployment', 'SSH', 'Docker', 'PM2', 'systemd')
            ProjectUri = 'https://github.com/yieldvault/yieldvault-ops'
        }
    }
}
