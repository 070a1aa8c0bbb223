# What building and testing YieldVault.Ops need on the machine: the Debian packages of the real test
# services and the programs the tests start. build.ps1's Bootstrap installs what is missing (as root) and
# then stops with one message naming every program that is still not there, with the exact install command,
# before any test runs.
Set-StrictMode -Version Latest

# Debian packages the real test services need (tests start them on 127.0.0.1 themselves).
$script:DebianPackages = @(
    'git', 'openssh-server', 'openssh-client', 'docker.io', 'busybox-static', 'nginx',
    'postgresql', 'postgresql-client', 'procps', 'lsof', 'iproute2', 'curl', 'ca-certificates',
    # the systemd "app server" test image is a debootstrap root
    'debootstrap',
    # a private registry on 127.0.0.1 (htpasswd auth) for pulls with registry credentials
    'docker-registry', 'apache2-utils',
    # a real terminal for the guided on-call session (OnCall.Terminal.Tests.ps1 drives pwsh inside tmux)
    'tmux'
)

$script:Pm2Install = 'npm install -g pm2@7.0.4'

# Every program the tests start, where Debian puts it (sbin is not on every user's PATH), and what installs it.
$script:TestPrograms = @(
    @{ Name = 'sshd'; Paths = '/usr/sbin/sshd'; Package = 'openssh-server' }
    @{ Name = 'ssh-keygen'; Paths = '/usr/bin/ssh-keygen'; Package = 'openssh-client' }
    @{ Name = 'dockerd'; Paths = '/usr/sbin/dockerd', '/usr/bin/dockerd'; Package = 'docker.io' }
    @{ Name = 'docker'; Paths = '/usr/bin/docker'; Package = 'docker.io' }
    @{ Name = 'busybox (static)'; Paths = '/bin/busybox'; Package = 'busybox-static' }
    @{ Name = 'nginx'; Paths = '/usr/sbin/nginx'; Package = 'nginx' }
    @{ Name = 'initdb'; Demo = $true; Paths = '/usr/lib/postgresql/*/bin/initdb'; Package = 'postgresql' }
    @{ Name = 'postgres'; Demo = $true; Paths = '/usr/lib/postgresql/*/bin/postgres'; Package = 'postgresql' }
    @{ Name = 'psql'; Demo = $true; Paths = '/usr/bin/psql'; Package = 'postgresql-client' }
    @{ Name = 'debootstrap'; Paths = '/usr/sbin/debootstrap'; Package = 'debootstrap' }
    @{ Name = 'docker-registry'; Paths = '/usr/bin/docker-registry'; Package = 'docker-registry' }
    @{ Name = 'htpasswd'; Paths = '/usr/bin/htpasswd'; Package = 'apache2-utils' }
    @{ Name = 'git'; Demo = $true; Paths = '/usr/bin/git'; Package = 'git' }
    @{ Name = 'curl'; Paths = '/usr/bin/curl'; Package = 'curl' }
    @{ Name = 'lsof'; Paths = '/usr/bin/lsof'; Package = 'lsof' }
    @{ Name = 'ip'; Paths = '/usr/sbin/ip', '/sbin/ip', '/usr/bin/ip', '/bin/ip'; Package = 'iproute2' }
    @{ Name = 'ps'; Paths = '/usr/bin/ps', '/bin/ps'; Package = 'procps' }
    @{ Name = 'tmux'; Paths = '/usr/bin/tmux'; Package = 'tmux' }
    @{ Name = 'pm2'; Demo = $true; Paths = @(); Install = $script:Pm2Install }
)

function Get-VaultDebianPackage {
    <#
    .SYNOPSIS
        The Debian packages building and testing need.
    #>
    [OutputType([string])]
    param()
    $script:DebianPackages
}

function Get-VaultMissingDebianPackage {
    <#
    .SYNOPSIS
        The names among -Name that dpkg does not report as installed.
    .DESCRIPTION
        Asks dpkg-query for each package on its own. A package dpkg has never seen makes dpkg-query print
        nothing and exit 1; one that was removed prints a status other than 'installed' (config-files,
        not-installed, half-installed). Only the status word 'installed' counts.
    #>
    [OutputType([string])]
    param(
        [Parameter(Mandatory)] [string[]] $Name,
        # The dpkg-query to ask (a test can point this at a stand-in).
        [string] $DpkgQuery = 'dpkg-query'
    )
    foreach ($package in $Name) {
        # The output is joined into one string: no output at all is an empty string, never $null or an
        # empty array (with which -notmatch takes every missing package for installed).
        $status = (& $DpkgQuery --show --showformat='${db:Status-Status}\n' -- $package 2>$null) -join "`n"
        $exitCode = $LASTEXITCODE
        if ($exitCode -ne 0 -or $status.Trim() -cne 'installed') { $package }
    }
}

function Resolve-VaultProgramPath {
    # The first existing path among the candidates (wildcards allowed), else the program on PATH, else $null.
    param([Parameter(Mandatory)] [string] $Name, [string[]] $Paths = @())
    foreach ($candidate in $Paths) {
        $found = @(Get-Item -Path $candidate -ErrorAction Ignore | Where-Object { -not $_.PSIsContainer })
        if ($found) { return $found[0].FullName }
    }
    $command = Get-Command -Name $Name -CommandType Application -ErrorAction Ignore | Select-Object -First 1
    if ($command) { $command.Source } else { $null }
}

function Get-VaultMissingTestProgram {
    <#
    .SYNOPSIS
        The programs the tests start that are not on this machine, each with the command that installs it.
    #>
    [OutputType([pscustomobject])]
    param(
        # Only the programs the Demo needs (the sample backend on PM2 with PostgreSQL).
        [switch] $Demo,
        # Check these program records instead of the built-in list (for tests).
        [hashtable[]] $Program = $script:TestPrograms
    )
    foreach ($p in $Program) {
        if ($Demo -and -not $p['Demo']) { continue }
        $lookup = ($p.Name -split ' ')[0]
        if (Resolve-VaultProgramPath -Name $lookup -Paths $p.Paths) { continue }
        $install = if ($p['Install']) { $p.Install } else { "apt-get install -y $($p.Package)" }
        [pscustomobject]@{ Name = $p.Name; Package = $p['Package']; Install = $install }
    }
}

function Get-VaultInstallCommand {
    <#
    .SYNOPSIS
        The exact commands that install the missing programs: one apt-get line for every Debian package,
        then the npm line(s). Not root: with sudo.
    #>
    [OutputType([string])]
    param([Parameter(Mandatory)] [object[]] $Missing, [switch] $Sudo)
    $prefix = if ($Sudo) { 'sudo ' } else { '' }
    $packages = @($Missing | Where-Object { $_.Package } | ForEach-Object Package | Select-Object -Unique)
    if ($packages) { "${prefix}apt-get update && ${prefix}apt-get install -y --no-install-recommends $($packages -join ' ')" }
    $Missing | Where-Object { -not $_.Package } | ForEach-Object { "$prefix$($_.Install)" } | Select-Object -Unique
}

function Assert-VaultTestProgram {
    <#
    .SYNOPSIS
        Stops with one message naming every missing program and the exact commands that install them.
    #>
    param([switch] $Sudo, [switch] $Demo, [hashtable[]] $Program = $script:TestPrograms)
    $missing = @(Get-VaultMissingTestProgram -Program $Program -Demo:$Demo)
    if (-not $missing) { return }
    $commands = @(Get-VaultInstallCommand -Missing $missing -Sudo:$Sudo)
    throw ("$(if ($Demo) { 'The demo starts' } else { 'The tests start' }) programs that are not on this machine: $(($missing | ForEach-Object Name) -join ', ').`n" +
        "Install them with:`n  $($commands -join "`n  ")`n" +
        'or run ./build.ps1 -Task Bootstrap as root, which installs them.')
}

Export-ModuleMember -Function Get-VaultDebianPackage, Get-VaultMissingDebianPackage, Get-VaultMissingTestProgram,
    Get-VaultInstallCommand, Assert-VaultTestProgram
