#Requires -Version 7.2
<#
.SYNOPSIS
    Builds, documents and tests YieldVault.Ops.
.DESCRIPTION
    Tasks:
      Bootstrap  install what building and testing need (NuGet restore, Pester; as root on Debian, the
                 apt packages of the real test services: openssh-server, docker.io, nginx, postgresql ...)
      Build      lay out an importable module in out/YieldVault.Ops/<version>/ (includes Docs)
      Docs       turn docs/en-US/*.md (PlatyPS layout) into MAML help in the built module
      Test       Bootstrap + Build, then xunit and Pester (in a fresh pwsh against out/); ends with
                 "Tests: N passed, N failed" and exits non-zero on any failure
      Demo       start the sample backend locally and show the module working against it
      Bench      Bootstrap + Build, then bench/Invoke-Benchmarks.ps1 (the runbook as written vs the module's
                 deployment, import time, status fan-out) -> bench/results/latest.json, docs/benchmarks.md
      Clean      remove generated output
.EXAMPLE
    dotnet tool restore && dotnet pwsh ./build.ps1 -Task Test
#>
[CmdletBinding()]
param(
    [ValidateSet('Bootstrap', 'Build', 'Docs', 'Test', 'Demo', 'Bench', 'Clean')]
    [string[]] $Task = 'Build',

    [ValidateSet('Debug', 'Release')]
    [string] $Configuration = 'Release',

    # Pester files to run (default: all of tests/pester).
    [string[]] $TestPath,

    # Skip the xunit run (for quick Pester iterations).
    [switch] $SkipXunit,

    # Skip Bootstrap in Test/Demo/Bench (packages already installed).
    [switch] $SkipBootstrap,

    # Where the module is laid out (default: out/ in the repository). Lets parallel work use its own copy.
    [string] $OutputRoot,

    # The whole Pester run in one lane instead of two side by side (see Invoke-PesterLanes).
    [switch] $SerialPester
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
$Root = $PSScriptRoot
$Version = (Import-PowerShellDataFile -LiteralPath "$Root/YieldVault.Ops.psd1").ModuleVersion
$OutRoot = if ($OutputRoot) { [IO.Path]::GetFullPath($OutputRoot) } else { Join-Path $Root 'out' }
$ModuleOut = Join-Path $OutRoot "YieldVault.Ops/$Version"
# With -OutputRoot, intermediate files go there too, so parallel builds of one tree do not collide.
$ArtifactsArgs = if ($OutputRoot) { @('--artifacts-path', (Join-Path $OutRoot 'artifacts')) } else { @() }
$ResultsDir = if ($OutputRoot) { Join-Path $OutRoot 'results' } else { Join-Path $Root 'tests/results' }
$NuGetRoot = if ($env:NUGET_PACKAGES) { $env:NUGET_PACKAGES } else { Join-Path $HOME '.nuget/packages' }
$PesterManifest = Join-Path $NuGetRoot 'pester/6.2.0/tools/Pester.psd1'

# What the machine needs (Debian packages, the programs the tests start) and how to detect it.
Import-Module (Join-Path $Root 'build/Prerequisites.psm1') -Force

function Invoke-Native {
    param([Parameter(Mandatory)][string] $FilePath, [string[]] $ArgumentList = @(), [string] $What)
    Write-Verbose "> $FilePath $($ArgumentList -join ' ')"
    & $FilePath @ArgumentList
    if ($LASTEXITCODE -ne 0) {
        throw "$(if ($What) { $What } else { $FilePath }) failed with exit code $LASTEXITCODE."
    }
}

function Write-Step([string] $Text) {
    Write-Host "==> $Text" -ForegroundColor Cyan
}

function Invoke-Bootstrap {
    # -Demo: the demo's programs are enough (the sample backend on PM2 with PostgreSQL).
    param([switch] $Demo)
    Write-Step 'Bootstrap'
    $isRoot = $IsLinux -and ((& id -u) -eq '0')
    if ($isRoot -and (Get-Command apt-get -ErrorAction Ignore)) {
        $missing = @(Get-VaultMissingDebianPackage -Name (Get-VaultDebianPackage))
        if ($missing) {
            Write-Step "apt-get install $($missing -join ' ') (first run on a fresh machine: about 1-2 minutes)"
            $env:DEBIAN_FRONTEND = 'noninteractive'
            Invoke-Native apt-get @('update', '-qq') -What 'apt-get update'
            Invoke-Native apt-get (@('install', '-y', '-qq', '--no-install-recommends') + $missing) -What 'apt-get install'
            $still = @(Get-VaultMissingDebianPackage -Name $missing)
            if ($still) { throw "apt-get install ended without installing: $($still -join ', ')." }
        }
    }
    # PM2 runs the backend on PM2 targets (and in the tests); a global npm install like the runbook's servers.
    # Not root, npm's global folder may not be writable: then the check below says what to run.
    if (-not (Get-Command pm2 -CommandType Application -ErrorAction Ignore) -and (Get-Command npm -ErrorAction Ignore)) {
        Write-Step 'npm install -g pm2@7.0.4'
        & npm install -g --no-audit --no-fund pm2@7.0.4
        if ($LASTEXITCODE -ne 0 -and $isRoot) { throw "npm install -g pm2 failed with exit code $LASTEXITCODE." }
    }
    # Root or not: every program the tests (or the demo) start must be here now, or one message says how
    # to install them all, before any test runs.
    if ($IsLinux) { Assert-VaultTestProgram -Sudo:(-not $isRoot) -Demo:$Demo }

    Invoke-Native dotnet @('restore', "$Root/YieldVault.Ops.sln", '--nologo', '-v', 'q') -What 'dotnet restore'
    Invoke-Native dotnet @('restore', "$Root/build/tools/tools.csproj", '--nologo', '-v', 'q') -What 'dotnet restore (Pester)'
    if (-not (Test-Path -LiteralPath $PesterManifest)) {
        throw "Pester 6.2.0 was not restored to $PesterManifest."
    }
}

function Invoke-Build {
    Write-Step "Build $Version ($Configuration)"
    $staging = Join-Path $OutRoot 'staging'
    if (Test-Path $staging) { Remove-Item -Recurse -Force $staging }
    foreach ($project in 'YieldVault.Ops', 'YieldVault.Ops.Loader', 'YieldVault.Ops.Postgres') {
        $arguments = @('build', "$Root/src/$project/$project.csproj", '-c', $Configuration, '--nologo', '-v', 'q',
            '-o', (Join-Path $staging $project), "-p:Version=$Version", '-p:CopyLocalLockFileAssemblies=true') + $ArtifactsArgs
        Invoke-Native dotnet $arguments -What "dotnet build $project"
    }

    if (Test-Path $ModuleOut) { Remove-Item -Recurse -Force $ModuleOut }
    $bin = New-Item -ItemType Directory -Force -Path (Join-Path $ModuleOut 'bin')
    # Only the loader sits next to the manifest; the cmdlets, the engine and every dependency go to
    # bin/, from where the module's own AssemblyLoadContext loads them (src/YieldVault.Ops.Loader).
    Copy-Item -LiteralPath (Join-Path $staging 'YieldVault.Ops.Loader/YieldVault.Ops.Loader.dll') -Destination $ModuleOut
    Get-ChildItem -LiteralPath (Join-Path $staging 'YieldVault.Ops') -File | Where-Object {
        $_.Name -notlike '*.deps.json' -and $_.Name -notin 'System.Management.Automation.dll', 'System.Runtime.Loader.dll'
    } | Copy-Item -Destination $bin
    # The PostgreSQL check (net8.0, Npgsql) and its dependencies; where it shares a dependency with the
    # rest, the newer file wins (the module's load context serves one copy of each).
    function Get-FileVersion([string] $Path) { $v = (Get-Item -LiteralPath $Path).VersionInfo.FileVersion; if ($v) { [Version]$v } else { [Version]'0.0' } }
    Get-ChildItem -LiteralPath (Join-Path $staging 'YieldVault.Ops.Postgres') -File -Filter *.dll | Where-Object { $_.Name -notlike 'YieldVault.Ops.Core.*' } |
        ForEach-Object {
            $existing = Join-Path $bin $_.Name
            if (-not (Test-Path -LiteralPath $existing) -or ((Get-FileVersion $_.FullName) -gt (Get-FileVersion $existing))) {
                Copy-Item -LiteralPath $_.FullName -Destination $bin -Force
            }
        }
    foreach ($file in 'YieldVault.Ops.psd1', 'src/YieldVault.Ops/YieldVault.Ops.psm1', 'src/YieldVault.Ops/YieldVault.Ops.Format.ps1xml') {
        Copy-Item -LiteralPath (Join-Path $Root $file) -Destination $ModuleOut
    }
    Remove-Item -Recurse -Force $staging
    Invoke-Docs
    Write-Host "Module laid out in $ModuleOut"
}

function Invoke-Docs {
    Write-Step 'Docs (markdown -> MAML)'
    $null = & "$Root/build/Convert-VaultHelpMarkdown.ps1" -DocsPath "$Root/docs/en-US" -OutputPath (Join-Path $ModuleOut 'en-US')
}

function Get-XunitCounts([string] $TrxPath) {
    [xml] $trx = Get-Content -LiteralPath $TrxPath -Raw
    $counters = $trx.TestRun.ResultSummary.Counters
    $ns = [System.Xml.XmlNamespaceManager]::new($trx.NameTable)
    $ns.AddNamespace('t', $trx.DocumentElement.NamespaceURI)
    $failures = @(foreach ($r in $trx.SelectNodes("//t:UnitTestResult[@outcome!='Passed']", $ns)) {
            $message = [string]$r.SelectSingleNode('t:Output/t:ErrorInfo/t:Message', $ns).InnerText
            $lines = @($message -split "`r?`n" | Where-Object { $_.Trim() } | Select-Object -First 6) -join "`n"
            [pscustomobject]@{ Name = "xunit: $($r.testName) ($($r.outcome))"; Reason = $(if ($lines.Length -gt 900) { $lines.Substring(0, 900) + ' ...' } else { $lines }) }
        })
    [pscustomobject]@{ Passed = [int]$counters.passed; Failed = [int]$counters.failed + [int]$counters.error + [int]$counters.timeout + [int]$counters.aborted; NotRun = [int]$counters.notExecuted; Failures = $failures }
}

# The failures again, each with the first lines of its reason, just above the last line: a CI log keeps only its tail.
function Write-FailureRecap([object[]] $Failures) {
    if (-not $Failures) { return }
    Write-Host ''
    Write-Host "What failed ($($Failures.Count)):" -ForegroundColor Red
    foreach ($f in $Failures | Select-Object -First 40) {
        Write-Host "  - $($f.Name)" -ForegroundColor Red
        foreach ($line in ([string]$f.Reason -split "`n")) { if ($line) { Write-Host "      $line" } }
    }
    if ($Failures.Count -gt 40) { Write-Host "  ... and $($Failures.Count - 40) more (tests/results)" }
}

# The suites that use the Docker engine (dockerd, the systemd app-server container, the swarm, the registry) run in one
# lane, the others (PM2, sshd, nginx, PostgreSQL on this machine) in a second lane at the same time: they share no
# service (every suite starts its own on free ports, with its own PM2_HOME), and most of a suite's time is waiting
# (health checks, timeouts, builds), so two lanes on two cores take about 60% of one. A few PM2 suites join the
# engine lane to even the lanes out.
$EngineLane = @(
    'AnyBackend', 'BlueGreen.Docker', 'BlueGreen.Systemd', 'Docker', 'Invoke-VaultDeployment.Docker', 'Swarm', 'Systemd',
    'BlueGreen', 'Roll', 'OnCall', 'OnCall.Terminal', 'Invoke-VaultRunbookTest', 'Send-VaultNotification',
    # Kills the engine (a torn-down machine's leftovers): last in this lane by name, and never beside a Docker suite.
    'TestServices.Docker'
)

function Get-PesterLanes {
    $files = @(Get-ChildItem -LiteralPath "$Root/tests/pester" -Filter '*.Tests.ps1' | Sort-Object Name)
    $engine = @($files | Where-Object { $_.Name -replace '\.Tests\.ps1$', '' -in $EngineLane } | ForEach-Object FullName)
    $hosts = @($files | Where-Object { $_.Name -replace '\.Tests\.ps1$', '' -notin $EngineLane } | ForEach-Object FullName)
    @{ Name = 'hosts'; Files = $hosts }, @{ Name = 'engine'; Files = $engine }
}

# Runs each lane in a fresh pwsh of its own (Invoke-PesterSuite.ps1, its own results folder, transcript and secret scan);
# the first lane writes to this console as it runs, the others to a log that is shown when they end. Returns each
# lane's counts (a lane that did not finish counts as one failure).
function Invoke-PesterLanes([object[]] $Lanes) {
    $pwsh = Join-Path $PSHOME 'pwsh'
    $runs = foreach ($lane in $Lanes) {
        $dir = if ($Lanes.Count -eq 1) { $ResultsDir } else { Join-Path $ResultsDir "pester-$($lane.Name)" }
        New-Item -ItemType Directory -Force -Path $dir | Out-Null
        $summary = Join-Path $dir 'pester-summary.json'
        Remove-Item -LiteralPath $summary -ErrorAction Ignore
        $arguments = @('-NoProfile', '-NonInteractive', '-File', "$Root/tests/Invoke-PesterSuite.ps1",
            '-ModuleManifest', (Join-Path $ModuleOut 'YieldVault.Ops.psd1'), '-PesterManifest', $PesterManifest, '-ResultsDirectory', $dir)
        if ($lane.Files) { $arguments += @('-TestPath', ($lane.Files -join ',')) }
        [pscustomobject]@{ Lane = $lane; Dir = $dir; Summary = $summary; Arguments = $arguments; Process = $null; Log = Join-Path $dir 'pester-console.log' }
    }
    $runs = @($runs)
    foreach ($run in $runs | Select-Object -Skip 1) {
        Write-Step "Pester lane '$($run.Lane.Name)' ($(@($run.Lane.Files).Count) files, in the background; its output follows the first lane's)"
        $run.Process = Start-Process -FilePath $pwsh -ArgumentList $run.Arguments -RedirectStandardOutput $run.Log -RedirectStandardError "$($run.Log).err" -PassThru
    }
    $first = $runs[0]
    Write-Step $(if ($runs.Count -gt 1) { "Pester lane '$($first.Lane.Name)' ($(@($first.Lane.Files).Count) files)" } else { 'Pester (fresh pwsh, built module)' })
    & $pwsh @($first.Arguments) | Out-Host
    foreach ($run in $runs | Select-Object -Skip 1) {
        # Bounded: a lane that hangs is killed and counts as failed (each suite bounds its own waits well below this).
        if (-not $run.Process.WaitForExit(40 * 60 * 1000)) { $run.Process.Kill($true); Write-Host "Pester lane '$($run.Lane.Name)' did not end within 40 min" -ForegroundColor Red }
        $run.Process.WaitForExit()
        Write-Step "Pester lane '$($run.Lane.Name)': its output"
        Get-Content -LiteralPath $run.Log, "$($run.Log).err" -ErrorAction Ignore | ForEach-Object { Write-Host $_ }
    }
    foreach ($run in $runs) {
        if (Test-Path -LiteralPath $run.Summary) {
            $p = Get-Content -LiteralPath $run.Summary -Raw | ConvertFrom-Json
            Write-Host "Pester ($($run.Lane.Name)): $($p.Passed) passed, $($p.Failed) failed, $($p.Skipped) skipped, $($p.NotRun) not run, $($p.ContainerFailed) files failed"
            $failures = @(if ($p.PSObject.Properties['Failures']) { $p.Failures | ForEach-Object { [pscustomobject]@{ Name = "Pester ($($run.Lane.Name)): $($_.Name)"; Reason = $_.Reason } } })
            [pscustomobject]@{ Passed = [int]$p.Passed; Failed = [int]($p.Failed + $p.Skipped + $p.NotRun + $p.ContainerFailed); Failures = $failures }
        }
        else {
            Write-Host "Pester ($($run.Lane.Name)): the run did not finish" -ForegroundColor Red
            [pscustomobject]@{ Passed = 0; Failed = 1; Failures = @([pscustomobject]@{ Name = "Pester ($($run.Lane.Name))"; Reason = "the run did not finish; its log: $($run.Log)" }) }
        }
    }
}

function Invoke-Test {
    if (-not $SkipBootstrap) { Invoke-Bootstrap }
    Invoke-Build
    New-Item -ItemType Directory -Force -Path $ResultsDir | Out-Null
    $passed = 0
    $failed = 0
    $failures = [System.Collections.Generic.List[object]]::new()

    if (-not $SkipXunit) {
        Write-Step 'xunit (YieldVault.Ops.Core.Tests)'
        $trx = Join-Path $ResultsDir 'xunit.trx'
        Remove-Item -LiteralPath $trx -ErrorAction Ignore
        & dotnet test "$Root/tests/YieldVault.Ops.Core.Tests/YieldVault.Ops.Core.Tests.csproj" -c $Configuration --nologo -v q @ArtifactsArgs `
            --logger "trx;LogFileName=xunit.trx" --logger 'console;verbosity=minimal' --results-directory $ResultsDir
        $xunitExit = $LASTEXITCODE
        if (Test-Path -LiteralPath $trx) {
            $x = Get-XunitCounts $trx
            $passed += $x.Passed
            $failed += $x.Failed + $x.NotRun
            foreach ($f in $x.Failures) { $failures.Add($f) }
            Write-Host "xunit: $($x.Passed) passed, $($x.Failed) failed, $($x.NotRun) not run"
        }
        elseif ($xunitExit -ne 0) {
            Write-Host 'xunit: the test project did not build or run' -ForegroundColor Red
            $failed += 1
            $failures.Add([pscustomobject]@{ Name = 'xunit'; Reason = 'the test project did not build or run (see above)' })
        }
    }

    $lanes = if ($TestPath -or $SerialPester) { , @{ Name = 'all'; Files = $TestPath } } else { Get-PesterLanes }
    foreach ($p in (Invoke-PesterLanes $lanes)) {
        $passed += $p.Passed
        $failed += $p.Failed
        foreach ($f in $p.Failures) { $failures.Add($f) }
    }
    Write-FailureRecap $failures

    # The one line CI reads: both runners added up. Skipped tests count as failed: a needed service
    # that is missing must not pass silently.
    Write-Host ''
    Write-Host "Tests: $passed passed, $failed failed"
    if ($failed -gt 0) { exit 1 }
}

function Invoke-Demo {
    if (-not $SkipBootstrap) { Invoke-Bootstrap -Demo }
    Invoke-Build
    & "$Root/examples/demo.ps1" -ModuleManifest (Join-Path $ModuleOut 'YieldVault.Ops.psd1')
    if (-not $?) { exit 1 }
}

function Invoke-Bench {
    if (-not $SkipBootstrap) { Invoke-Bootstrap }
    Invoke-Build
    Write-Step 'Bench (fresh pwsh, built module)'
    & (Join-Path $PSHOME 'pwsh') -NoProfile -NonInteractive -File "$Root/bench/Invoke-Benchmarks.ps1" -ModuleManifest (Join-Path $ModuleOut 'YieldVault.Ops.psd1')
    if ($LASTEXITCODE -ne 0) { exit 1 }
}

function Invoke-Clean {
    Write-Step 'Clean'
    foreach ($path in @('out', 'tests/results') + (Get-ChildItem -Path "$Root/src", "$Root/tests" -Directory -Recurse -Include bin, obj -ErrorAction Ignore |
                ForEach-Object FullName)) {
        $full = if ([IO.Path]::IsPathRooted($path)) { $path } else { Join-Path $Root $path }
        if (Test-Path -LiteralPath $full) { Remove-Item -LiteralPath $full -Recurse -Force }
    }
}

foreach ($name in $Task) {
    switch ($name) {
        'Bootstrap' { Invoke-Bootstrap }
        'Build' { Invoke-Build }
        'Docs' { Invoke-Docs }
        'Test' { Invoke-Test }
        'Demo' { Invoke-Demo }
        'Bench' { Invoke-Bench }
        'Clean' { Invoke-Clean }
    }
}
