#Requires -Version 7.2
<#
    An "app server" for the YieldVault.Ops Pester suites: a Debian 12 container with systemd as PID 1, sshd,
    sudo and the sample backend as the runbook's yieldvault-backend.service. See app-server/README.md.

    Rules (the same as YieldVault.TestServices.psm1):
    * every start and wait is bounded in time and throws with the logs that explain it;
    * a missing program is an error naming the install command, never a silent skip;
    * per-run state lives in "<TMPDIR or /tmp>/yv-appserver-<random>"; Stop removes it and only our container.
#>
Set-StrictMode -Version Latest
Import-Module (Join-Path $PSScriptRoot 'TestMachine.psm1')

$script:RecipeRoot = Join-Path $PSScriptRoot 'app-server'
$script:CacheRoot = '/var/cache/yieldvault-ops-test'
$script:LockFile = '/var/cache/yieldvault-ops-test/appserver.lock'
$script:Suite = 'bookworm'
$script:Packages = @(
    'systemd', 'systemd-sysv', 'dbus', 'openssh-server', 'sudo', 'procps', 'iproute2', 'lsof', 'curl',
    'ca-certificates', 'git',
    # the reverse proxy of the blue-green suites (Debian's 1.22.1, like the host's)
    'nginx',
    # what the host's node binary links against besides libc (ldd /usr/bin/node)
    'libstdc++6', 'libgcc-s1'
)
# The flags that make systemd work as PID 1 here (research/feasibility.md, section 8); --privileged fails.
$script:SystemdRunFlags = @(
    '--cap-add', 'SYS_ADMIN', '--security-opt', 'seccomp=unconfined', '--security-opt', 'apparmor=unconfined',
    '-v', '/sys/fs/cgroup:/sys/fs/cgroup:rw', '--tmpfs', '/run', '--tmpfs', '/run/lock', '-e', 'container=docker'
)
$script:DeployUid = 2001
$script:AuditorUid = 2002
$script:UnitName = 'yieldvault-backend.service'
$script:AppPath = '/app/yieldvault-backend'
$script:LogPath = '/var/log/yieldvault/backend.log'
$script:UpstreamFile = '/etc/nginx/yieldvault/upstream.conf'
$script:UpstreamName = 'yieldvault_backend'
$script:Started = [System.Collections.Generic.List[object]]::new()

#region private helpers (the machine-level ones are in TestMachine.psm1)

function Test-AsDockerEngine {
    # The docker CLI's path, once an engine answers on this machine's socket.
    $docker = Resolve-YvProgram docker 'apt-get install -y docker.io'
    $r = Invoke-YvDocker -ArgumentList 'version', '--format', '{{.Server.Version}}' -AllowFailure -TimeoutSec 20
    if ($r.ExitCode -ne 0) { throw "No Docker engine answers ($($r.Output.Trim())). Start one first: Start-TestDockerd (tests/services/YieldVault.TestServices.psm1)." }
    $docker
}

function Get-AsSha256([string[]] $Text, [string[]] $File = @()) {
    $sha = [System.Security.Cryptography.IncrementalHash]::CreateHash([System.Security.Cryptography.HashAlgorithmName]::SHA256)
    try {
        foreach ($t in $Text) { $sha.AppendData([System.Text.Encoding]::UTF8.GetBytes("$t`n")) }
        foreach ($f in $File) {
            $sha.AppendData([System.Text.Encoding]::UTF8.GetBytes("file:$([System.IO.Path]::GetFileName($f))`n"))
            $sha.AppendData([System.IO.File]::ReadAllBytes($f))
        }
        [System.Convert]::ToHexString($sha.GetHashAndReset()).ToLowerInvariant()
    } finally {
        $sha.Dispose()
    }
}

function Get-AsDebianMirror {
    # The mirror this machine's apt uses (deb822 first, then the classic list), so debootstrap needs no other network.
    foreach ($file in @(Get-ChildItem -Path '/etc/apt/sources.list.d' -Filter '*.sources' -ErrorAction SilentlyContinue)) {
        foreach ($stanza in ([System.IO.File]::ReadAllText($file.FullName) -split "\n\s*\n")) {
            $uri = [regex]::Match($stanza, '(?m)^URIs:\s*(\S+)')
            if ([regex]::IsMatch($stanza, '(?m)^Suites:.*\bbookworm\b(?!-)') -and $uri.Success -and $uri.Groups[1].Value -notmatch 'security') {
                return $uri.Groups[1].Value.TrimEnd('/')
            }
        }
    }
    if (Test-Path -LiteralPath '/etc/apt/sources.list') {
        $m = Select-String -LiteralPath '/etc/apt/sources.list' -Pattern '^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+bookworm\s' | Select-Object -First 1
        if ($m) { return $m.Matches[0].Groups[1].Value.TrimEnd('/') }
    }
    'http://deb.debian.org/debian'
}

function Test-AsImage([string] $Tag) {
    (Invoke-YvDocker -ArgumentList 'image', 'inspect', '--format', '{{.Id}}', $Tag -AllowFailure -TimeoutSec 30).ExitCode -eq 0
}

#endregion

function New-TestAppServerImage {
    <#
    .SYNOPSIS Builds (once per recipe) the app-server image: debootstrapped Debian 12 + systemd + sshd + sudo + node.
    .DESCRIPTION Two cached steps, each keyed by a hash of its recipe:
      1. /var/cache/yieldvault-ops-test/appserver-rootfs-<hash>.tar: debootstrap --variant=minbase of bookworm with
         the packages, from this machine's Debian mirror; imported as yieldvault-appserver-base:<hash>.
      2. yieldvault-appserver:<hash>: app-server/Dockerfile + setup.sh FROM that base, with the host's node and npm.
      A step whose result exists is skipped; a rebuild after a change to app-server/ only repeats step 2.
    .OUTPUTS Object with Tag, BaseTag, Id, Cached, RootfsFile, Seconds, Timings.
    #>
    [CmdletBinding()]
    param([int] $TimeoutSec = 600)
    Set-StrictMode -Version Latest
    $ErrorActionPreference = 'Stop'
    $sw = [System.Diagnostics.Stopwatch]::StartNew()
    $timings = [ordered]@{}
    [void](Test-AsDockerEngine)
    $node = (Get-Command -Name node -CommandType Application -ErrorAction SilentlyContinue | Select-Object -First 1)
    if (-not $node) { throw "New-TestAppServerImage copies the host's node into the image, but node is not installed. Install Node 20 (apt-get install -y nodejs from NodeSource)." }
    $nodePath = (Get-Item -LiteralPath $node.Source).ResolvedTarget
    if (-not $nodePath) { $nodePath = $node.Source }
    # npm as the runbook's servers have it (Step 4 runs npm ci there): the host's, which comes with its node.
    $npm = (Get-Command -Name npm -CommandType Application -ErrorAction SilentlyContinue | Select-Object -First 1)
    $npmCli = if ($npm) { (Get-Item -LiteralPath $npm.Source).ResolvedTarget } else { $null }
    $npmRoot = if ($npmCli) { [System.IO.Path]::GetFullPath((Join-Path ([System.IO.Path]::GetDirectoryName($npmCli)) '..')) } else { $null }
    if (-not $npmRoot -or -not (Test-Path -LiteralPath (Join-Path $npmRoot 'package.json'))) { throw "New-TestAppServerImage copies the host's npm into the image, but npm (with its node_modules/npm directory) is not installed. Install Node 20 with npm (apt-get install -y nodejs from NodeSource)." }
    $npmVersion = (Get-Content -LiteralPath (Join-Path $npmRoot 'package.json') -Raw | ConvertFrom-Json).version

    $mirror = Get-AsDebianMirror
    $baseHash = (Get-AsSha256 -Text @('rootfs-v1', $script:Suite, 'minbase', ($script:Packages -join ','), $mirror)).Substring(0, 12)
    $recipeFiles = @(Get-ChildItem -LiteralPath $script:RecipeRoot -File | Where-Object Name -ne 'README.md' | Sort-Object Name | ForEach-Object FullName)
    $hash = (Get-AsSha256 -Text @('image-v1', $baseHash, "npm $npmVersion") -File ($recipeFiles + $nodePath)).Substring(0, 12)
    $tag = "yieldvault-appserver:$hash"
    $baseTag = "yieldvault-appserver-base:$baseHash"
    $rootfs = Join-Path $script:CacheRoot "appserver-rootfs-$baseHash.tar"
    $timings['Hash'] = [math]::Round($sw.Elapsed.TotalSeconds, 2)
    $make = {
        param([bool] $Cached)
        $id = (Invoke-YvDocker -ArgumentList 'image', 'inspect', '--format', '{{.Id}}', $tag -TimeoutSec 30).StdOut.Trim()
        [pscustomobject]@{
            PSTypeName = 'YieldVault.TestServices.AppServerImage'
            Tag        = $tag
            BaseTag    = $baseTag
            Id         = $id
            Cached     = $Cached
            RootfsFile = $rootfs
            Seconds    = [math]::Round($sw.Elapsed.TotalSeconds, 2)
            Timings    = $timings
        }
    }
    if (Test-AsImage $tag) { return (& $make $true) }

    # One build at a time per machine: two test runs that both miss the cache wait for each other.
    $lock = Enter-YvFileLock -Path $script:LockFile -TimeoutSec $TimeoutSec -What 'New-TestAppServerImage'
    $work = $null
    try {
        if (Test-AsImage $tag) { return (& $make $true) }
        $lap = [System.Diagnostics.Stopwatch]::StartNew()
        if (-not (Test-AsImage $baseTag)) {
            if (-not (Test-Path -LiteralPath $rootfs)) {
                $debootstrap = Resolve-YvProgram debootstrap 'apt-get install -y debootstrap'
                $work = New-YvTempDirectory -Service appserver-build
                $root = Join-Path $work 'root'
                # dpkg's fsyncs are most of debootstrap's time and buy nothing for a throwaway tree (halves the
                # build); policy-rc.d keeps postinst scripts from starting daemons. Both are removed afterwards.
                Write-YvFile (Join-Path $root 'etc/dpkg/dpkg.cfg.d/yv-unsafe-io') "force-unsafe-io`n"
                Write-YvFile (Join-Path $root 'usr/sbin/policy-rc.d') "#!/bin/sh`nexit 101`n" 'UserRead, UserWrite, UserExecute, GroupRead, GroupExecute, OtherRead, OtherExecute'
                $r = Invoke-YvProcess -FilePath $debootstrap -TimeoutSec $TimeoutSec -Description "debootstrap $script:Suite from $mirror" -ArgumentList @(
                    '--variant=minbase', "--include=$($script:Packages -join ',')", $script:Suite, $root, $mirror)
                Write-Verbose $r.Output
                $timings['Debootstrap'] = [math]::Round($lap.Elapsed.TotalSeconds, 2); $lap.Restart()
                # Trim what a test server never reads (apt lists and debs, docs, man pages, locales): ~200 MB less to tar and import.
                foreach ($rel in 'etc/dpkg/dpkg.cfg.d/yv-unsafe-io', 'usr/sbin/policy-rc.d') { Remove-Item -LiteralPath (Join-Path $root $rel) -Force -ErrorAction SilentlyContinue }
                foreach ($rel in 'var/cache/apt/archives', 'var/lib/apt/lists', 'usr/share/doc', 'usr/share/man', 'usr/share/locale', 'usr/share/info') {
                    Get-ChildItem -LiteralPath (Join-Path $root $rel) -Force -ErrorAction SilentlyContinue | Where-Object { $_.Name -notin 'partial', 'lock' } | Remove-Item -Recurse -Force
                }
                Get-ChildItem -Path (Join-Path $root 'var/cache/apt') -Filter '*.bin' -ErrorAction SilentlyContinue | Remove-Item -Force
                $tmp = "$rootfs.$PID.tmp"
                [void](Invoke-YvProcess -FilePath 'tar' -ArgumentList '-C', $root, '--numeric-owner', '-cf', $tmp, '.' -TimeoutSec 300)
                [System.IO.File]::Move($tmp, $rootfs, $true)
                $timings['RootfsTar'] = [math]::Round($lap.Elapsed.TotalSeconds, 2); $lap.Restart()
            }
            [void](Invoke-YvDocker -ArgumentList 'import', '--message', 'debootstrap bookworm minbase (yieldvault-ops tests)', $rootfs, $baseTag -TimeoutSec 300)
            $timings['Import'] = [math]::Round($lap.Elapsed.TotalSeconds, 2); $lap.Restart()
        }

        if (-not $work) { $work = New-YvTempDirectory -Service appserver-build }
        $context = Join-Path $work 'context'
        [void][System.IO.Directory]::CreateDirectory($context)
        foreach ($f in $recipeFiles) { Copy-Item -LiteralPath $f -Destination $context }
        Copy-Item -LiteralPath $nodePath -Destination (Join-Path $context 'node')
        [void](Invoke-YvProcess -FilePath 'cp' -ArgumentList '-a', '--', $npmRoot, (Join-Path $context 'npm') -TimeoutSec 120)
        $r = Invoke-YvDocker -TimeoutSec $TimeoutSec -Description "docker build -t $tag" -ArgumentList @(
            'build', '-q', '--build-arg', "BASE=$baseTag", '--label', 'org.yieldvault.test=appserver', '--label', "org.yieldvault.test.recipe=$hash", '-t', $tag, $context)
        Write-Verbose $r.Output
        $timings['Build'] = [math]::Round($lap.Elapsed.TotalSeconds, 2)
        Remove-AsStaleImages -Keep $tag, $baseTag -KeepRootfs $rootfs
        & $make $false
    } finally {
        if ($work) { Remove-YvDirectory $work }
        $lock.Dispose()
    }
}

function Remove-AsStaleImages {
    # Images and root trees of earlier recipes. "docker rmi" without -f leaves an image that a container (anyone's)
    # still uses, so a run on an older recipe at the same time keeps its image.
    param([string[]] $Keep, [string] $KeepRootfs)
    foreach ($repository in 'yieldvault-appserver', 'yieldvault-appserver-base') {
        $list = Invoke-YvDocker -ArgumentList 'images', '--format', '{{.Repository}}:{{.Tag}}', $repository -AllowFailure -TimeoutSec 30
        foreach ($old in @($list.Output -split "`n" | ForEach-Object Trim | Where-Object { $_ -and $_ -notin $Keep -and $_ -notmatch '<none>' })) {
            $r = Invoke-YvDocker -ArgumentList 'rmi', $old -AllowFailure -TimeoutSec 60
            Write-Verbose "docker rmi $old (exit $($r.ExitCode)): $($r.Output.Trim())"
        }
    }
    Get-ChildItem -Path $script:CacheRoot -Filter 'appserver-rootfs-*.tar' -ErrorAction SilentlyContinue |
        Where-Object FullName -ne $KeepRootfs | Remove-Item -Force -ErrorAction SilentlyContinue
}

function Start-TestAppServer {
    <#
    .SYNOPSIS Starts an app-server container (systemd as PID 1) on the host network: sshd on 127.0.0.1:<SshPort>,
              with -AppSource the sample backend as yieldvault-backend.service on 127.0.0.1:<AppPort>, and with
              -ProxyPort nginx.service in front of it on 127.0.0.1:<ProxyPort>.
    .PARAMETER AppSource A built checkout (New-TestSampleCheckout); AppItems of it are copied to /app/yieldvault-backend.
    .PARAMETER Environment The backend's .env (PORT and LOG_FILE are added unless given).
    .PARAMETER ProxyPort Enables nginx.service with a server on 127.0.0.1:<ProxyPort> that proxy_passes to the upstream
              yieldvault_backend, defined in /etc/nginx/yieldvault/upstream.conf (owned by deploy, who rewrites it on a
              switch) as 127.0.0.1:<AppPort>.
    .OUTPUTS Object with HostName, SshPort, User, KeyFile, KnownHostsFile, HostKeyFingerprint, NoSudoUser, AppPort,
             AppPath, EnvFile, ServiceName, LogPath, ProxyPort, ProxyUrl, UpstreamFile, UpstreamName, ContainerName,
             Image, Directory, SystemState, StartSeconds, Timings.
    #>
    [CmdletBinding()]
    param(
        [string] $AppSource,
        [hashtable] $Environment = @{},
        [string[]] $AppItems = @('dist', 'node_modules', 'package.json', 'package-lock.json'),
        [int] $SshPort,
        [int] $AppPort,
        [ValidateRange(1, 65535)] [int] $ProxyPort,
        [int] $TimeoutSec = 60
    )
    Set-StrictMode -Version Latest
    $ErrorActionPreference = 'Stop'
    $ProgressPreference = 'SilentlyContinue'
    $sw = [System.Diagnostics.Stopwatch]::StartNew()
    $timings = [ordered]@{}
    $lap = [System.Diagnostics.Stopwatch]::StartNew()
    $docker = Test-AsDockerEngine
    $keygen = Resolve-YvProgram ssh-keygen 'apt-get install -y openssh-client'
    if ($AppSource -and -not (Test-Path -LiteralPath (Join-Path $AppSource 'dist/index.js'))) {
        throw "Start-TestAppServer: '$AppSource' has no dist/index.js; pass a built checkout (New-TestSampleCheckout)."
    }
    $image = New-TestAppServerImage
    $timings['Image'] = [math]::Round($lap.Elapsed.TotalSeconds, 2); $lap.Restart()
    if (-not $SshPort) { $SshPort = Get-FreeTcpPort }
    if (-not $AppPort) { $AppPort = Get-FreeTcpPort }

    $dir = New-YvTempDirectory -Service appserver
    $name = "yv-appserver-$(New-YvRandomString -Length 8 -Alphabet 'abcdefghijkmnopqrstuvwxyz23456789')"
    $server = [pscustomobject]@{
        PSTypeName         = 'YieldVault.TestServices.AppServer'
        HostName           = '127.0.0.1'
        SshPort            = $SshPort
        User               = 'deploy'
        NoSudoUser         = 'auditor'
        KeyFile            = Join-Path $dir 'id_ed25519'
        KnownHostsFile     = Join-Path $dir 'known_hosts'
        HostKeyFingerprint = $null
        AppPort            = $AppPort
        AppPath            = $script:AppPath
        EnvFile            = "$script:AppPath/.env"
        ServiceName        = 'yieldvault-backend'
        LogPath            = $script:LogPath
        ProxyPort          = if ($ProxyPort) { $ProxyPort } else { $null }
        ProxyUrl           = if ($ProxyPort) { "http://127.0.0.1:$ProxyPort" } else { $null }
        UpstreamFile       = if ($ProxyPort) { $script:UpstreamFile } else { $null }
        UpstreamName       = if ($ProxyPort) { $script:UpstreamName } else { $null }
        ContainerName      = $name
        Image              = $image.Tag
        Directory          = $dir
        SystemState        = $null
        StartSeconds       = 0
        Timings            = $timings
    }
    $created = $false
    try {
        $stage = Join-Path $dir 'stage'
        $hostKey = Join-Path $stage 'etc/ssh/ssh_host_ed25519_key'
        [void][System.IO.Directory]::CreateDirectory([System.IO.Path]::GetDirectoryName($hostKey))
        [void](Invoke-YvProcess -FilePath $keygen -ArgumentList '-q', '-t', 'ed25519', '-N', '', '-C', "yv-appserver-host-$name", '-f', $hostKey -TimeoutSec 20)
        [void](Invoke-YvProcess -FilePath $keygen -ArgumentList '-q', '-t', 'ed25519', '-N', '', '-C', "yv-appserver-user-$name", '-f', $server.KeyFile -TimeoutSec 20)
        $hostPub = [System.IO.File]::ReadAllText("$hostKey.pub").Trim()
        Write-YvFile $server.KnownHostsFile "[127.0.0.1]:$SshPort $(($hostPub -split ' ')[0..1] -join ' ')`n" 'UserRead, UserWrite'
        $server.HostKeyFingerprint = ((Invoke-YvProcess -FilePath $keygen -ArgumentList '-l', '-E', 'sha256', '-f', "$hostKey.pub" -TimeoutSec 10).StdOut -split ' ')[1]
        Write-YvFile (Join-Path $stage 'etc/ssh/sshd_config.d/00-yieldvault-run.conf') "Port $SshPort`nListenAddress 127.0.0.1`nHostKey /etc/ssh/ssh_host_ed25519_key`n"
        $userPub = [System.IO.File]::ReadAllText("$($server.KeyFile).pub")
        $paths = @('./etc/ssh/ssh_host_ed25519_key', './etc/ssh/ssh_host_ed25519_key.pub', './etc/ssh/sshd_config.d/00-yieldvault-run.conf')
        foreach ($u in @(@{ Name = 'deploy'; Id = $script:DeployUid }, @{ Name = 'auditor'; Id = $script:AuditorUid })) {
            $ssh = Join-Path $stage "home/$($u.Name)/.ssh"
            [void][System.IO.Directory]::CreateDirectory($ssh)
            [System.IO.File]::SetUnixFileMode($ssh, [System.IO.UnixFileMode]'UserRead, UserWrite, UserExecute')
            Write-YvFile (Join-Path $ssh 'authorized_keys') $userPub 'UserRead, UserWrite'
            [void](Invoke-YvProcess -FilePath 'chown' -ArgumentList '-R', "$($u.Id):$($u.Id)", $ssh -TimeoutSec 10)
            $paths += "./home/$($u.Name)/.ssh"
        }

        if ($AppSource) {
            $app = Join-Path $stage ($script:AppPath.TrimStart('/'))
            [void][System.IO.Directory]::CreateDirectory($app)
            $items = @($AppItems | ForEach-Object { Join-Path $AppSource $_ } | Where-Object { Test-Path -LiteralPath $_ })
            if ($items) { [void](Invoke-YvProcess -FilePath 'cp' -ArgumentList (@('-a', '--') + $items + $app) -TimeoutSec 120) }
            $envTable = [ordered]@{}
            foreach ($k in ($Environment.Keys | Sort-Object)) { $envTable[[string]$k] = [string]$Environment[$k] }
            if (-not $envTable.Contains('PORT')) { $envTable['PORT'] = [string]$AppPort }
            elseif ([int]$envTable['PORT'] -ne $AppPort) { $server.AppPort = [int]$envTable['PORT'] }
            if (-not $envTable.Contains('LOG_FILE')) { $envTable['LOG_FILE'] = $script:LogPath }
            $lines = foreach ($k in $envTable.Keys) {
                if ($k -notmatch '^[A-Za-z_][A-Za-z0-9_]*$') { throw "Start-TestAppServer: '$k' is not a valid environment variable name." }
                "$k=$(ConvertTo-YvDotEnvValue $envTable[$k])"
            }
            Write-YvFile (Join-Path $app '.env') (($lines -join "`n") + "`n") 'UserRead, UserWrite'
            [void](Invoke-YvProcess -FilePath 'chown' -ArgumentList '-R', "$($script:DeployUid):$($script:DeployUid)", $app -TimeoutSec 60)
            $paths += ".$($script:AppPath)"
            # Enabled like on a real server: it starts at boot.
            $wants = Join-Path $stage 'etc/systemd/system/multi-user.target.wants'
            [void][System.IO.Directory]::CreateDirectory($wants)
            [void][System.IO.File]::CreateSymbolicLink((Join-Path $wants $script:UnitName), "/etc/systemd/system/$script:UnitName")
            $paths += "./etc/systemd/system/multi-user.target.wants/$script:UnitName"
        }
        if ($ProxyPort) {
            # The server (root's, in conf.d, which nginx.conf includes inside http {}) and the upstream file it includes
            # (deploy's: YieldVault.Ops writes it without sudo); nginx enabled, so it starts at boot.
            Write-YvFile (Join-Path $stage 'etc/nginx/conf.d/yieldvault.conf') @"
include $script:UpstreamFile;
server {
    listen 127.0.0.1:$ProxyPort;
    location / {
        proxy_pass http://$script:UpstreamName;
        proxy_set_header Host `$host;
        proxy_connect_timeout 2s;
    }
}
"@ 'UserRead, UserWrite, GroupRead, OtherRead'
            $upstreamDir = Join-Path $stage ([System.IO.Path]::GetDirectoryName($script:UpstreamFile).TrimStart('/'))
            Write-YvFile (Join-Path $stage $script:UpstreamFile.TrimStart('/')) "upstream $script:UpstreamName { server 127.0.0.1:$($server.AppPort); }`n" 'UserRead, UserWrite, GroupRead, OtherRead'
            [System.IO.File]::SetUnixFileMode($upstreamDir, [System.IO.UnixFileMode]'UserRead, UserWrite, UserExecute, GroupRead, GroupExecute, OtherRead, OtherExecute')
            [void](Invoke-YvProcess -FilePath 'chown' -ArgumentList '-R', "$($script:DeployUid):$($script:DeployUid)", $upstreamDir -TimeoutSec 10)
            $wants = Join-Path $stage 'etc/systemd/system/multi-user.target.wants'
            [void][System.IO.Directory]::CreateDirectory($wants)
            [void][System.IO.File]::CreateSymbolicLink((Join-Path $wants 'nginx.service'), '/lib/systemd/system/nginx.service')
            $paths += @('./etc/nginx/conf.d/yieldvault.conf', ".$([System.IO.Path]::GetDirectoryName($script:UpstreamFile))", './etc/systemd/system/multi-user.target.wants/nginx.service')
        }
        $timings['Stage'] = [math]::Round($lap.Elapsed.TotalSeconds, 2); $lap.Restart()

        # Host network: the app reaches PostgreSQL and the RPC stand-in on 127.0.0.1, and the test reaches sshd
        # and the app on 127.0.0.1 (never the container's own address).
        [void](Invoke-YvDocker -TimeoutSec 60 -Description "docker create $name" -ArgumentList (@(
                    'create', '--name', $name, '--label', 'org.yieldvault.test=appserver', '--label', "org.yieldvault.test.pid=$PID",
                    '--network', 'host') + $script:SystemdRunFlags + @($image.Tag)))
        $created = $true
        # Only the listed paths go into the tar, so no directory above them gets the stage's modes or owners.
        [void](Invoke-YvProcess -FilePath '/bin/sh' -LocalDocker -TimeoutSec 120 -Description "copy the per-run files into $name" -ArgumentList (@(
                    '-c', 'set -e; stage=$1; docker=$2; name=$3; shift 3; tar -C "$stage" --numeric-owner -cf - "$@" | "$docker" cp - "$name:/"',
                    'yv-copy', $stage, $docker, $name) + $paths))
        $timings['Copy'] = [math]::Round($lap.Elapsed.TotalSeconds, 2); $lap.Restart()
        [void](Invoke-YvDocker -ArgumentList 'start', $name -TimeoutSec 60)
        Register-AsStarted $server

        $explain = { Get-AsContainerDiagnostics -Name $name }
        # "running", or "degraded" when some unit failed (the backend's own state is the tests' business).
        Wait-YvCondition -TimeoutSec $TimeoutSec -What "Start-TestAppServer: systemd in $name (is-system-running)" -Explain $explain -IntervalMs 250 -Condition {
            $r = Invoke-YvDocker -ArgumentList 'exec', $name, 'systemctl', 'is-system-running' -AllowFailure -TimeoutSec 10
            $server.SystemState = $r.Output.Trim()
            $server.SystemState -in 'running', 'degraded'
        }
        $timings['Systemd'] = [math]::Round($lap.Elapsed.TotalSeconds, 2); $lap.Restart()
        Wait-YvCondition -TimeoutSec $TimeoutSec -What "Start-TestAppServer: sshd of $name on 127.0.0.1:$SshPort" -Explain $explain -IntervalMs 200 -Condition { Test-YvTcpPort $SshPort }
        $timings['Sshd'] = [math]::Round($lap.Elapsed.TotalSeconds, 2); $lap.Restart()
        if ($AppSource) {
            $url = "http://127.0.0.1:$($server.AppPort)/health"
            Wait-YvCondition -TimeoutSec $TimeoutSec -What "Start-TestAppServer: $script:UnitName in $name (GET $url)" -Explain $explain -IntervalMs 200 -Condition {
                try { (Invoke-WebRequest -Uri $url -SkipHttpErrorCheck -TimeoutSec 2).StatusCode -eq 200 } catch { $false }
            }
            $timings['Backend'] = [math]::Round($lap.Elapsed.TotalSeconds, 2); $lap.Restart()
        }
        if ($ProxyPort) {
            Wait-YvCondition -TimeoutSec $TimeoutSec -What "Start-TestAppServer: nginx.service in $name on 127.0.0.1:$ProxyPort" -Explain $explain -IntervalMs 200 -Condition { Test-YvTcpPort $ProxyPort }
            $timings['Nginx'] = [math]::Round($lap.Elapsed.TotalSeconds, 2)
        }
        $server.StartSeconds = [math]::Round($sw.Elapsed.TotalSeconds, 2)
        $server
    } catch {
        $err = $_
        if ($created) { [void](Invoke-YvDocker -ArgumentList 'rm', '-f', $name -AllowFailure -TimeoutSec 60) }
        Unregister-AsStarted $server
        Remove-YvDirectory $dir
        throw $err
    }
}

function Get-AsContainerDiagnostics([string] $Name) {
    $parts = foreach ($cmd in @(
            @('systemctl', 'is-system-running'),
            @('systemctl', '--failed', '--no-pager', '--no-legend'),
            @('systemctl', 'status', '--no-pager', '-n', '0', 'ssh.service', $script:UnitName, 'nginx.service'),
            @('journalctl', '--no-pager', '-n', '30', '-u', 'ssh.service', '-u', $script:UnitName, '-u', 'nginx.service'))) {
        $r = Invoke-YvDocker -ArgumentList (@('exec', $Name) + $cmd) -AllowFailure -TimeoutSec 15
        "--- $($cmd -join ' ') (exit $($r.ExitCode)):`n$($r.Output.TrimEnd())"
    }
    $parts -join "`n"
}

function Register-AsStarted($Server) { if ($Server -and -not $script:Started.Contains($Server)) { $script:Started.Add($Server) } }
function Unregister-AsStarted($Server) { [void]$script:Started.Remove($Server) }

function Stop-TestAppServer {
    <# .SYNOPSIS docker rm -f of this app server's container (and nothing else) and removes its directory. Idempotent. #>
    [CmdletBinding()]
    param([Parameter(Mandatory, ValueFromPipeline)] [AllowNull()] $Server)
    process {
        Set-StrictMode -Version Latest
        $ErrorActionPreference = 'Stop'
        if ($null -eq $Server) { return }
        $name = Get-YvProperty $Server 'ContainerName'
        if ($name -and $name -match '^yv-appserver-[a-z0-9]+$') {
            $r = Invoke-YvDocker -ArgumentList 'rm', '-f', $name -AllowFailure -TimeoutSec 60
            if ($r.ExitCode -ne 0 -and $r.Output -notmatch 'No such container') { throw "Stop-TestAppServer: docker rm -f $name failed: $($r.Output.Trim())" }
        }
        Remove-YvDirectory (Get-YvProperty $Server 'Directory')
        Unregister-AsStarted $Server
    }
}

function Stop-AllTestAppServers {
    <# .SYNOPSIS Stops every app server this module instance started and has not stopped (for AfterAll safety nets). #>
    [CmdletBinding()]
    param()
    foreach ($s in $script:Started.ToArray()) {
        try { Stop-TestAppServer -Server $s } catch { Write-Warning "Stop-AllTestAppServers: $_" }
    }
}

function Invoke-TestAppServerCommand {
    <#
    .SYNOPSIS Runs a command in the app server with docker exec (as root, or -User), bypassing SSH: for test setup
              and for checking outcomes independently of the module under test.
    .OUTPUTS Object with ExitCode, Output (stdout and stderr), Seconds.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)] $Server,
        [Parameter(Mandatory)] [string[]] $ArgumentList,
        [string] $User,
        [string] $WorkingDirectory,
        [int] $TimeoutSec = 60,
        [switch] $AllowFailure
    )
    Set-StrictMode -Version Latest
    $ErrorActionPreference = 'Stop'
    $exec = @('exec')
    if ($User) { $exec += @('-u', $User) }
    if ($WorkingDirectory) { $exec += @('-w', $WorkingDirectory) }
    Invoke-YvDocker -ArgumentList ($exec + @($Server.ContainerName) + $ArgumentList) -TimeoutSec $TimeoutSec -AllowFailure:$AllowFailure `
        -Description "docker exec $($Server.ContainerName) $($ArgumentList -join ' ')"
}

Export-ModuleMember -Function @(
    'New-TestAppServerImage'
    'Start-TestAppServer', 'Stop-TestAppServer', 'Stop-AllTestAppServers'
    'Invoke-TestAppServerCommand'
)
