# build.ps1's Bootstrap: it must see which Debian packages are missing (a fresh machine once got nothing
# installed because a package dpkg had never seen was taken for installed), and it must stop with one
# message naming every program the tests start that is still missing, with the command that installs it.

BeforeDiscovery {
    $IsDebian = [bool](Get-Command dpkg-query -CommandType Application -ErrorAction Ignore)
    $IsRoot = $IsLinux -and ((& id -u) -eq '0')
}

BeforeAll {
    $script:Root = if ($env:YIELDVAULT_REPO_ROOT) { $env:YIELDVAULT_REPO_ROOT } else { Split-Path -Parent (Split-Path -Parent $PSScriptRoot) }
    Import-Module (Join-Path $script:Root 'build/Prerequisites.psm1') -Force
    $script:NoSuchPackage = 'yieldvault-ops-no-such-package-' + [guid]::NewGuid().ToString('N').Substring(0, 8)

    # A stand-in dpkg-query for the states a real machine shows only after a removal: a package whose
    # configuration files remain, or one dpkg knows of but never installed.
    $script:StandIn = Join-Path ([IO.Path]::GetTempPath()) ('yv-dpkg-' + [guid]::NewGuid().ToString('N').Substring(0, 8))
    New-Item -ItemType Directory -Path $script:StandIn | Out-Null
    $script:FakeDpkgQuery = Join-Path $script:StandIn 'dpkg-query'
    Set-Content -LiteralPath $script:FakeDpkgQuery -Value @'
#!/bin/sh
# the last argument is the package name
for p in "$@"; do name=$p; done
case "$name" in
  removed-keeps-config) printf 'config-files\n' ;;
  known-not-installed) printf 'not-installed\n' ;;
  half) printf 'half-installed\n' ;;
  fine) printf 'installed\n' ;;
  *) echo "dpkg-query: no packages found matching $name" >&2; exit 1 ;;
esac
'@
    & chmod +x $script:FakeDpkgQuery
}

AfterAll {
    Remove-Item -LiteralPath $script:StandIn -Recurse -Force -ErrorAction Ignore
}

Describe 'Get-VaultMissingDebianPackage (real dpkg)' {
    It 'reports a package dpkg has never seen as missing' -Skip:(-not $IsDebian) {
        @(Get-VaultMissingDebianPackage -Name $script:NoSuchPackage) | Should -Be @($script:NoSuchPackage)
    }

    It 'does not report an installed package (dpkg itself)' -Skip:(-not $IsDebian) {
        @(Get-VaultMissingDebianPackage -Name 'dpkg') | Should -BeNullOrEmpty
    }

    It 'asks for each package on its own: one missing among installed ones is the only one reported' -Skip:(-not $IsDebian) {
        @(Get-VaultMissingDebianPackage -Name 'dpkg', $script:NoSuchPackage, 'coreutils') | Should -Be @($script:NoSuchPackage)
    }

    It 'finds every package the tests need installed after Bootstrap (root on Debian)' -Skip:(-not ($IsDebian -and $IsRoot)) {
        @(Get-VaultMissingDebianPackage -Name (Get-VaultDebianPackage)) | Should -BeNullOrEmpty
    }
}

Describe 'Get-VaultMissingDebianPackage (the states of a removed package)' {
    It 'reports <Name> as missing' -ForEach @(
        @{ Name = 'removed-keeps-config' }, @{ Name = 'known-not-installed' }, @{ Name = 'half' }, @{ Name = 'never-seen' }
    ) {
        @(Get-VaultMissingDebianPackage -Name $Name -DpkgQuery $script:FakeDpkgQuery) | Should -Be @($Name)
    }

    It 'does not report a package whose status is installed' {
        @(Get-VaultMissingDebianPackage -Name 'fine' -DpkgQuery $script:FakeDpkgQuery) | Should -BeNullOrEmpty
    }
}

Describe 'The programs the tests start' {
    It 'are all on this machine after Bootstrap' {
        $missing = @(Get-VaultMissingTestProgram)
        ($missing | ForEach-Object { "$($_.Name): $($_.Install)" }) -join '; ' | Should -BeNullOrEmpty
    }

    It 'a missing one is reported with the package that installs it, a present one is not' {
        $programs = @(
            @{ Name = 'yv-no-such-program'; Paths = '/nonexistent/yv-no-such-program'; Package = 'yv-no-such-package' }
            @{ Name = 'sh'; Paths = '/bin/sh'; Package = 'dash' }
            @{ Name = 'yv-no-such-tool'; Paths = @(); Install = 'npm install -g yv-no-such-tool@1.0.0' }
        )
        $missing = @(Get-VaultMissingTestProgram -Program $programs)
        $missing.Name | Should -Be @('yv-no-such-program', 'yv-no-such-tool')
        $missing[0].Install | Should -Be 'apt-get install -y yv-no-such-package'
        $missing[1].Install | Should -Be 'npm install -g yv-no-such-tool@1.0.0'
    }

    It 'stops with one message that names every missing program and the exact commands (not root: sudo)' {
        $programs = @(
            @{ Name = 'yv-a'; Paths = @(); Package = 'yv-pkg-a' }
            @{ Name = 'yv-b'; Paths = @(); Package = 'yv-pkg-b' }
            @{ Name = 'yv-c'; Paths = @(); Package = 'yv-pkg-a' }
            @{ Name = 'yv-d'; Paths = @(); Install = 'npm install -g yv-d@2.0.0' }
        )
        $message = { Assert-VaultTestProgram -Sudo -Program $programs } | Should -Throw -PassThru | ForEach-Object { $_.Exception.Message }
        $message | Should -BeLike '*yv-a, yv-b, yv-c, yv-d*'
        $message | Should -BeLike '*sudo apt-get update && sudo apt-get install -y --no-install-recommends yv-pkg-a yv-pkg-b*'
        $message | Should -BeLike '*sudo npm install -g yv-d@2.0.0*'
    }

    It 'does not stop when every program is there' {
        { Assert-VaultTestProgram -Program @(@{ Name = 'sh'; Paths = '/bin/sh'; Package = 'dash' }) } | Should -Not -Throw
    }

    It 'for the demo, checks only what the demo starts' {
        $programs = @(
            @{ Name = 'yv-tests-only'; Paths = @(); Package = 'yv-tests-only' }
            @{ Name = 'yv-demo-too'; Demo = $true; Paths = @(); Package = 'yv-demo-too' }
        )
        @(Get-VaultMissingTestProgram -Demo -Program $programs).Name | Should -Be @('yv-demo-too')
    }
}
