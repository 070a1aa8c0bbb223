#Requires -Version 7.2
<#
    A private Docker registry on 127.0.0.1 for the Pester suites: Debian's docker-registry (distribution 2.8) with
    htpasswd (bcrypt) authentication and its own storage, so pulls need credentials. The engine treats 127.0.0.0/8 as
    an insecure registry, so plain HTTP works without TLS.

    Pushes never touch anyone's ~/.docker: the docker CLI gets DOCKER_CONFIG pointing at a config.json of this
    registry's own directory. The password is random and starts with "Planted-" so the suites' secret scan finds any
    leak of it. Everything lives in "<TMPDIR or /tmp>/yv-registry-<random>"; Stop removes it.
#>
Set-StrictMode -Version Latest

$script:Registries = [System.Collections.Generic.List[object]]::new()

function Get-RgProgram {
    param([Parameter(Mandatory)] [string] $Name, [Parameter(Mandatory)] [string] $Install, [string[]] $Candidates = @())
    foreach ($c in $Candidates) { if (Test-Path -LiteralPath $c -PathType Leaf) { return $c } }
    $cmd = Get-Command -Name $Name -CommandType Application -ErrorAction SilentlyContinue | Select-Object -First 1
    if ($cmd) { return $cmd.Source }
    throw "The registry test service needs the program '$Name', which is not installed. Install it with: $Install"
}

function Invoke-RgProcess {
    # Runs a program with a time limit; throws with its output on a non-zero exit (unless -AllowFailure) or timeout.
    param(
        [Parameter(Mandatory)] [string] $FilePath,
        [string[]] $ArgumentList = @(),
        [hashtable] $Environment = @{},
        [int] $TimeoutSec = 60,
        [switch] $AllowFailure
    )
    $psi = [System.Diagnostics.ProcessStartInfo]::new($FilePath)
    foreach ($a in $ArgumentList) { $psi.ArgumentList.Add([string]$a) }
    $psi.RedirectStandardOutput = $true
    $psi.RedirectStandardError = $true
    $psi.RedirectStandardInput = $true
    $psi.UseShellExecute = $false
    foreach ($k in 'DOCKER_HOST', 'DOCKER_CONTEXT', 'DOCKER_TLS_VERIFY') { [void]$psi.Environment.Remove($k) }
    foreach ($k in $Environment.Keys) { $psi.Environment[[string]$k] = [string]$Environment[$k] }
    $p = [System.Diagnostics.Process]::Start($psi)
    $p.StandardInput.Close()
    $out = $p.StandardOutput.ReadToEndAsync()
    $err = $p.StandardError.ReadToEndAsync()
    if (-not $p.WaitForExit($TimeoutSec * 1000)) {
        try { $p.Kill($true) } catch { Write-Verbose "kill after timeout: $_" }
        throw "'$([System.IO.Path]::GetFileName($FilePath)) $($ArgumentList -join ' ')' did not finish within $TimeoutSec s."
    }
    $p.WaitForExit()
    $text = $out.Result + $err.Result
    if ($p.ExitCode -ne 0 -and -not $AllowFailure) {
        throw "'$([System.IO.Path]::GetFileName($FilePath)) $($ArgumentList -join ' ')' failed with exit code $($p.ExitCode):`n$text"
    }
    [pscustomobject]@{ ExitCode = $p.ExitCode; Output = $text; StdOut = $out.Result }
}

function Get-RgFreePort {
    $l = [System.Net.Sockets.TcpListener]::new([System.Net.IPAddress]::Loopback, 0)
    try { $l.Start(); $l.LocalEndpoint.Port } finally { $l.Stop() }
}

function Write-TestDockerLogin {
    <#
    .SYNOPSIS Writes what "docker login <registry>" writes: <Directory>/config.json (mode 600) with the registry's auth
              (base64 user:password). -Owner hands the directory and file to that user (a test user's ~/.docker).
    .OUTPUTS The path of config.json.
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [Parameter(Mandatory)] $Registry,
        [Parameter(Mandatory)] [string] $Directory,
        [string] $Owner,
        [string] $Password
    )
    Set-StrictMode -Version Latest
    $ErrorActionPreference = 'Stop'
    if (-not $Password) { $Password = $Registry.Password }
    [void][System.IO.Directory]::CreateDirectory($Directory)
    [System.IO.File]::SetUnixFileMode($Directory, [System.IO.UnixFileMode]'UserRead, UserWrite, UserExecute')
    $auth = [Convert]::ToBase64String([Text.Encoding]::UTF8.GetBytes("$($Registry.User):$Password"))
    $file = Join-Path $Directory 'config.json'
    $json = @{ auths = @{ $Registry.Address = @{ auth = $auth } } } | ConvertTo-Json -Depth 4
    $fso = [System.IO.FileStreamOptions]::new()
    $fso.Mode = [System.IO.FileMode]::Create
    $fso.Access = [System.IO.FileAccess]::Write
    $fso.UnixCreateMode = [System.IO.UnixFileMode]'UserRead, UserWrite'
    $w = [System.IO.StreamWriter]::new($file, [System.Text.UTF8Encoding]::new($false), $fso)
    try { $w.Write($json) } finally { $w.Dispose() }
    [System.IO.File]::SetUnixFileMode($file, [System.IO.UnixFileMode]'UserRead, UserWrite')
    if ($Owner) {
        if ($Owner -notmatch '^[a-z_][a-z0-9_-]{0,30}$') { throw "Write-TestDockerLogin: '$Owner' is not a user name." }
        [void](Invoke-RgProcess -FilePath (Get-RgProgram chown 'apt-get install -y coreutils' '/usr/bin/chown', '/bin/chown') -ArgumentList '-R', "${Owner}:", $Directory)
    }
    $file
}

function Start-TestRegistry {
    <#
    .SYNOPSIS Starts docker-registry on 127.0.0.1:<free port> with htpasswd auth for one user with a random password.
    .OUTPUTS Object with Address (127.0.0.1:<port>), Port, User, Password, Credential, Directory, DockerConfig (a
             directory whose config.json is logged in, for pushes), LogFile, Process, StartSeconds.
    #>
    [CmdletBinding()]
    param([string] $User = 'yv-deployer', [int] $TimeoutSec = 20)
    Set-StrictMode -Version Latest
    $ErrorActionPreference = 'Stop'
    $sw = [System.Diagnostics.Stopwatch]::StartNew()
    $registryExe = Get-RgProgram docker-registry 'apt-get install -y docker-registry' '/usr/bin/docker-registry'
    $htpasswd = Get-RgProgram htpasswd 'apt-get install -y apache2-utils' '/usr/bin/htpasswd'
    $root = if ([string]::IsNullOrWhiteSpace($env:TMPDIR)) { '/tmp' } else { $env:TMPDIR.TrimEnd('/') }
    $dir = Join-Path $root ('yv-registry-' + [guid]::NewGuid().ToString('N').Substring(0, 10))
    [void][System.IO.Directory]::CreateDirectory($dir, [System.IO.UnixFileMode]'UserRead, UserWrite, UserExecute')
    $password = 'Planted-Registry-' + [guid]::NewGuid().ToString('N').Substring(0, 16)
    $port = Get-RgFreePort
    try {
        $h = Invoke-RgProcess -FilePath $htpasswd -ArgumentList '-Bbn', $User, $password -TimeoutSec 30
        Set-Content -LiteralPath (Join-Path $dir 'htpasswd') -Value $h.StdOut.Trim() -NoNewline
        [void][System.IO.Directory]::CreateDirectory((Join-Path $dir 'data'))
        @"
version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: $dir/data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
auth:
  htpasswd:
    realm: yieldvault-ops-test
    path: $dir/htpasswd
"@ | Set-Content -LiteralPath (Join-Path $dir 'config.yml')
        $log = Join-Path $dir 'registry.log'
        $psi = [System.Diagnostics.ProcessStartInfo]::new('/bin/sh')
        foreach ($a in @('-c', 'exec "$@" </dev/null >>"$0" 2>&1', $log, $registryExe, 'serve', (Join-Path $dir 'config.yml'))) { $psi.ArgumentList.Add($a) }
        $psi.UseShellExecute = $false
        $process = [System.Diagnostics.Process]::Start($psi)
        $registry = [pscustomobject]@{
            PSTypeName = 'YieldVault.TestServices.Registry'; Address = "127.0.0.1:$port"; Port = $port; User = $User; Password = $password
            Credential = [pscredential]::new($User, (ConvertTo-SecureString $password -AsPlainText -Force))
            Directory = $dir; DockerConfig = (Join-Path $dir 'docker'); LogFile = $log; Process = $process; StartSeconds = 0
        }
        $script:Registries.Add($registry)
        # Ready when /v2/ answers, and it must answer 401: a registry that lets anyone in proves nothing.
        $deadline = [DateTime]::UtcNow.AddSeconds($TimeoutSec)
        $status = $null
        for ($i = 0; $i -lt 400; $i++) {
            if ($process.HasExited) { throw "docker-registry exited ($($process.ExitCode)):`n$(Get-Content -LiteralPath $log -Raw -ErrorAction Ignore)" }
            try { $status = (Invoke-WebRequest -Uri "http://127.0.0.1:$port/v2/" -TimeoutSec 2 -SkipHttpErrorCheck).StatusCode } catch { $status = $null }
            if ($status) { break }
            if ([DateTime]::UtcNow -ge $deadline) { throw "docker-registry did not answer on 127.0.0.1:$port within $TimeoutSec s:`n$(Get-Content -LiteralPath $log -Raw -ErrorAction Ignore)" }
            Start-Sleep -Milliseconds 100
        }
        if ($status -ne 401) { throw "docker-registry on 127.0.0.1:$port answered /v2/ with $status without credentials; expected 401." }
        [void](Write-TestDockerLogin -Registry $registry -Directory $registry.DockerConfig)
        $registry.StartSeconds = [math]::Round($sw.Elapsed.TotalSeconds, 2)
        $registry
    } catch {
        Stop-TestRegistry -Registry ($script:Registries | Where-Object Directory -EQ $dir | Select-Object -First 1)
        if (Test-Path -LiteralPath $dir) { Remove-Item -LiteralPath $dir -Recurse -Force }
        throw
    }
}

function Publish-TestRegistryImage {
    <#
    .SYNOPSIS Pushes a local image to the registry as <Address>/<Repository>:<Tag> (logged in through the registry's own
              DOCKER_CONFIG), then removes that name from the engine, so a deployment of it must pull it.
    .OUTPUTS The pushed image reference.
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [Parameter(Mandatory)] $Registry,
        [Parameter(Mandatory)] [string] $Image,
        [Parameter(Mandatory)] [ValidatePattern('^[a-z0-9][a-z0-9._/-]*$')] [string] $Repository,
        [Parameter(Mandatory)] [ValidatePattern('^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$')] [string] $Tag
    )
    Set-StrictMode -Version Latest
    $ErrorActionPreference = 'Stop'
    $docker = Get-RgProgram docker 'apt-get install -y docker.io' '/usr/bin/docker'
    $ref = "$($Registry.Address)/${Repository}:$Tag"
    $env = @{ DOCKER_CONFIG = $Registry.DockerConfig }
    [void](Invoke-RgProcess -FilePath $docker -ArgumentList 'tag', $Image, $ref -Environment $env)
    [void](Invoke-RgProcess -FilePath $docker -ArgumentList 'push', $ref -Environment $env -TimeoutSec 120)
    [void](Invoke-RgProcess -FilePath $docker -ArgumentList 'image', 'rm', $ref -Environment $env)
    $ref
}

function Stop-TestRegistry {
    <# .SYNOPSIS Stops the registry and removes its directory (storage, htpasswd, its docker config). Idempotent. #>
    [CmdletBinding()]
    param([Parameter(ValueFromPipeline)] [AllowNull()] $Registry)
    process {
        if ($null -eq $Registry) { return }
        $p = $Registry.Process
        if ($p -and -not $p.HasExited) {
            try { $p.Kill() } catch { Write-Verbose "kill: $_" }
            [void]$p.WaitForExit(10000)
        }
        $dir = [string]$Registry.Directory
        if ($dir -and [System.IO.Path]::GetFileName($dir) -match '^yv-registry-[0-9a-f]{10}$' -and (Test-Path -LiteralPath $dir)) {
            Remove-Item -LiteralPath $dir -Recurse -Force
        }
        [void]$script:Registries.Remove($Registry)
    }
}

function Stop-AllTestRegistries {
    <# .SYNOPSIS Stops every registry this module instance started and has not stopped. #>
    [CmdletBinding()]
    param()
    foreach ($r in @($script:Registries)) { Stop-TestRegistry -Registry $r }
}

Export-ModuleMember -Function Start-TestRegistry, Stop-TestRegistry, Stop-AllTestRegistries, Publish-TestRegistryImage, Write-TestDockerLogin
