#Requires -Version 7.2
<#
    The second fixture backend (tests/fixtures/plain-backend) for the Pester suites: its git origin with release tags,
    a checkout of a tag, and release images of it. It is a Node API that is not the YieldVault sample (plain JavaScript,
    /healthz {"status":"ok"}, no /ready, version only in package.json, PM2 ecosystem file); see its README.md.

    Images are built on the sample backend's test image (New-TestBackendImage of Docker.TestServices.psm1, which must
    be imported and built first) and carry that module's labels for this run, so Remove-TestBackendImageVariant and
    Remove-AllTestDockerResources remove them and the containers made from them.
#>
Set-StrictMode -Version Latest

$script:RepoRoot = [System.IO.Path]::GetFullPath((Join-Path $PSScriptRoot '../..'))
$script:OriginScript = Join-Path $script:RepoRoot 'tests/fixtures/new-plain-origin.sh'
$script:ImageContext = Join-Path $script:RepoRoot 'tests/fixtures/plain-backend-image'

function Invoke-PbProcess {
    param(
        [Parameter(Mandatory)] [string] $FilePath,
        [string[]] $ArgumentList = @(),
        [string] $WorkingDirectory,
        [int] $TimeoutSec = 120
    )
    $psi = [System.Diagnostics.ProcessStartInfo]::new($FilePath)
    foreach ($a in $ArgumentList) { $psi.ArgumentList.Add([string]$a) }
    if ($WorkingDirectory) { $psi.WorkingDirectory = $WorkingDirectory }
    $psi.RedirectStandardOutput = $true
    $psi.RedirectStandardError = $true
    $psi.RedirectStandardInput = $true
    $psi.UseShellExecute = $false
    foreach ($k in 'DOCKER_HOST', 'DOCKER_CONTEXT', 'DOCKER_TLS_VERIFY') { [void]$psi.Environment.Remove($k) }
    $psi.Environment['DOCKER_BUILDKIT'] = '0'
    $p = [System.Diagnostics.Process]::Start($psi)
    $p.StandardInput.Close()
    $out = $p.StandardOutput.ReadToEndAsync()
    $err = $p.StandardError.ReadToEndAsync()
    if (-not $p.WaitForExit($TimeoutSec * 1000)) {
        try { $p.Kill($true) } catch { Write-Verbose "kill after timeout: $_" }
        throw "'$([System.IO.Path]::GetFileName($FilePath)) $($ArgumentList -join ' ')' did not finish within $TimeoutSec s."
    }
    $p.WaitForExit()
    if ($p.ExitCode -ne 0) { throw "'$([System.IO.Path]::GetFileName($FilePath)) $($ArgumentList -join ' ')' failed with exit code $($p.ExitCode):`n$($out.Result)$($err.Result)" }
    $out.Result
}

function Get-PbProgram([string] $Name, [string] $Install) {
    $cmd = Get-Command -Name $Name -CommandType Application -ErrorAction SilentlyContinue | Select-Object -First 1
    if (-not $cmd) { throw "The plain backend test service needs '$Name', which is not installed. Install it with: $Install" }
    $cmd.Source
}

function New-TestPlainOrigin {
    <#
    .SYNOPSIS Runs tests/fixtures/new-plain-origin.sh into -Directory (created when missing); returns the bare repo path
              (tags v2.0.0, v2.1.0, v2.1.1-broken, v2.2.0-pnpm).
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param([Parameter(Mandatory)] [string] $Directory)
    Set-StrictMode -Version Latest
    $ErrorActionPreference = 'Stop'
    [void](Get-PbProgram git 'apt-get install -y git')
    [void][System.IO.Directory]::CreateDirectory($Directory)
    $out = Invoke-PbProcess -FilePath (Get-PbProgram bash 'apt-get install -y bash') -ArgumentList $script:OriginScript, $Directory
    $last = @($out -split "`n" | ForEach-Object Trim | Where-Object { $_ -like '/*' }) | Select-Object -Last 1
    if (-not $last -or -not (Test-Path -LiteralPath $last -PathType Container)) { throw "new-plain-origin.sh printed no bare repository:`n$out" }
    $last
}

function New-TestPlainCheckout {
    <# .SYNOPSIS A git checkout of -Ref of the plain backend's origin at -Path (nothing to install or build). Returns -Path. #>
    [CmdletBinding()]
    [OutputType([string])]
    param([Parameter(Mandatory)] [string] $Origin, [Parameter(Mandatory)] [string] $Path, [string] $Ref = 'v2.0.0')
    Set-StrictMode -Version Latest
    $ErrorActionPreference = 'Stop'
    $git = Get-PbProgram git 'apt-get install -y git'
    [void](Invoke-PbProcess -FilePath $git -ArgumentList 'clone', '--quiet', '--', $Origin, $Path)
    [void](Invoke-PbProcess -FilePath $git -ArgumentList '-C', $Path, 'checkout', '--quiet', '--detach', $Ref)
    $Path
}

function New-TestPlainImage {
    <#
    .SYNOPSIS Builds a release image of the plain backend from a tag of its origin, labelled the way CI would
              (org.opencontainers.image.version = the tag without "v", .revision = its commit) and as this test run's.
    .PARAMETER Base The sample backend's test image (it brings node).
    .OUTPUTS Object with Tag, Version, Commit.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)] [string] $Origin,
        [Parameter(Mandatory)] [ValidatePattern('^v\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$')] [string] $Ref,
        [Parameter(Mandatory)] [ValidatePattern('^[a-z0-9][a-z0-9._/-]*:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$')] [string] $Tag,
        [Parameter(Mandatory)] [string] $Base,
        [Parameter(Mandatory)] [string] $RunId,
        [int] $TimeoutSec = 180
    )
    Set-StrictMode -Version Latest
    $ErrorActionPreference = 'Stop'
    $git = Get-PbProgram git 'apt-get install -y git'
    $docker = Get-PbProgram docker 'apt-get install -y docker.io'
    $tar = Get-PbProgram tar 'apt-get install -y tar'
    $commit = (Invoke-PbProcess -FilePath $git -ArgumentList '--git-dir', $Origin, 'rev-parse', "$Ref^{commit}").Trim()
    $root = if ([string]::IsNullOrWhiteSpace($env:TMPDIR)) { '/tmp' } else { $env:TMPDIR.TrimEnd('/') }
    $ctx = Join-Path $root ('yv-plain-image-' + [guid]::NewGuid().ToString('N').Substring(0, 10))
    try {
        [void][System.IO.Directory]::CreateDirectory((Join-Path $ctx 'app'))
        $archive = Join-Path $ctx 'app.tar'
        [void](Invoke-PbProcess -FilePath $git -ArgumentList '--git-dir', $Origin, 'archive', '--format=tar', '-o', $archive, $commit)
        [void](Invoke-PbProcess -FilePath $tar -ArgumentList '-xf', $archive, '-C', (Join-Path $ctx 'app'))
        Remove-Item -LiteralPath $archive
        Copy-Item -LiteralPath (Join-Path $script:ImageContext 'Dockerfile') -Destination $ctx
        $version = $Ref.Substring(1)
        [void](Invoke-PbProcess -FilePath $docker -TimeoutSec $TimeoutSec -ArgumentList 'build', '-q', '-t', $Tag, '--build-arg', "BASE=$Base",
            '--label', 'yieldvault-ops-test=1', '--label', "yieldvault-ops-test.run=$RunId",
            '--label', "org.opencontainers.image.version=$version", '--label', "org.opencontainers.image.revision=$commit", $ctx)
    } finally {
        if (Test-Path -LiteralPath $ctx) { Remove-Item -LiteralPath $ctx -Recurse -Force }
    }
    [pscustomobject]@{ PSTypeName = 'YieldVault.TestServices.PlainImage'; Tag = $Tag; Version = $Ref.Substring(1); Commit = $commit }
}

Export-ModuleMember -Function New-TestPlainOrigin, New-TestPlainCheckout, New-TestPlainImage
