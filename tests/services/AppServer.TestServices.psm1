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

$script:RecipeRoot = Join-Path $PSScriptRoot 'app-server'
$script:CacheRoot = '/var/cache/yieldvault-ops-test'
$script:LockFile = '/var/cache/yieldvault-ops-test/appserver.lock'
$script:Suite = 'bookworm'
$script:Packages = @(
    'systemd', 'systemd-sysv', 'dbus', 'openssh-server', 'sudo', 'procps', 'iproute2', 'lsof', 'curl',
    'ca-certificates', 'git',
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
$script:Started = [System.Collections.Generic.List[object]]::new()

#region private helpers

function Get-AsTempRoot {
    $root = $env:TMPDIR
    if ([string]::IsNullOrWhiteSpace($root)) { $root = '/tmp' }
    $root = $root.TrimEnd('/')
    if ($root -eq '') { '/' } else { $root }
}

function New-AsRandomName([int] $Length = 10) {
    $alphabet = 'abcdefghijkmnopqrstuvwxyz23456789'
    -join (1..$Length | ForEach-Object { $alphabet[[System.Security.Cryptography.RandomNumberGenerator]::GetInt32($alphabet.Length)] })
}

function New-AsTempDirectory([string] $Service) {
    for ($i = 0; $i -lt 20; $i++) {
        $path = Join-Path (Get-AsTempRoot) "yv-$Service-$(New-AsRandomName)"
        if (-not (Test-Path -LiteralPath $path)) {
            $mode = [System.IO.UnixFileMode]'UserRead, UserWrite, UserExecute'
            [void][System.IO.Directory]::CreateDirectory($path, $mode)
            [System.IO.File]::SetUnixFileMode($path, $mode)
            return $path
        }
    }
    throw "Could not create a fresh yv-$Service-* directory under '$(Get-AsTempRoot)'."
}

function Remove-AsDirectory([string] $Path) {
    # Only ever removes our own yv-* directories.
    if ([string]::IsNullOrWhiteSpace($Path) -or -not (Test-Path -LiteralPath $Path)) { return }
    $full = [System.IO.Path]::GetFullPath($Path)
    if ($full -notmatch '/yv-[a-z0-9-]+(/|$)') { throw "Refusing to remove '$full': it is not inside a yv-* test directory." }
    Remove-Item -LiteralPath $full -Recurse -Force
}

function Resolve-AsProgram([string] $Name, [string] $Install) {
    $cmd = Get-Command -Name $Name -CommandType Application -ErrorAction SilentlyContinue | Select-Object -First 1
    if ($cmd) { return $cmd.Source }
    foreach ($dir in '/usr/sbin', '/sbin') {
        if (Test-Path -LiteralPath "$dir/$Name" -PathType Leaf) { return "$dir/$Name" }
    }
    throw "The app-server test service needs the program '$Name', which is not installed. Install it with: $Install"
}

function Invoke-AsProcess {
    # Runs a program to completion within TimeoutSec; output (stdout+stderr) goes through a file so no pipe
    # can hang. Throws with the output tail on timeout, and on a non-zero exit code unless -AllowFailure.
    param(
        [Parameter(Mandatory)] [string] $FilePath,
        [string[]] $ArgumentList = @(),
        [int] $TimeoutSec = 60,
        [string] $Description,
        [switch] $AllowFailure,
        [hashtable] $Environment
    )
    if (-not $Description) { $Description = (@($FilePath) + $ArgumentList) -join ' ' }
    $out = Join-Path (Get-AsTempRoot) "yv-cmd-$(New-AsRandomName 12).log"
    $psi = [System.Diagnostics.ProcessStartInfo]::new('/bin/sh')
    $psi.UseShellExecute = $false
    foreach ($a in @('-c', 'log=$1; shift; exec "$@" </dev/null >"$log" 2>&1', 'yv-process', $out, $FilePath) + $ArgumentList) { $psi.ArgumentList.Add([string]$a) }
    $psi.WorkingDirectory = '/'
    foreach ($k in 'DOCKER_HOST', 'DOCKER_CONTEXT') { [void]$psi.Environment.Remove($k) }
    $psi.Environment['DOCKER_BUILDKIT'] = '0'   # buildx is not installed; the legacy builder works offline
    if ($Environment) { foreach ($k in $Environment.Keys) { $psi.Environment[[string]$k] = [string]$Environment[$k] } }
    $sw = [System.Diagnostics.Stopwatch]::StartNew()
    try {
        $p = [System.Diagnostics.Process]::Start($psi)
        if (-not $p.WaitForExit($TimeoutSec * 1000)) {
            try { $p.Kill($true) } catch { Write-Verbose "kill after timeout: $_" }
            [void]$p.WaitForExit(5000)
            $tail = if (Test-Path -LiteralPath $out) { (Get-Content -LiteralPath $out -Tail 40) -join "`n" } else { '' }
            throw "'$Description' did not finish within $TimeoutSec s and was killed.`n$tail"
        }
        $p.WaitForExit()
        $text = if (Test-Path -LiteralPath $out) { [System.IO.File]::ReadAllText($out) } else { '' }
        if ($p.ExitCode -ne 0 -and -not $AllowFailure) {
            throw "'$Description' failed with exit code $($p.ExitCode):`n$((@($text -split "`n") | Select-Object -Last 40) -join "`n")"
        }
        [pscustomobject]@{ ExitCode = $p.ExitCode; Output = $text; Seconds = [math]::Round($sw.Elapsed.TotalSeconds, 2) }
    } finally {
        Remove-Item -LiteralPath $out -Force -ErrorAction SilentlyContinue
    }
}

function Test-AsDockerEngine {
    $docker = Resolve-AsProgram docker 'apt-get install -y docker.io'
    $r = Invoke-AsProcess -FilePath $docker -ArgumentList 'version', '--format', '{{.Server.Version}}' -AllowFailure -TimeoutSec 20
    if ($r.ExitCode -ne 0) { throw "No Docker engine answers ($($r.Output.Trim())). Start one first: Start-TestDockerd (tests/services/YieldVault.TestServices.psm1)." }
    $docker
}

function Get-AsFreeTcpPort {
    $l = [System.Net.Sockets.TcpListener]::new([System.Net.IPAddress]::Loopback, 0)
    try { $l.Start(); [int]([System.Net.IPEndPoint]$l.LocalEndpoint).Port } finally { $l.Stop() }
}

function Test-AsTcpPort([int] $Port) {
    $c = [System.Net.Sockets.TcpClient]::new()
    try { $c.ConnectAsync('127.0.0.1', $Port).Wait(500) -and $c.Connected } catch { $false } finally { $c.Dispose() }
}

function Wait-AsCondition {
    param([scriptblock] $Condition, [double] $TimeoutSec, [string] $What, [scriptblock] $Explain, [int] $IntervalMs = 200)
    $sw = [System.Diagnostics.Stopwatch]::StartNew()
    $max = [int][math]::Ceiling($TimeoutSec * 1000 / $IntervalMs) + 10
    for ($i = 0; $i -lt $max; $i++) {
        if (& $Condition) { return }
        if ($sw.Elapsed.TotalSeconds -ge $TimeoutSec) { break }
        Start-Sleep -Milliseconds $IntervalMs
    }
    $why = if ($Explain) { try { & $Explain } catch { "(could not collect diagnostics: $_)" } } else { '' }
    throw "$What`: not ready within $TimeoutSec s.`n$why".TrimEnd()
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

function Enter-AsBuildLock([int] $TimeoutSec) {
    # One build at a time per machine: two test runs that both miss the cache wait for each other.
    [void][System.IO.Directory]::CreateDirectory($script:CacheRoot)
    $deadline = [DateTime]::UtcNow.AddSeconds($TimeoutSec)
    for ($i = 0; $i -lt 100000; $i++) {
        try { return [System.IO.File]::Open($script:LockFile, 'OpenOrCreate', 'ReadWrite', 'None') }
        catch [System.IO.IOException] {
            if ([DateTime]::UtcNow -ge $deadline) { throw "New-TestAppServerImage: $script:LockFile stayed locked for $TimeoutSec s (another test run is building the image)." }
            Start-Sleep -Milliseconds 500
        }
    }
}

function Test-AsImage([string] $Docker, [string] $Tag) {
    (Invoke-AsProcess -FilePath $Docker -ArgumentList 'image', 'inspect', '--format', '{{.Id}}', $Tag -AllowFailure -TimeoutSec 30).ExitCode -eq 0
}

function ConvertTo-AsDotEnvValue([string] $Value) {
    if ($Value -match '^[A-Za-z0-9_./:@%+=,~-]*$') { return $Value }
    if ($Value -notmatch "['\r\n]") { return "'$Value'" }
    throw "The .env value '$($Value.Substring(0, [math]::Min(8, $Value.Length)))...' contains characters this helper cannot quote for dotenv."
}

function Write-AsFile([string] $Path, [string] $Text, [string] $Mode = 'UserRead, UserWrite, GroupRead, OtherRead') {
    [void][System.IO.Directory]::CreateDirectory([System.IO.Path]::GetDirectoryName($Path))
    [System.IO.File]::WriteAllText($Path, $Text.Replace("`r`n", "`n"))
    [System.IO.File]::SetUnixFileMode($Path, [System.IO.UnixFileMode]$Mode)
}

function Get-AsProperty($InputObject, [string] $Name) {
    if ($null -eq $InputObject) { return $null }
    $p = $InputObject.PSObject.Properties[$Name]
    if ($p) { $p.Value } else { $null }
}

#endregion

function New-TestAppServerImage {
    <#
    .SYNOPSIS Builds (once per recipe) the app-server image: debootstrapped Debian 12 + systemd + sshd + sudo + node.
    .DESCRIPTION Two cached steps, each keyed by a hash of its recipe:
      1. /var/cache/yieldvault-ops-test/appserver-rootfs-<hash>.tar: debootstrap --variant=minbase of bookworm with
         the packages, from this machine's Debian mirror; imported as yieldvault-appserver-base:<hash>.
      2. yieldvault-appserver:<hash>: app-server/Dockerfile + setup.sh FROM that base, with the host's node.
      A step whose result exists is skipped; a rebuild after a change to app-server/ only repeats step 2.
    .OUTPUTS Object with Tag, BaseTag, Id, Cached, RootfsFile, Seconds, Timings.
    #>
    [CmdletBinding()]
    param([int] $TimeoutSec = 600)
    Set-StrictMode -Version Latest
    $ErrorActionPreference = 'Stop'
    $sw = [System.Diagnostics.Stopwatch]::StartNew()
    $timings = [ordered]@{}
    $docker = Test-AsDockerEngine
    $node = (Get-Command -Name node -CommandType Application -ErrorAction SilentlyContinue | Select-Object -First 1)
    if (-not $node) { throw "New-TestAppServerImage copies the host's node into the image, but node is not installed. Install Node 20 (apt-get install -y nodejs from NodeSource)." }
    $nodePath = (Get-Item -LiteralPath $node.Source).ResolvedTarget
    if (-not $nodePath) { $nodePath = $node.Source }

    $mirror = Get-AsDebianMirror
    $baseHash = (Get-AsSha256 -Text @('rootfs-v1', $script:Suite, 'minbase', ($script:Packages -join ','), $mirror)).Substring(0, 12)
    $recipeFiles = @(Get-ChildItem -LiteralPath $script:RecipeRoot -File | Where-Object Name -ne 'README.md' | Sort-Object Name | ForEach-Object FullName)
    $hash = (Get-AsSha256 -Text @('image-v1', $baseHash) -File ($recipeFiles + $nodePath)).Substring(0, 12)
    $tag = "yieldvault-appserver:$hash"
    $baseTag = "yieldvault-appserver-base:$baseHash"
    $rootfs = Join-Path $script:CacheRoot "appserver-rootfs-$baseHash.tar"
    $timings['Hash'] = [math]::Round($sw.Elapsed.TotalSeconds, 2)
    $make = {
        param([bool] $Cached)
        $id = (Invoke-AsProcess -FilePath $docker -ArgumentList 'image', 'inspect', '--format', '{{.Id}}', $tag -TimeoutSec 30).Output.Trim()
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
    if (Test-AsImage $docker $tag) { return (& $make $true) }

    $lock = Enter-AsBuildLock -TimeoutSec $TimeoutSec
    $work = $null
    try {
        if (Test-AsImage $docker $tag) { return (& $make $true) }
        $lap = [System.Diagnostics.Stopwatch]::StartNew()
        if (-not (Test-AsImage $docker $baseTag)) {
            if (-not (Test-Path -LiteralPath $rootfs)) {
                $debootstrap = Resolve-AsProgram debootstrap 'apt-get install -y debootstrap'
                $work = New-AsTempDirectory -Service appserver-build
                $root = Join-Path $work 'root'
                # dpkg's fsyncs are most of debootstrap's time and buy nothing for a throwaway tree (halves the
                # build); policy-rc.d keeps postinst scripts from starting daemons. Both are removed afterwards.
                Write-AsFile (Join-Path $root 'etc/dpkg/dpkg.cfg.d/yv-unsafe-io') "force-unsafe-io`n"
                Write-AsFile (Join-Path $root 'usr/sbin/policy-rc.d') "#!/bin/sh`nexit 101`n" 'UserRead, UserWrite, UserExecute, GroupRead, GroupExecute, OtherRead, OtherExecute'
                $r = Invoke-AsProcess -FilePath $debootstrap -TimeoutSec $TimeoutSec -Description "debootstrap $script:Suite from $mirror" -ArgumentList @(
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
                [void](Invoke-AsProcess -FilePath 'tar' -ArgumentList '-C', $root, '--numeric-owner', '-cf', $tmp, '.' -TimeoutSec 300)
                [System.IO.File]::Move($tmp, $rootfs, $true)
                $timings['RootfsTar'] = [math]::Round($lap.Elapsed.TotalSeconds, 2); $lap.Restart()
            }
            [void](Invoke-AsProcess -FilePath $docker -ArgumentList 'import', '--message', 'debootstrap bookworm minbase (yieldvault-ops tests)', $rootfs, $baseTag -TimeoutSec 300)
            $timings['Import'] = [math]::Round($lap.Elapsed.TotalSeconds, 2); $lap.Restart()
        }

        if (-not $work) { $work = New-AsTempDirectory -Service appserver-build }
        $context = Join-Path $work 'context'
        [void][System.IO.Directory]::CreateDirectory($context)
        foreach ($f in $recipeFiles) { Copy-Item -LiteralPath $f -Destination $context }
        Copy-Item -LiteralPath $nodePath -Destination (Join-Path $context 'node')
        $r = Invoke-AsProcess -FilePath $docker -TimeoutSec $TimeoutSec -Description "docker build -t $tag" -ArgumentList @(
            'build', '-q', '--build-arg', "BASE=$baseTag", '--label', 'org.yieldvault.test=appserver', '--label', "org.yieldvault.test.recipe=$hash", '-t', $tag, $context)
        Write-Verbose $r.Output
        $timings['Build'] = [math]::Round($lap.Elapsed.TotalSeconds, 2)
        Remove-AsStaleImages -Docker $docker -Keep $tag, $baseTag -KeepRootfs $rootfs
        & $make $false
    } finally {
        if ($work) { Remove-AsDirectory $work }
        $lock.Dispose()
    }
}

function Remove-AsStaleImages {
    # Images and root trees of earlier recipes. "docker rmi" without -f leaves an image that a container (anyone's)
    # still uses, so a run on an older recipe at the same time keeps its image.
    param([string] $Docker, [string[]] $Keep, [string] $KeepRootfs)
    foreach ($repository in 'yieldvault-appserver', 'yieldvault-appserver-base') {
        $list = Invoke-AsProcess -FilePath $Docker -ArgumentList 'images', '--format', '{{.Repository}}:{{.Tag}}', $repository -AllowFailure -TimeoutSec 30
        foreach ($old in @($list.Output -split "`n" | ForEach-Object Trim | Where-Object { $_ -and $_ -notin $Keep -and $_ -notmatch '<none>' })) {
            $r = Invoke-AsProcess -FilePath $Docker -ArgumentList 'rmi', $old -AllowFailure -TimeoutSec 60
            Write-Verbose "docker rmi $old (exit $($r.ExitCode)): $($r.Output.Trim())"
        }
    }
    Get-ChildItem -Path $script:CacheRoot -Filter 'appserver-rootfs-*.tar' -ErrorAction SilentlyContinue |
        Where-Object FullName -ne $KeepRootfs | Remove-Item -Force -ErrorAction SilentlyContinue
}

function Start-TestAppServer {
    <#
    .SYNOPSIS Starts an app-server container (systemd as PID 1) on the host network: sshd on 127.0.0.1:<SshPort>,
              and with -AppSource the sample backend as yieldvault-backend.service on 127.0.0.1:<AppPort>.
    .PARAMETER AppSource A built checkout (New-TestSampleCheckout); AppItems of it are copied to /app/yieldvault-backend.
    .PARAMETER Environment The backend's .env (PORT and LOG_FILE are added unless given).
    .OUTPUTS Object with HostName, SshPort, User, KeyFile, KnownHostsFile, HostKeyFingerprint, NoSudoUser, AppPort,
             AppPath, EnvFile, ServiceName, LogPath, ContainerName, Image, Directory, SystemState, StartSeconds, Timings.
    #>
    [CmdletBinding()]
    param(
        [string] $AppSource,
        [hashtable] $Environment = @{},
        [string[]] $AppItems = @('dist', 'node_modules', 'package.json', 'package-lock.json'),
        [int] $SshPort,
        [int] $AppPort,
        [int] $TimeoutSec = 60
    )
    Set-StrictMode -Version Latest
    $ErrorActionPreference = 'Stop'
    $ProgressPreference = 'SilentlyContinue'
    $sw = [System.Diagnostics.Stopwatch]::StartNew()
    $timings = [ordered]@{}
    $lap = [System.Diagnostics.Stopwatch]::StartNew()
    $docker = Test-AsDockerEngine
    $keygen = Resolve-AsProgram ssh-keygen 'apt-get install -y openssh-client'
    if ($AppSource -and -not (Test-Path -LiteralPath (Join-Path $AppSource 'dist/index.js'))) {
        throw "Start-TestAppServer: '$AppSource' has no dist/index.js; pass a built checkout (New-TestSampleCheckout)."
    }
    $image = New-TestAppServerImage
    $timings['Image'] = [math]::Round($lap.Elapsed.TotalSeconds, 2); $lap.Restart()
    if (-not $SshPort) { $SshPort = Get-AsFreeTcpPort }
    if (-not $AppPort) { $AppPort = Get-AsFreeTcpPort }

    $dir = New-AsTempDirectory -Service appserver
    $name = "yv-appserver-$(New-AsRandomName 8)"
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
        [void](Invoke-AsProcess -FilePath $keygen -ArgumentList '-q', '-t', 'ed25519', '-N', '', '-C', "yv-appserver-host-$name", '-f', $hostKey -TimeoutSec 20)
        [void](Invoke-AsProcess -FilePath $keygen -ArgumentList '-q', '-t', 'ed25519', '-N', '', '-C', "yv-appserver-user-$name", '-f', $server.KeyFile -TimeoutSec 20)
        $hostPub = [System.IO.File]::ReadAllText("$hostKey.pub").Trim()
        Write-AsFile $server.KnownHostsFile "[127.0.0.1]:$SshPort $(($hostPub -split ' ')[0..1] -join ' ')`n" 'UserRead, UserWrite'
        $server.HostKeyFingerprint = ((Invoke-AsProcess -FilePath $keygen -ArgumentList '-l', '-E', 'sha256', '-f', "$hostKey.pub" -TimeoutSec 10).Output -split ' ')[1]
        Write-AsFile (Join-Path $stage 'etc/ssh/sshd_config.d/00-yieldvault-run.conf') "Port $SshPort`nListenAddress 127.0.0.1`nHostKey /etc/ssh/ssh_host_ed25519_key`n"
        $userPub = [System.IO.File]::ReadAllText("$($server.KeyFile).pub")
        $paths = @('./etc/ssh/ssh_host_ed25519_key', './etc/ssh/ssh_host_ed25519_key.pub', './etc/ssh/sshd_config.d/00-yieldvault-run.conf')
        foreach ($u in @(@{ Name = 'deploy'; Id = $script:DeployUid }, @{ Name = 'auditor'; Id = $script:AuditorUid })) {
            $ssh = Join-Path $stage "home/$($u.Name)/.ssh"
            [void][System.IO.Directory]::CreateDirectory($ssh)
            [System.IO.File]::SetUnixFileMode($ssh, [System.IO.UnixFileMode]'UserRead, UserWrite, UserExecute')
            Write-AsFile (Join-Path $ssh 'authorized_keys') $userPub 'UserRead, UserWrite'
            [void](Invoke-AsProcess -FilePath 'chown' -ArgumentList '-R', "$($u.Id):$($u.Id)", $ssh -TimeoutSec 10)
            $paths += "./home/$($u.Name)/.ssh"
        }

        if ($AppSource) {
            $app = Join-Path $stage ($script:AppPath.TrimStart('/'))
            [void][System.IO.Directory]::CreateDirectory($app)
            $items = @($AppItems | ForEach-Object { Join-Path $AppSource $_ } | Where-Object { Test-Path -LiteralPath $_ })
            if ($items) { [void](Invoke-AsProcess -FilePath 'cp' -ArgumentList (@('-a', '--') + $items + $app) -TimeoutSec 120) }
            $envTable = [ordered]@{}
            foreach ($k in ($Environment.Keys | Sort-Object)) { $envTable[[string]$k] = [string]$Environment[$k] }
            if (-not $envTable.Contains('PORT')) { $envTable['PORT'] = [string]$AppPort }
            elseif ([int]$envTable['PORT'] -ne $AppPort) { $server.AppPort = [int]$envTable['PORT'] }
            if (-not $envTable.Contains('LOG_FILE')) { $envTable['LOG_FILE'] = $script:LogPath }
            $lines = foreach ($k in $envTable.Keys) {
                if ($k -notmatch '^[A-Za-z_][A-Za-z0-9_]*$') { throw "Start-TestAppServer: '$k' is not a valid environment variable name." }
                "$k=$(ConvertTo-AsDotEnvValue $envTable[$k])"
            }
            Write-AsFile (Join-Path $app '.env') (($lines -join "`n") + "`n") 'UserRead, UserWrite'
            [void](Invoke-AsProcess -FilePath 'chown' -ArgumentList '-R', "$($script:DeployUid):$($script:DeployUid)", $app -TimeoutSec 60)
            $paths += ".$($script:AppPath)"
            # Enabled like on a real server: it starts at boot.
            $wants = Join-Path $stage 'etc/systemd/system/multi-user.target.wants'
            [void][System.IO.Directory]::CreateDirectory($wants)
            [void][System.IO.File]::CreateSymbolicLink((Join-Path $wants $script:UnitName), "/etc/systemd/system/$script:UnitName")
            $paths += "./etc/systemd/system/multi-user.target.wants/$script:UnitName"
        }
        $timings['Stage'] = [math]::Round($lap.Elapsed.TotalSeconds, 2); $lap.Restart()

        # Host network: the app reaches PostgreSQL and the RPC stand-in on 127.0.0.1, and the test reaches sshd
        # and the app on 127.0.0.1 (never the container's own address).
        [void](Invoke-AsProcess -FilePath $docker -TimeoutSec 60 -Description "docker create $name" -ArgumentList (@(
                    'create', '--name', $name, '--label', 'org.yieldvault.test=appserver', '--label', "org.yieldvault.test.pid=$PID",
                    '--network', 'host') + $script:SystemdRunFlags + @($image.Tag)))
        $created = $true
        # Only the listed paths go into the tar, so no directory above them gets the stage's modes or owners.
        [void](Invoke-AsProcess -FilePath '/bin/sh' -TimeoutSec 120 -Description "copy the per-run files into $name" -ArgumentList (@(
                    '-c', 'set -e; stage=$1; docker=$2; name=$3; shift 3; tar -C "$stage" --numeric-owner -cf - "$@" | "$docker" cp - "$name:/"',
                    'yv-copy', $stage, $docker, $name) + $paths))
        $timings['Copy'] = [math]::Round($lap.Elapsed.TotalSeconds, 2); $lap.Restart()
        [void](Invoke-AsProcess -FilePath $docker -ArgumentList 'start', $name -TimeoutSec 60)
        Register-AsStarted $server

        $explain = { Get-AsContainerDiagnostics -Docker $docker -Name $name }
        # "running", or "degraded" when some unit failed (the backend's own state is the tests' business).
        Wait-AsCondition -TimeoutSec $TimeoutSec -What "Start-TestAppServer: systemd in $name (is-system-running)" -Explain $explain -IntervalMs 250 -Condition {
            $r = Invoke-AsProcess -FilePath $docker -ArgumentList 'exec', $name, 'systemctl', 'is-system-running' -AllowFailure -TimeoutSec 10
            $server.SystemState = $r.Output.Trim()
            $server.SystemState -in 'running', 'degraded'
        }
        $timings['Systemd'] = [math]::Round($lap.Elapsed.TotalSeconds, 2); $lap.Restart()
        Wait-AsCondition -TimeoutSec $TimeoutSec -What "Start-TestAppServer: sshd of $name on 127.0.0.1:$SshPort" -Explain $explain -Condition { Test-AsTcpPort $SshPort }
        $timings['Sshd'] = [math]::Round($lap.Elapsed.TotalSeconds, 2); $lap.Restart()
        if ($AppSource) {
            $url = "http://127.0.0.1:$($server.AppPort)/health"
            Wait-AsCondition -TimeoutSec $TimeoutSec -What "Start-TestAppServer: $script:UnitName in $name (GET $url)" -Explain $explain -Condition {
                try { (Invoke-WebRequest -Uri $url -SkipHttpErrorCheck -TimeoutSec 2).StatusCode -eq 200 } catch { $false }
            }
            $timings['Backend'] = [math]::Round($lap.Elapsed.TotalSeconds, 2)
        }
        $server.StartSeconds = [math]::Round($sw.Elapsed.TotalSeconds, 2)
        $server
    } catch {
        $err = $_
        if ($created) { [void](Invoke-AsProcess -FilePath $docker -ArgumentList 'rm', '-f', $name -AllowFailure -TimeoutSec 60) }
        Unregister-AsStarted $server
        Remove-AsDirectory $dir
        throw $err
    }
}

function Get-AsContainerDiagnostics([string] $Docker, [string] $Name) {
    $parts = foreach ($cmd in @(
            @('systemctl', 'is-system-running'),
            @('systemctl', '--failed', '--no-pager', '--no-legend'),
            @('systemctl', 'status', '--no-pager', '-n', '0', 'ssh.service', $script:UnitName),
            @('journalctl', '--no-pager', '-n', '30', '-u', 'ssh.service', '-u', $script:UnitName))) {
        $r = Invoke-AsProcess -FilePath $Docker -ArgumentList (@('exec', $Name) + $cmd) -AllowFailure -TimeoutSec 15
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
        $name = Get-AsProperty $Server 'ContainerName'
        if ($name -and $name -match '^yv-appserver-[a-z0-9]+$') {
            $docker = Resolve-AsProgram docker 'apt-get install -y docker.io'
            $r = Invoke-AsProcess -FilePath $docker -ArgumentList 'rm', '-f', $name -AllowFailure -TimeoutSec 60
            if ($r.ExitCode -ne 0 -and $r.Output -notmatch 'No such container') { throw "Stop-TestAppServer: docker rm -f $name failed: $($r.Output.Trim())" }
        }
        Remove-AsDirectory (Get-AsProperty $Server 'Directory')
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
    $docker = Resolve-AsProgram docker 'apt-get install -y docker.io'
    $exec = @('exec')
    if ($User) { $exec += @('-u', $User) }
    if ($WorkingDirectory) { $exec += @('-w', $WorkingDirectory) }
    Invoke-AsProcess -FilePath $docker -ArgumentList ($exec + @($Server.ContainerName) + $ArgumentList) -TimeoutSec $TimeoutSec -AllowFailure:$AllowFailure `
        -Description "docker exec $($Server.ContainerName) $($ArgumentList -join ' ')"
}

Export-ModuleMember -Function @(
    'New-TestAppServerImage'
    'Start-TestAppServer', 'Stop-TestAppServer', 'Stop-AllTestAppServers'
    'Invoke-TestAppServerCommand'
)
