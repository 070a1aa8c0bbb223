<#
.SYNOPSIS
    Status fan-out: Get-VaultBackendStatus for 1 target vs 20 targets over SSH (issue 14's goal: 20 targets within
    2x of one target), in two modes:
      shared   - 20 targets on one SSH server and account (a targets file of 20 backends on the sshd on
                 127.0.0.1): the session's pool reuses one connection, commands and probes are channels on it;
      separate - every target gets its own SSH connection (its own known_hosts copy defeats the pool), as 20
                 servers would; here all 20 "servers" share this machine's 2 cores, so this measures the
                 handshake cost more than the fan-out.
    Each run uses fresh connections (new known_hosts copies), so runs do not reuse each other's connections.
#>
param(
    [Parameter(Mandatory)] [string] $ModuleManifest,
    [int] $Targets = 20,
    [int] $Runs = 3,
    [int] $ThrottleLimit = 8,
    [ValidateSet('shared', 'separate')] [string[]] $Mode = @('shared', 'separate'),
    [string] $OutFile = (Join-Path $PSScriptRoot 'results/status-fanout.json')
)
$ErrorActionPreference = 'Stop'
$root = Split-Path -Parent $PSScriptRoot
Import-Module (Join-Path $root 'tests/services/YieldVault.TestServices.psm1') -Force
Import-Module $ModuleManifest -Force

$stack = Start-TestBackendStack
$sshd = Start-TestSshd
$work = Join-Path ([IO.Path]::GetTempPath()) ("yv-bench-fanout-" + [guid]::NewGuid().ToString('N').Substring(0, 8))
New-Item -ItemType Directory -Path $work | Out-Null
try {
    function New-Targets([int] $Count, [string] $Tag, [string] $How) {
        $shared = Join-Path $work "known_hosts-$Tag"
        Copy-Item -LiteralPath $sshd.KnownHostsFile -Destination $shared
        1..$Count | ForEach-Object {
            $known = if ($How -eq 'shared') { $shared } else { Join-Path $work "known_hosts-$Tag-$_" }
            if (-not (Test-Path -LiteralPath $known)) { Copy-Item -LiteralPath $sshd.KnownHostsFile -Destination $known }
            New-VaultTarget -Name "bench-$Tag-$_" -HostName $sshd.HostName -SshPort $sshd.Port -User $sshd.User -KeyFile $sshd.UserKeyFile `
                -KnownHostsFile $known -Port $stack.Port -AppPath '/tmp' -ServiceManager Pm2 -Pm2Home '/tmp/yv-bench-pm2-none'
        }
    }

    # A target that answers late or not at all is a finding, not a reason to stop: it is counted and reported.
    function Measure-Once([int] $Count, [string] $Tag, [string] $How) {
        $targets = New-Targets $Count $Tag $How
        $watch = [Diagnostics.Stopwatch]::StartNew()
        $results = @($targets | Get-VaultBackendStatus -ThrottleLimit $ThrottleLimit)
        $watch.Stop()
        if ($results.Count -ne $Count) { throw "Run $Tag returned $($results.Count) results for $Count targets." }
        $bad = @($results | Where-Object { -not $_.Healthy })
        [pscustomobject]@{
            Ms        = $watch.Elapsed.TotalMilliseconds
            Unhealthy = $bad.Count
            Problem   = @($bad | Select-Object -First 1 | ForEach-Object { "$($_.State); $($_.Problems -join '; ')" })[0]
        }
    }

    $null = Measure-Once 1 'warmup' 'shared'   # JIT and first-use costs out of the figures
    function Median([double[]] $v) { $s = $v | Sort-Object; $s[[int][math]::Floor(($s.Count - 1) / 2)] }
    function Get-Load { if (Test-Path /proc/loadavg) { ((Get-Content -Raw /proc/loadavg).Trim() -split '\s+')[0..2] -join ' ' } }
    $result = foreach ($how in $Mode) {
        $loadBefore = Get-Load
        $one = @(1..$Runs | ForEach-Object { Measure-Once 1 "$how-one$_" $how })
        $many = @(1..$Runs | ForEach-Object { Measure-Once $Targets "$how-many$_" $how })
        [ordered]@{
            scenario          = "status-fanout-ssh-$how"
            runs              = $Runs
            targets           = $Targets
            throttle_limit    = $ThrottleLimit
            one_ms_median     = [math]::Round((Median $one.Ms), 1)
            many_ms_median    = [math]::Round((Median $many.Ms), 1)
            one_ms            = @($one | ForEach-Object { [math]::Round($_.Ms, 1) })
            many_ms           = @($many | ForEach-Object { [math]::Round($_.Ms, 1) })
            ratio_many_to_one = [math]::Round((Median $many.Ms) / (Median $one.Ms), 2)
            # Targets per run whose status came back without a healthy /health (e.g. no answer in 10 s).
            one_unhealthy     = @($one.Unhealthy)
            many_unhealthy    = @($many.Unhealthy)
            first_problem     = @($one + $many | Where-Object Problem | ForEach-Object Problem | Select-Object -First 1)[0]
            # Load average (1/5/15 min) before and after the mode's runs: the machine is shared with other test runs.
            load_before       = $loadBefore
            load_after        = Get-Load
            measured_at       = (Get-Date).ToUniversalTime().ToString('o')
        }
    }
    New-Item -ItemType Directory -Force -Path (Split-Path -Parent $OutFile) | Out-Null
    ConvertTo-Json -InputObject @($result) | Set-Content -LiteralPath $OutFile
    $result | ForEach-Object { [pscustomobject]$_ }
}
finally {
    Stop-TestSshd $sshd
    Stop-TestBackendStack $stack
    Stop-AllTestServices
    Remove-Item -LiteralPath $work -Recurse -Force -ErrorAction Ignore
}
