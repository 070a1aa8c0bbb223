# One name per setting: every targets-file key is a New-VaultTarget parameter of the same name and the other way
# round, the old spelling -RequiredVariable still works with a deprecation warning, and the settings that describe
# another Node backend are refused early, naming the setting, from either place.
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestCommon.psm1') -Force
    Import-Module (Get-VaultModuleManifest) -Force
    # Core lives in the module's AssemblyLoadContext: reach its types through an object it made.
    $script:Core = (New-VaultTarget -Name probe).GetType().Assembly
    $script:KnownKeys = @($Core.GetType('YieldVault.Ops.TargetBuilder', $true)::KnownKeys)
    $common = [System.Management.Automation.PSCmdlet]::CommonParameters
    $script:Parameters = @((Get-Command New-VaultTarget).Parameters.Keys | Where-Object { $_ -notin $common })

    function New-TargetFile([string] $Text) {
        $path = Join-Path $TestDrive ("targets-" + [guid]::NewGuid().ToString('N').Substring(0, 8) + '.psd1')
        Set-Content -LiteralPath $path -Value $Text
        $path
    }
}

Describe 'Targets-file keys and New-VaultTarget parameters' {
    It 'has a parameter of the same name for every key' {
        @($KnownKeys | Where-Object { $_ -cnotin $Parameters }) | Should-BeCollection @()
    }

    It 'has a key of the same name for every parameter but -Credential and the deprecated -RequiredVariable' {
        @($Parameters | Where-Object { $_ -cnotin $KnownKeys } | Sort-Object) | Should-BeCollection @('Credential', 'RequiredVariable')
    }

    It 'hides the deprecated spelling from completion, and accepts it with a warning' {
        (Get-Command New-VaultTarget).Parameters['RequiredVariable'].Attributes.DontShow | Should-ContainCollection @($true)
        $line = 'New-VaultTarget -RequiredVariab'
        (TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches.CompletionText | Should-BeCollection @('-RequiredVariables')
        (Get-Help New-VaultTarget -Parameter RequiredVariable).description.Text | Should-BeLikeString 'Deprecated*'
        $t = New-VaultTarget -Name t -RequiredVariable A, B -WarningVariable warns -WarningAction SilentlyContinue
        @($t.RequiredVariables) | Should-BeCollection @('A', 'B')
        $warns.Count | Should-Be 1
        [string]$warns[0] | Should-BeLikeString '*-RequiredVariable is deprecated*-RequiredVariables*'
        $null = New-VaultTarget -Name t -RequiredVariables A -WarningVariable none
        $none.Count | Should-Be 0
    }

    It 'refuses the old and the new spelling together' {
        { New-VaultTarget -Name t -RequiredVariable A -RequiredVariables B -WarningAction SilentlyContinue } |
            Should-Throw -FullyQualifiedErrorId 'TargetInvalid,YieldVault.Ops.Commands.NewVaultTargetCommand'
    }

    It 'makes the same target from a file and from the parameters' {
        $settings = @{
            Name = 'plain-1'; Port = 4000; ServiceManager = 'Pm2'; ServiceName = 'plain-backend'; AppPath = '/srv/plain'
            HealthPath = '/healthz'; ReadyPath = ''; VersionPath = ''; HealthyStatusCodes = @(200, 204); HealthyValues = @('UP', 'ok')
            HealthJsonPath = 'health.state'; HealthResponse = 'Text'; SmokePreset = 'None'; StartupMarkers = @('listening on port {Port}')
            PackageManager = 'Pnpm'; BuildCommand = @('pnpm', 'run', 'build:api'); EntryPoint = 'build/main.js'; AppSubdirectory = 'apps/api'
            RequiredVariables = @('PORT'); MigrationPreset = 'None'; SmokeChecks = @(@{ Name = 'items'; Path = '/items' })
        }
        $fromParameters = New-VaultTarget @settings
        $file = New-TargetFile @'
@{ Targets = @( @{
    Name = 'plain-1'; Port = 4000; ServiceManager = 'Pm2'; ServiceName = 'plain-backend'; AppPath = '/srv/plain'
    HealthPath = '/healthz'; ReadyPath = ''; VersionPath = ''; HealthyStatusCodes = 200, 204; HealthyValues = 'UP', 'ok'
    HealthJsonPath = 'health.state'; HealthResponse = 'Text'; SmokePreset = 'None'; StartupMarkers = @('listening on port {Port}')
    PackageManager = 'Pnpm'; BuildCommand = 'pnpm run build:api'; EntryPoint = 'build/main.js'; AppSubdirectory = 'apps/api'
    RequiredVariables = @('PORT'); MigrationPreset = 'None'; SmokeChecks = @( @{ Name = 'items'; Path = '/items' } )
} ) }
'@
        $fromFile = Get-VaultTarget -Path $file
        foreach ($p in 'HealthPath', 'ReadyPath', 'VersionPath', 'HealthJsonPath', 'HealthResponse', 'SmokePreset', 'PackageManager', 'EntryPoint',
            'AppSubdirectory', 'AppDirectory', 'EnvFilePath', 'HasReadyPath', 'HasVersionPath') {
            [string]$fromFile.$p | Should-Be ([string]$fromParameters.$p) -Because $p
        }
        foreach ($p in 'HealthyStatusCodes', 'HealthyValues', 'StartupMarkers', 'BuildCommand', 'RequiredVariables') {
            @($fromFile.$p) | Should-BeCollection @($fromParameters.$p) -Because $p
        }
        $fromFile.SmokeChecks.Name | Should-Be $fromParameters.SmokeChecks.Name
        $fromFile.AppDirectory | Should-Be '/srv/plain/apps/api'
        $fromFile.HasReadyPath | Should-BeFalse
        @($fromFile.BuildCommand) | Should-BeCollection @('pnpm', 'run', 'build:api')
    }

    It 'refuses <Case> from the parameters (<ErrorId>) and from a file, naming the setting' -ForEach @(
        @{ Case = 'a status code out of range'; Params = @{ HealthyStatusCodes = 99 }; File = 'HealthyStatusCodes = 99'; Key = 'HealthyStatusCodes' }
        @{ Case = 'an entry point outside the release'; Params = @{ EntryPoint = '../server.js' }; File = "EntryPoint = '../server.js'"; Key = 'EntryPoint' }
        @{ Case = 'an absolute app subdirectory'; Params = @{ AppSubdirectory = '/apps/api' }; File = "AppSubdirectory = '/apps/api'"; Key = 'AppSubdirectory' }
        @{ Case = 'a health path to another host'; Params = @{ HealthPath = '//evil.example/x' }; File = "HealthPath = '//evil.example/x'"; Key = 'HealthPath' }
        @{ Case = 'a build command that is an option'; Params = @{ BuildCommand = '--eval' }; File = "BuildCommand = '--eval'"; Key = 'BuildCommand' }
        @{ Case = 'a health JSON path that is not one'; Params = @{ HealthJsonPath = 'a b' }; File = "HealthJsonPath = 'a b'"; Key = 'HealthJsonPath' }
    ) {
        $err = { New-VaultTarget -Name t @Params } | Should-Throw
        $err.FullyQualifiedErrorId | Should-Be 'TargetInvalid,YieldVault.Ops.Commands.NewVaultTargetCommand'
        $err.Exception.Message | Should-BeLikeString "*key '$Key'*"
        $file = New-TargetFile "@{ Targets = @( @{ Name = 'f-1'; $File } ) }"
        $fileErr = { Get-VaultTarget -Path $file } | Should-Throw
        $fileErr.FullyQualifiedErrorId | Should-Be 'TargetConfigInvalid,YieldVault.Ops.Commands.GetVaultTargetCommand'
        $fileErr.Exception.Message | Should-BeLikeString "*target 'f-1', key '$Key'*"
    }

    It 'refuses a value that is not one of a choice, listing the choices' {
        $file = New-TargetFile "@{ Targets = @( @{ Name = 'f-1'; PackageManager = 'bun' } ) }"
        $err = { Get-VaultTarget -Path $file } | Should-Throw
        $err.Exception.Message | Should-BeLikeString "*key 'PackageManager': 'bun' is not one of Auto, Npm, Pnpm, Yarn*"
        # Two names would parse as the OR of their values (NodePgMigrate + Npm = None): refused, not a silent None.
        $file = New-TargetFile "@{ Targets = @( @{ Name = 'f-1'; MigrationPreset = 'NodePgMigrate,Npm' } ) }"
        $err = { Get-VaultTarget -Path $file } | Should-Throw
        $err.Exception.Message | Should-BeLikeString "*key 'MigrationPreset': 'NodePgMigrate,Npm' is not one of Prisma, NodePgMigrate, Npm, None*"
        { New-VaultTarget -Name t -HealthResponse Xml } | Should-Throw -FullyQualifiedErrorId 'CannotConvertArgumentNoMessage,YieldVault.Ops.Commands.NewVaultTargetCommand'
    }
}
