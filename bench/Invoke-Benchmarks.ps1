#Requires -Version 7.2
<#
.SYNOPSIS
    The runbook followed as written (bench/runbook-as-written.sh) against the module's default deployment, side
    by side on one sample-backend setup, with an external /health prober; writes bench/results/latest.json and
    docs/benchmarks.md.
.DESCRIPTION
    One process sets up PostgreSQL, the Stellar RPC stand-in and the sample origin (tests/services), then two
    v1.2.3 checkouts of the sample backend, each run by its own PM2 daemon (own PM2_HOME, app name
    yieldvault-backend, started the same way): one for the runbook script, one for the module. Then, N times,
    alternating which goes first (ABBA) so both see similar machine load:
      baseline: runbook-as-written.sh deploy (v1.2.3 -> v1.3.0), then runbook-as-written.sh rollback;
      module:   Invoke-VaultDeployment -Ref v1.3.0, then Undo-VaultDeployment -Force.
    A warm-up cycle of each comes first and is not counted (the module's first deployment adopts the plain
    checkout into releases/ and clones its git cache once; npm's cache is warmed for both).

    During every operation an external prober (a runspace of this process with its own HttpClient) requests
    /health every -ProbeIntervalMs and, on each failure->success transition and every ~1 s, /api/v1/version.
    From its probes: downtime (sum of outages, each from the first failed probe to the next good one, the
    module's own DowntimeMonitor rule), failed probes, and the time from the start to the first good probe
    of the expected version (deploy: v1.3.0's commit; rollback: v1.2.3's). A sampler thread reads
    /proc/<this pid>/task/*/children every ~2 ms and records every child process (what it runs, first/last
    seen); the module's overhead is its wall time minus the time at least one git, npm or pm2 child ran.

    Bench/Measure-Import.ps1 and bench/Measure-StatusFanOut.ps1 run afterwards in their own pwsh (they start
    and stop their own services) and their figures are merged in. Everything started is stopped at the end,
    also on failure or Ctrl+C (pm2 kill with each PM2_HOME, Stop-TestStellarRpc, Stop-TestPostgres).
.EXAMPLE
    pwsh ./bench/Invoke-Benchmarks.ps1 -ModuleManifest /tmp/yv-bench/YieldVault.Ops/0.1.0/YieldVault.Ops.psd1 -Runs 3
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory)] [string] $ModuleManifest,
    [ValidateRange(1, 15)] [int] $Runs = 3,
    [ValidateRange(10, 200)] [int] $ProbeIntervalMs = 25,
    # Bound of one deployment or rollback (either kind); a run that exceeds it is stopped and counted as failed.
    [ValidateRange(60, 1800)] [int] $OperationTimeoutSec = 600,
    [switch] $NoWarmUp,
    [switch] $SkipImport,
    [switch] $SkipFanOut,
    [string] $ResultsDirectory = (Join-Path $PSScriptRoot 'results'),
    [string] $DocPath = (Join-Path (Split-Path -Parent $PSScriptRoot) 'docs/benchmarks.md'),
    # Write latest.json and the doc from the raw.json of an earlier run instead of measuring.
    [string] $FromRaw
)
trap { Write-Host "at $($_.InvocationInfo.ScriptName):$($_.InvocationInfo.ScriptLineNumber): $($_.InvocationInfo.Line.Trim())" -ForegroundColor Red; break }
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
$root = Split-Path -Parent $PSScriptRoot
$ModuleManifest = (Resolve-Path -LiteralPath $ModuleManifest).Path
$RunbookScript = Join-Path $PSScriptRoot 'runbook-as-written.sh'
$pwsh = Join-Path $PSHOME 'pwsh'
Import-Module (Join-Path $root 'tests/services/YieldVault.TestServices.psm1') -Force

function Say([string] $Text) { Write-Host "[bench $([DateTime]::UtcNow.ToString('HH:mm:ss'))] $Text" -ForegroundColor Cyan }

#region child-process sampler (C#: a 2 ms loop in PowerShell would cost more than it measures)
if (-not ('YvBench.ChildSampler' -as [type])) {
    Add-Type -TypeDefinition @'
using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Threading;

namespace YvBench
{
    public sealed class ChildSpan
    {
        public int Pid;
        public double StartMs;
        public double EndMs;
        public string[] Argv = new string[0];
    }

    /// <summary>Direct children of one process, sampled from /proc/PID/task/*/children.</summary>
    public sealed class ChildSampler
    {
        private readonly int _pid;
        private readonly Stopwatch _clock;
        private readonly int _periodMs;
        private readonly string _self;
        private readonly Dictionary<int, ChildSpan> _live = new Dictionary<int, ChildSpan>();
        private readonly List<ChildSpan> _done = new List<ChildSpan>();
        private readonly HashSet<int> _ignore = new HashSet<int>();
        private Thread _thread;
        private volatile bool _stop;
        public int Samples;

        public ChildSampler(int pid, Stopwatch clock, int periodMs)
        {
            _pid = pid; _clock = clock; _periodMs = periodMs;
            _self = ReadCmd(pid);
        }

        public void Start()
        {
            // Children that run already (the Stellar RPC stand-in, ...) are not part of what is measured.
            foreach (var child in Scan()) { _ignore.Add(child); }
            _thread = new Thread(Loop) { IsBackground = true, Name = "yv-bench-sampler", Priority = ThreadPriority.AboveNormal };
            _thread.Start();
        }

        public ChildSpan[] Stop()
        {
            _stop = true;
            _thread.Join();
            foreach (var span in _live.Values) { _done.Add(span); }
            _live.Clear();
            return _done.ToArray();
        }

        private List<int> Scan()
        {
            var list = new List<int>();
            string[] tasks;
            try { tasks = Directory.GetDirectories("/proc/" + _pid + "/task"); } catch { return list; }
            foreach (var task in tasks)
            {
                string text;
                try { text = File.ReadAllText(task + "/children"); } catch { continue; }
                foreach (var part in text.Split(new[] { ' ', '\n' }, StringSplitOptions.RemoveEmptyEntries))
                {
                    int child;
                    if (int.TryParse(part, out child)) { list.Add(child); }
                }
            }
            return list;
        }

        private static string ReadCmd(int pid)
        {
            try { return File.ReadAllText("/proc/" + pid + "/cmdline"); } catch { return ""; }
        }

        private void Loop()
        {
            string[] tasks = new string[0];
            double refreshed = -1000, previous = _clock.Elapsed.TotalMilliseconds;
            var seen = new HashSet<int>();
            var ended = new List<int>();
            while (!_stop)
            {
                var now = _clock.Elapsed.TotalMilliseconds;
                if (now - refreshed > 20)
                {
                    try { tasks = Directory.GetDirectories("/proc/" + _pid + "/task"); } catch { }
                    refreshed = now;
                }
                seen.Clear();
                foreach (var task in tasks)
                {
                    string text;
                    try { text = File.ReadAllText(task + "/children"); } catch { continue; }
                    foreach (var part in text.Split(new[] { ' ', '\n' }, StringSplitOptions.RemoveEmptyEntries))
                    {
                        int child;
                        if (int.TryParse(part, out child) && !_ignore.Contains(child)) { seen.Add(child); }
                    }
                }
                now = _clock.Elapsed.TotalMilliseconds;
                // A span starts half-way between the sample that missed it and the one that saw it; same at the end.
                var edge = (previous + now) / 2;
                foreach (var child in seen)
                {
                    ChildSpan span;
                    if (!_live.TryGetValue(child, out span))
                    {
                        span = new ChildSpan { Pid = child, StartMs = edge };
                        _live[child] = span;
                    }
                    span.EndMs = now;
                    if (span.Argv.Length == 0 || span.Argv[0].Length == 0 || string.Join("\0", span.Argv) + "\0" == _self)
                    {
                        // Until execve the child is a copy of this process; read again on the next sample.
                        var cmd = ReadCmd(child);
                        if (cmd.Length > 0 && cmd != _self) { span.Argv = cmd.TrimEnd('\0').Split('\0'); }
                    }
                }
                ended.Clear();
                foreach (var pair in _live) { if (!seen.Contains(pair.Key)) { ended.Add(pair.Key); } }
                foreach (var child in ended)
                {
                    var span = _live[child];
                    span.EndMs = (span.EndMs + now) / 2;
                    _done.Add(span);
                    _live.Remove(child);
                }
                previous = now;
                Samples++;
                Thread.Sleep(_periodMs);
            }
        }
    }
}
'@
}
#endregion

#region prober (a runspace with its own HttpClient; bounded by MaxMs and by Stop)
$ProberScript = {
    param($State)
    $handler = [System.Net.Http.SocketsHttpHandler]::new()
    $handler.UseProxy = $false
    $handler.AllowAutoRedirect = $false
    $handler.ConnectTimeout = [TimeSpan]::FromMilliseconds(1000)
    $client = [System.Net.Http.HttpClient]::new($handler)
    $client.Timeout = [TimeSpan]::FromMilliseconds(1000)
    $clock = $State.Clock
    $t = [System.Collections.Generic.List[double]]::new()
    $code = [System.Collections.Generic.List[int]]::new()
    $latency = [System.Collections.Generic.List[double]]::new()
    $versions = [System.Collections.Generic.List[object]]::new()
    $previousOk = $false
    $sinceVersion = 0
    while (-not $State.Stop -and $clock.Elapsed.TotalMilliseconds -lt $State.MaxMs) {
        $start = $clock.Elapsed.TotalMilliseconds
        $status = 0
        try {
            $response = $client.GetAsync($State.HealthUrl).GetAwaiter().GetResult()
            $status = [int]$response.StatusCode
            $response.Dispose()
        }
        catch {
            # -1 refused / reset, -2 no answer within 1 s
            $status = if ("$($_.Exception)" -match 'TaskCanceled|Timeout') { -2 } else { -1 }
        }
        $t.Add($start); $code.Add($status); $latency.Add($clock.Elapsed.TotalMilliseconds - $start)
        $ok = $status -eq 200
        $sinceVersion++
        if ($ok -and (-not $previousOk -or $sinceVersion -ge $State.VersionEvery)) {
            $sinceVersion = 0
            try {
                $v = $client.GetStringAsync($State.VersionUrl).GetAwaiter().GetResult() | ConvertFrom-Json
                $versions.Add([pscustomobject]@{ T = $start; Version = [string]$v.version; Commit = [string]$v.commit })
            }
            catch { $versions.Add([pscustomobject]@{ T = $start; Version = $null; Commit = $null }) }
        }
        $previousOk = $ok
        $rest = $State.IntervalMs - ($clock.Elapsed.TotalMilliseconds - $start)
        if ($rest -gt 0) { [System.Threading.Thread]::Sleep([int][math]::Ceiling($rest)) }
    }
    $client.Dispose()
    [pscustomobject]@{ T = $t.ToArray(); Code = $code.ToArray(); Latency = $latency.ToArray(); Versions = $versions.ToArray() }
}

function Start-Prober([int] $Port, [Diagnostics.Stopwatch] $Clock) {
    $state = [hashtable]::Synchronized(@{
            Clock = $Clock; Stop = $false; IntervalMs = $ProbeIntervalMs; VersionEvery = [math]::Max(1, [int](1000 / $ProbeIntervalMs))
            MaxMs = $Clock.Elapsed.TotalMilliseconds + ($OperationTimeoutSec + 60) * 1000
            HealthUrl = "http://127.0.0.1:$Port/health"; VersionUrl = "http://127.0.0.1:$Port/api/v1/version"
        })
    $ps = [powershell]::Create()
    $ps.Runspace = [runspacefactory]::CreateRunspace()
    $ps.Runspace.Open()
    $null = $ps.AddScript($ProberScript).AddArgument($state)
    [pscustomobject]@{ State = $state; PowerShell = $ps; Async = $ps.BeginInvoke() }
}

function Stop-Prober($Prober) {
    $Prober.State.Stop = $true
    try {
        if (-not $Prober.Async.AsyncWaitHandle.WaitOne(10000)) { $Prober.PowerShell.Stop() }
        $out = $Prober.PowerShell.EndInvoke($Prober.Async)
        @($out)[0]
    }
    finally {
        $Prober.PowerShell.Runspace.Dispose()
        $Prober.PowerShell.Dispose()
    }
}
#endregion

#region statistics and analysis helpers
function Get-Median([double[]] $Values) {
    if ($null -eq $Values -or $Values.Count -eq 0) { return $null }
    $s = [double[]]($Values | Sort-Object)
    $n = $s.Count
    if ($n % 2) { $s[($n - 1) / 2] } else { ($s[$n / 2 - 1] + $s[$n / 2]) / 2 }
}

function Rnd([object] $Value, [int] $Digits = 0) { if ($null -eq $Value) { $null } else { [math]::Round([double]$Value, $Digits) } }

# Outages as [from, to] pairs: from the first failed probe to the next good one (or the end of probing).
function Get-Outages($Probe, [double] $From, [double] $Until) {
    $list = [System.Collections.Generic.List[double[]]]::new()
    $open = $null
    for ($i = 0; $i -lt $Probe.T.Count; $i++) {
        $t = $Probe.T[$i]
        if ($t -lt $From) { continue }
        if ($Probe.Code[$i] -ne 200) { if ($null -eq $open) { $open = $t } }
        elseif ($null -ne $open) { $list.Add([double[]]@($open, $t)); $open = $null }
    }
    if ($null -ne $open) { $list.Add([double[]]@($open, $Until)) }
    , $list.ToArray()
}

# Total length of the union of [start, end] intervals.
function Get-UnionMs([object[]] $Intervals) {
    $total = 0.0; $curStart = $null; $curEnd = $null
    foreach ($iv in @($Intervals | Where-Object { $_[1] -gt $_[0] } | Sort-Object { $_[0] })) {
        if ($null -eq $curStart) { $curStart = $iv[0]; $curEnd = $iv[1]; continue }
        if ($iv[0] -le $curEnd) { $curEnd = [math]::Max($curEnd, $iv[1]) }
        else { $total += $curEnd - $curStart; $curStart = $iv[0]; $curEnd = $iv[1] }
    }
    if ($null -ne $curStart) { $total += $curEnd - $curStart }
    $total
}

function Get-Clipped([object[]] $Intervals, [double] $From, [double] $To) {
    , @($Intervals | ForEach-Object { , [double[]]@([math]::Max($_[0], $From), [math]::Min($_[1], $To)) } | Where-Object { $_[1] -gt $_[0] })
}

# What a child process was, in a few words: "pm2 stop", "npm run migrate", "git clone", "sh: journal append" ...
function Get-ChildLabel([string[]] $Argv) {
    if (-not $Argv -or $Argv.Count -eq 0 -or -not $Argv[0]) { return 'unknown (exited before exec was seen)' }
    $exe = [IO.Path]::GetFileName($Argv[0])
    if ($exe -in 'sh', 'bash', 'dash' -and $Argv.Count -ge 3 -and $Argv[1] -eq '-c') {
        $s = $Argv[2]
        # RunbookOperations' migration wrapper: sh -c <script> sh <dir> <command...>
        if ($s -match 'spawnSync\(process\.argv\[1\]') { return (@($Argv | Select-Object -Skip 5) -join ' ') }
        switch -Regex ($s) {
            'pm2 jlist' { return 'pm2 jlist' }
            'pm2 save' { return 'pm2 save' }
            '(^|[\s;&|(])npm\s' { return 'npm (sh)' }
            'ss -Htln' { return 'sh: process gone / port free check' }
            'printf .*>> "\$1"' { return 'sh: journal / record append' }
            'ln -sfn' { return 'sh: link switch / env link' }
            'git clone --quiet --shared' { return 'git clone + checkout (release)' }
            'git --git-dir=.*fetch|git clone --quiet --mirror' { return 'git fetch (cache)' }
            '(^|[\s;&|(])git\s' { return 'git (other)' }
            'kill -0|pm2\.pid' { return 'pm2 jlist' }
            default { return 'sh: other module helper' }
        }
    }
    # npm, pm2 and node scripts are exec'd as "node /usr/bin/<tool> ..."
    $words = @($Argv | Select-Object -Skip 1)
    if ($exe -eq 'env' -and $words.Count -gt 0) { $exe = [IO.Path]::GetFileName($words[0]); $words = @($words | Select-Object -Skip 1) }
    if ($exe -eq 'node' -and $words.Count -gt 0) { $exe = [IO.Path]::GetFileName($words[0]); $words = @($words | Select-Object -Skip 1) }
    $verb = @($words | Where-Object { $_ -notlike '-*' } | Select-Object -First 1)
    switch -Regex ($exe) {
        '^npm(-cli\.js)?$' { if ($verb -and $verb[0] -eq 'run') { return "npm run $(@($words | Where-Object { $_ -notlike '-*' })[1])" } return "npm $verb" }
        '^pm2$' { return "pm2 $verb" }
        '^git$' { return "git $verb" }
        default { return $exe }
    }
}

function Get-ChildCategory([string] $Label) {
    switch -Regex ($Label) {
        '^pm2' { 'pm2' } '^npm' { 'npm' } '^git' { 'git' } default { 'helper' }
    }
}
#endregion

#region setup helpers
function Invoke-Checked([string] $FilePath, [string[]] $ArgumentList, [string] $WorkingDirectory, [hashtable] $Environment = @{}) {
    $psi = [System.Diagnostics.ProcessStartInfo]::new($FilePath)
    foreach ($a in $ArgumentList) { $psi.ArgumentList.Add($a) }
    if ($WorkingDirectory) { $psi.WorkingDirectory = $WorkingDirectory }
    $psi.RedirectStandardOutput = $true; $psi.RedirectStandardError = $true; $psi.UseShellExecute = $false
    foreach ($k in $Environment.Keys) { $psi.Environment[$k] = $Environment[$k] }
    $p = [System.Diagnostics.Process]::Start($psi)
    $o = $p.StandardOutput.ReadToEndAsync(); $e = $p.StandardError.ReadToEndAsync()
    if (-not $p.WaitForExit(120000)) { $p.Kill($true); throw "$FilePath $($ArgumentList -join ' ') did not finish in 120 s" }
    $p.WaitForExit()
    if ($p.ExitCode -ne 0) { throw "$FilePath $($ArgumentList -join ' ') failed ($($p.ExitCode)): $($e.Result)$($o.Result)" }
    $o.Result
}

# pm2 with a clean environment (PATH, HOME, PM2_HOME only), the same for both daemons.
function Invoke-Pm2([string] $Pm2Home, [string[]] $ArgumentList, [string] $WorkingDirectory = '/') {
    Invoke-Checked -FilePath '/usr/bin/env' -WorkingDirectory $WorkingDirectory -ArgumentList (@('-i', "PATH=$env:PATH", "HOME=$HOME", "PM2_HOME=$Pm2Home", 'pm2') + $ArgumentList)
}

function New-BenchApp([string] $Name, [string] $Origin, $Postgres, $Rpc) {
    $dir = Join-Path $work $Name
    New-Item -ItemType Directory -Path $dir, (Join-Path $dir 'logs') | Out-Null
    # Named like the runbook's /app/yieldvault-backend.
    $app = New-TestSampleCheckout -Origin $Origin -Ref v1.2.3 -Path (Join-Path $dir 'yieldvault-backend')
    $port = Get-FreeTcpPort
    # RATE_LIMIT_MAX: the prober's version checks and both tools' curls share 127.0.0.1's /api/* budget.
    @("PORT=$port", 'NODE_ENV=production', "STELLAR_RPC_URL=$($Rpc.Url)", "DATABASE_URL=$($Postgres.DatabaseUrl)",
        'VAULT_CONTRACT_ID=CDLZFC3SYJYDZT7K67VZ75HPJVIEUVNIXF47ZG2FB2RMQQVU2HHGCYSC', "LOG_FILE=$dir/logs/backend.log",
        'SHUTDOWN_DRAIN_MS=300', 'RATE_LIMIT_MAX=1000000') | Set-Content -LiteralPath (Join-Path $app '.env')
    & chmod 600 (Join-Path $app '.env')
    $pm2Home = Join-Path $dir 'pm2'
    $script:Pm2Homes.Add($pm2Home)
    # The way the module starts an app PM2 does not know yet (Pm2ServiceManager.StartFromAppPathAsync).
    $null = Invoke-Pm2 $pm2Home @('start', 'dist/index.js', '--name', 'yieldvault-backend', '--cwd', $app, '--time') -WorkingDirectory $app
    $null = Invoke-Pm2 $pm2Home @('save')
    [pscustomobject]@{ Name = $Name; Directory = $dir; App = $app; Port = $port; Pm2Home = $pm2Home }
}

function Wait-Healthy([int] $Port, [int] $TimeoutSec = 60) {
    $deadline = [DateTime]::UtcNow.AddSeconds($TimeoutSec)
    while ([DateTime]::UtcNow -lt $deadline) {
        try { if ((Invoke-WebRequest -Uri "http://127.0.0.1:$Port/health" -TimeoutSec 2 -SkipHttpErrorCheck).StatusCode -eq 200) { return } } catch { }
        Start-Sleep -Milliseconds 100
    }
    throw "http://127.0.0.1:$Port/health is not healthy after $TimeoutSec s"
}

function Get-ServedCommit([int] $Port) {
    try { (Invoke-RestMethod -Uri "http://127.0.0.1:$Port/api/v1/version" -TimeoutSec 5).commit } catch { $null }
}

function Get-LoadAverage { ([IO.File]::ReadAllText('/proc/loadavg') -split ' ')[0..2] -join ' ' }
#endregion

#region one measured operation
<#
  Runs $Action with the prober and the sampler around it. $Action returns a hashtable of what it knows
  (Ok, Error, Marks, Module...). Times are ms from the operation's start (T0).
#>
function Measure-Operation([string] $Scenario, [string] $Kind, [int] $Run, [int] $Port, [string] $ExpectedCommit, [scriptblock] $Action) {
    $clock = [Diagnostics.Stopwatch]::StartNew()
    $prober = Start-Prober -Port $Port -Clock $clock
    $sampler = [YvBench.ChildSampler]::new($PID, $clock, 2)
    $loadBefore = Get-LoadAverage
    Start-Sleep -Milliseconds 300   # probes of the serving version before the start
    $sampler.Start()
    $t0 = $clock.Elapsed.TotalMilliseconds
    $epoch0 = [DateTimeOffset]::UtcNow.ToUnixTimeMilliseconds()
    $info = $null
    try { $info = & $Action $epoch0 }
    catch { $info = @{ Ok = $false; Error = "$_" } }
    $t1 = $clock.Elapsed.TotalMilliseconds
    Start-Sleep -Milliseconds 500   # see what serves after the end
    $spans = $sampler.Stop()
    $probe = Stop-Prober $prober
    $tEnd = $clock.Elapsed.TotalMilliseconds

    $rel = { param($t) $t - $t0 }
    $probeRel = [pscustomobject]@{ T = [double[]]@($probe.T | ForEach-Object { $_ - $t0 }); Code = $probe.Code }
    $outages = Get-Outages $probeRel -From (-300) -Until ($tEnd - $t0)
    $downtime = 0.0; foreach ($o in $outages) { $downtime += $o[1] - $o[0] }
    $failed = @($probeRel.Code | Where-Object { $_ -ne 200 }).Count
    $healthy = @($probe.Versions | Where-Object { $_.Commit -eq $ExpectedCommit -and $_.T -ge $t0 } | Select-Object -First 1)
    $children = @($spans | ForEach-Object {
            $label = Get-ChildLabel $_.Argv
            [pscustomobject]@{ Label = $label; Category = Get-ChildCategory $label; Start = $_.StartMs - $t0; End = $_.EndMs - $t0; Argv = ($_.Argv -join ' ') }
        })
    $final = Get-ServedCommit $Port
    [pscustomobject]@{
        Scenario        = $Scenario
        Kind            = $Kind
        Run             = $Run
        Ok              = [bool]$info['Ok'] -and $final -eq $ExpectedCommit
        Error           = if ($info['Error']) { $info['Error'] } elseif ($final -ne $ExpectedCommit) { "serves commit $final after the run, expected $ExpectedCommit" } else { $null }
        WallMs          = $t1 - $t0
        DowntimeMs      = $downtime
        Outages         = $outages
        LongestOutageMs = if ($outages) { ($outages | ForEach-Object { $_[1] - $_[0] } | Measure-Object -Maximum).Maximum } else { 0 }
        FailedProbes    = $failed
        Probes          = $probeRel.Code.Count
        HealthyMs       = if ($healthy) { $healthy[0].T - $t0 } else { $null }
        Children        = $children
        Marks           = $info['Marks']
        Module          = $info['Module']
        LoadBefore      = $loadBefore
        LoadAfter       = Get-LoadAverage
        Output          = $info['Output']
    }
}

function Invoke-BaselineOperation($App, [string] $Mode, [long] $Epoch0) {
    $psi = [System.Diagnostics.ProcessStartInfo]::new('/bin/bash')
    foreach ($a in @($RunbookScript, $Mode, $App.App, [string]$App.Port, $App.Pm2Home, 'v1.3.0', 'v1.2.3')) { $psi.ArgumentList.Add($a) }
    $psi.RedirectStandardOutput = $true; $psi.RedirectStandardError = $true; $psi.UseShellExecute = $false
    $psi.Environment['BACKUP_DIR'] = Join-Path $App.Directory 'backups'
    $p = [System.Diagnostics.Process]::Start($psi)
    $o = $p.StandardOutput.ReadToEndAsync(); $e = $p.StandardError.ReadToEndAsync()
    $timedOut = -not $p.WaitForExit($OperationTimeoutSec * 1000)
    if ($timedOut) { $p.Kill($true); $null = $p.WaitForExit(10000) }
    $p.WaitForExit()
    $stderr = $e.Result
    $marks = @([regex]::Matches($stderr, '(?m)^RUNBOOK (\d+) \S+ (\S+) (.*)$') | ForEach-Object {
            [pscustomobject]@{ Step = $_.Groups[2].Value; What = $_.Groups[3].Value.Trim(); T = [double]([long]$_.Groups[1].Value - $Epoch0) }
        })
    $notes = @([regex]::Matches($stderr, '(?m)^RUNBOOK-NOTE (.*)$') | ForEach-Object { $_.Groups[1].Value.Trim() })
    $log = Join-Path $ResultsLogDir ("baseline-{0}-{1:yyyyMMddTHHmmss}.log" -f $Mode, [DateTime]::UtcNow)
    Set-Content -LiteralPath $log -Value ("== stdout ==`n" + $o.Result + "`n== stderr ==`n" + $stderr)
    @{
        Ok     = -not $timedOut -and $p.ExitCode -eq 0
        Error  = if ($timedOut) { "timed out after $OperationTimeoutSec s" } elseif ($p.ExitCode) { "exit code $($p.ExitCode); see $log" } else { $null }
        Marks  = $marks
        Output = @{ Notes = $notes; Log = $log }
    }
}

function Invoke-ModuleOperation([string] $Kind, [long] $Epoch0) {
    $ps = [powershell]::Create()
    $ps.Runspace = $ModuleRunspace
    if ($Kind -eq 'deploy') { $null = $ps.AddScript('$BenchTarget | Invoke-VaultDeployment -Ref v1.3.0 -Confirm:$false') }
    else {
        # Plain Undo: it goes back to the release the last deployment replaced (from the target's history).
        $null = $ps.AddScript('$BenchTarget | Undo-VaultDeployment -Force')
    }
    try {
        $async = $ps.BeginInvoke()
        $timedOut = -not $async.AsyncWaitHandle.WaitOne($OperationTimeoutSec * 1000)
        if ($timedOut) { $ps.Stop() }
        $result = @($ps.EndInvoke($async)) | Where-Object { $_ -and $_.PSObject.Properties['Steps'] } | Select-Object -First 1
        if ($Kind -eq 'deploy' -and $result) { $script:ModuleReleaseBefore = $result.ReleaseBefore }
        $errors = @($ps.Streams.Error | ForEach-Object { "$_" })
        $warnings = @($ps.Streams.Warning | ForEach-Object { "$_" })
    }
    finally { $ps.Dispose() }
    $journal = @()
    if ($result -and $result.JournalPath -and (Test-Path -LiteralPath $result.JournalPath)) {
        $journal = @(Get-Content -LiteralPath $result.JournalPath | ForEach-Object { $_ | ConvertFrom-Json -DateKind String } | ForEach-Object {
                [pscustomobject]@{ Step = $_.step; Phase = $_.phase; T = [double]([DateTimeOffset]::Parse($_.time, [Globalization.CultureInfo]::InvariantCulture).ToUnixTimeMilliseconds() - $Epoch0) }
            })
    }
    $steps = @()
    if ($result) {
        $steps = @($result.Steps | ForEach-Object {
                $name = $_.Name
                $s = $journal | Where-Object { $_.Step -eq $name -and $_.Phase -eq 'start' } | Select-Object -First 1
                $en = $journal | Where-Object { $_.Step -eq $name -and $_.Phase -eq 'end' } | Select-Object -First 1
                [pscustomobject]@{
                    Number = $_.Number; Name = $name; Outcome = "$($_.Outcome)"; DurationMs = $_.Duration.TotalMilliseconds; Detail = $_.Detail
                    Start = if ($s) { $s.T } else { $null }; End = if ($en) { $en.T } else { $null }
                }
            })
    }
    $healthWait = 0.0
    foreach ($s in $steps) { if ($s.Detail -match 'healthy after ([\d.]+) ms') { $healthWait += [double]$Matches[1] } }
    @{
        Ok     = -not $timedOut -and $result -and "$($result.Status)" -eq 'Succeeded'
        Error  = if ($timedOut) { "timed out after $OperationTimeoutSec s" } elseif (-not $result) { "no result: $($errors -join '; ')" } elseif ("$($result.Status)" -ne 'Succeeded') { "$($result.Status): $($result.Error)" } else { $null }
        Module = [pscustomobject]@{
            Status = "$($result.Status)"; DurationMs = $result.Duration.TotalMilliseconds; DowntimeMs = $result.DowntimeMs; FailedProbes = $result.FailedProbes
            Probes = $result.Probes; Steps = $steps; HealthWaitMs = $healthWait; Warnings = $warnings; Errors = $errors
            Journal = @($journal | Where-Object { $_.Step -notin 'run' })
        }
    }
}
#endregion

#region summaries
function Get-Stats([object[]] $Values, [int] $Digits = 0, [double] $Scale = 1) {
    $v = [double[]]@($Values | Where-Object { $null -ne $_ } | ForEach-Object { [double]$_ / $Scale })
    if ($v.Count -eq 0) { return [pscustomobject]@{ Median = $null; Min = $null; Max = $null; Values = @() } }
    [pscustomobject]@{
        Median = Rnd (Get-Median $v) $Digits; Min = Rnd (($v | Measure-Object -Minimum).Minimum) $Digits; Max = Rnd (($v | Measure-Object -Maximum).Maximum) $Digits
        Values = @($v | ForEach-Object { Rnd $_ $Digits })
    }
}

# Where the time of one operation went: per child label, inside the whole operation and inside its outages.
function Get-Breakdown($Op) {
    $labels = $Op.Children | Group-Object Label
    foreach ($g in $labels) {
        $iv = @($g.Group | ForEach-Object { , [double[]]@($_.Start, $_.End) })
        $inOutage = 0.0
        foreach ($o in $Op.Outages) { $inOutage += Get-UnionMs (Get-Clipped $iv $o[0] $o[1]) }
        [pscustomobject]@{ Label = $g.Name; Category = $g.Group[0].Category; N = $g.Count; Ms = Get-UnionMs (Get-Clipped $iv 0 $Op.WallMs); OutageMs = $inOutage }
    }
}

function Get-ChildBusy($Op, [string[]] $Categories) {
    $iv = @($Op.Children | Where-Object { $_.Category -in $Categories } | ForEach-Object { , [double[]]@($_.Start, $_.End) })
    Get-UnionMs (Get-Clipped $iv 0 $Op.WallMs)
}

# Baseline: time per runbook step (a step ends where the next begins), and how much of each lies in outages.
function Get-StepBreakdown($Op) {
    $marks = @($Op.Marks)
    for ($i = 0; $i -lt $marks.Count - 1; $i++) {
        $from = $marks[$i].T; $to = $marks[$i + 1].T
        $inOutage = 0.0
        foreach ($o in $Op.Outages) { $inOutage += [math]::Max(0, [math]::Min($to, $o[1]) - [math]::Max($from, $o[0])) }
        [pscustomobject]@{ Index = $i; Step = $marks[$i].Step; What = $marks[$i].What; Ms = $to - $from; OutageMs = $inOutage }
    }
}
#endregion

# ------------------------------------------------------------------------------------------------------------
if ($FromRaw) {
    # Regenerate latest.json and the doc from an earlier run's raw.json (no measuring).
    $raw = Get-Content -Raw -LiteralPath $FromRaw | ConvertFrom-Json -DateKind String
    $started = [DateTimeOffset]::Parse($raw.started, [Globalization.CultureInfo]::InvariantCulture)
    $Runs = $raw.runs; $NoWarmUp = [bool]$raw.no_warm_up; $ProbeIntervalMs = $raw.probe_interval_ms
    $ops = @($raw.ops)
    $script:UndoChoices = @($raw.PSObject.Properties['undo_choices'] ? $raw.undo_choices : @())
    $extra = [ordered]@{}
    foreach ($k in 'import', 'fanout') { if ($raw.extra.PSObject.Properties[$k]) { $extra[$k] = @($raw.extra.$k) } }
    $work = $null
}
else {
    $work = Join-Path ([IO.Path]::GetTempPath()) ('yv-bench-' + [guid]::NewGuid().ToString('N').Substring(0, 8))
    $script:Pm2Homes = [System.Collections.Generic.List[string]]::new()
    $postgres = $rpc = $ModuleRunspace = $null
    $started = [DateTimeOffset]::UtcNow
    $ResultsLogDir = Join-Path $work 'logs'
    $ops = [System.Collections.Generic.List[object]]::new()
    $extra = [ordered]@{}
    try {
        New-Item -ItemType Directory -Path $work, $ResultsLogDir | Out-Null
        & chmod 755 $work
        Say "setup in $work (load $(Get-LoadAverage))"
        $postgres = Start-TestPostgres
        $rpc = Start-TestStellarRpc
        $origin = New-TestSampleOrigin -Directory $work
        $commitNew = (Invoke-Checked git @('--git-dir', $origin, 'rev-parse', 'v1.3.0^{commit}')).Trim()
        $commitOld = (Invoke-Checked git @('--git-dir', $origin, 'rev-parse', 'v1.2.3^{commit}')).Trim()
        $baseline = New-BenchApp -Name 'baseline' -Origin $origin -Postgres $postgres -Rpc $rpc
        $null = Invoke-TestSampleMigration -Path $baseline.App -DatabaseUrl $postgres.DatabaseUrl
        $module = New-BenchApp -Name 'module' -Origin $origin -Postgres $postgres -Rpc $rpc
        Wait-Healthy $baseline.Port; Wait-Healthy $module.Port

        $script:ModuleReleaseBefore = $null
    $script:UndoChoices = [System.Collections.Generic.List[object]]::new()
    $ModuleRunspace = [runspacefactory]::CreateRunspace()
        $ModuleRunspace.Open()
        $ps = [powershell]::Create(); $ps.Runspace = $ModuleRunspace
        $null = $ps.AddScript('param($Manifest, $App) Import-Module $Manifest; $global:BenchTarget = New-VaultTarget -Name bench-module -Environment staging -Port $App.Port -AppPath $App.App -ServiceManager Pm2 -Pm2Home $App.Pm2Home -MigrationPreset NodePgMigrate -LogPath "$($App.Directory)/logs/backend.log" -BackupPath "$($App.Directory)/backups" -StatePath "$($App.Directory)/state"; $BenchTarget.Name').AddArgument($ModuleManifest).AddArgument($module)
        $null = $ps.Invoke(); if ($ps.HadErrors) { throw "module runspace: $($ps.Streams.Error -join '; ')" }
        $ps.Dispose()

        $cycle = {
            param([string] $Which, [int] $Run)
            if ($Which -eq 'baseline') {
                $ops.Add((Measure-Operation 'runbook-as-written' 'deploy' $Run $baseline.Port $commitNew { param($e) Invoke-BaselineOperation $baseline 'deploy' $e }))
                $ops.Add((Measure-Operation 'runbook-as-written' 'rollback' $Run $baseline.Port $commitOld { param($e) Invoke-BaselineOperation $baseline 'rollback' $e }))
            }
            else {
                $ops.Add((Measure-Operation 'module-default' 'deploy' $Run $module.Port $commitNew { param($e) Invoke-ModuleOperation 'deploy' $e }))
                $ops.Add((Measure-Operation 'module-default' 'rollback' $Run $module.Port $commitOld { param($e) Invoke-ModuleOperation 'rollback' $e }))
            }
            foreach ($op in $ops[-2], $ops[-1]) {
                Say ("{0,-18} {1,-8} run {2}: {3}  wall {4:0.0} s, downtime {5:0} ms ({6} failed probes), healthy at {7} s{8}" -f $op.Scenario, $op.Kind, $Run,
                    $(if ($op.Ok) { 'ok' } else { 'FAILED' }), ($op.WallMs / 1000), $op.DowntimeMs, $op.FailedProbes,
                    $(if ($null -ne $op.HealthyMs) { '{0:0.0}' -f ($op.HealthyMs / 1000) } else { '-' }), $(if ($op.Error) { " ($($op.Error))" } else { '' }))
            }
            # Each cycle must leave v1.2.3 serving, or the next one measures something else.
            $app = if ($Which -eq 'baseline') { $baseline } else { $module }
            Wait-Healthy $app.Port 30
            if ((Get-ServedCommit $app.Port) -ne $commitOld) { throw "$Which does not serve v1.2.3 after run $Run; stopping the benchmark." }
        }

        if (-not $NoWarmUp) {
            Say 'warm-up cycle (not counted): baseline, then module'
            & $cycle 'baseline' 0
            & $cycle 'module' 0
        }
        for ($run = 1; $run -le $Runs; $run++) {
            $order = if ($run % 2) { 'baseline', 'module' } else { 'module', 'baseline' }
            Say "run $run of $Runs ($($order -join ' then '); load $(Get-LoadAverage))"
            foreach ($which in $order) { & $cycle $which $run }
        }
    }
    finally {
        Say 'stopping everything this benchmark started'
        if ($ModuleRunspace) { $ModuleRunspace.Dispose() }
        foreach ($h in $script:Pm2Homes) {
            try { $null = Invoke-Pm2 $h @('kill') } catch { Write-Warning "pm2 kill ($h): $_" }
        }
        if ($rpc) { Stop-TestStellarRpc $rpc }
        if ($postgres) { Stop-TestPostgres $postgres }
        Stop-AllTestServices
        # The checkouts and PM2 homes go now; the runbook script's logs stay until the report is written.
        Get-ChildItem -LiteralPath $work -Force -ErrorAction Ignore | Where-Object Name -NE 'logs' | Remove-Item -Recurse -Force -ErrorAction Ignore
    }

    # ---- other benchmarks, each in its own pwsh ---------------------------------------------------------------
    $subDir = Join-Path $work 'sub'
    New-Item -ItemType Directory -Force -Path $subDir | Out-Null
    if (-not $SkipImport) {
        Say 'bench/Measure-Import.ps1'
        & $pwsh -NoProfile -NonInteractive -File (Join-Path $PSScriptRoot 'Measure-Import.ps1') -ModuleManifest $ModuleManifest -OutFile (Join-Path $subDir 'import.json') | Out-Host
        if (Test-Path (Join-Path $subDir 'import.json')) { $extra['import'] = @(Get-Content -Raw (Join-Path $subDir 'import.json') | ConvertFrom-Json) }
    }
    if (-not $SkipFanOut) {
        Say 'bench/Measure-StatusFanOut.ps1'
        & $pwsh -NoProfile -NonInteractive -File (Join-Path $PSScriptRoot 'Measure-StatusFanOut.ps1') -ModuleManifest $ModuleManifest -OutFile (Join-Path $subDir 'status-fanout.json') | Out-Host
        if (Test-Path (Join-Path $subDir 'status-fanout.json')) { $extra['fanout'] = @(Get-Content -Raw (Join-Path $subDir 'status-fanout.json') | ConvertFrom-Json) }
    }

    # Everything measured but the probes, to look at a run again or regenerate the report (-FromRaw); not committed.
    New-Item -ItemType Directory -Force -Path $ResultsDirectory | Out-Null
    $rawDoc = [ordered]@{ started = $started.ToString('o'); runs = $Runs; no_warm_up = [bool]$NoWarmUp; probe_interval_ms = $ProbeIntervalMs; ops = @($ops | Select-Object * -ExcludeProperty Output); extra = $extra; undo_choices = @($script:UndoChoices) }
    ConvertTo-Json -InputObject $rawDoc -Depth 10 -Compress | Set-Content -LiteralPath (Join-Path $ResultsDirectory 'raw.json')
}

# ---- results -----------------------------------------------------------------------------------------------
$measured = @($ops | Where-Object Run -GE 1)
$machine = [ordered]@{
    cpu          = ((Get-Content /proc/cpuinfo | Where-Object { $_ -like 'model name*' } | Select-Object -First 1) -replace '^model name\s*:\s*', '')
    cores        = [Environment]::ProcessorCount
    memory_gb    = Rnd ([double]((Get-Content /proc/meminfo | Select-Object -First 1) -replace '\D', '') / 1MB) 1
    os           = ((Get-Content /etc/os-release | Where-Object { $_ -like 'PRETTY_NAME=*' }) -replace '^PRETTY_NAME=|"', '')
    kernel       = (& uname -r)
    node         = (& node --version)
    npm          = (& npm --version)
    pm2          = ((Get-Content /usr/lib/node_modules/pm2/package.json -Raw -ErrorAction Ignore | ConvertFrom-Json).version)
    git          = ((& git --version) -replace '^git version ', '')
    pwsh         = "$($PSVersionTable.PSVersion)"
    load_start   = ($measured | Select-Object -First 1).LoadBefore
    load_end     = ($measured | Select-Object -Last 1).LoadAfter
    load_samples = @($measured | ForEach-Object { $_.LoadBefore })
}

$scenarioObjects = [System.Collections.Generic.List[object]]::new()
$summary = @{}
foreach ($name in 'runbook-as-written', 'module-default') {
    $deploys = @($measured | Where-Object { $_.Scenario -eq $name -and $_.Kind -eq 'deploy' })
    $rollbacks = @($measured | Where-Object { $_.Scenario -eq $name -and $_.Kind -eq 'rollback' })
    $s = [ordered]@{
        Downtime      = Get-Stats @($deploys | ForEach-Object DowntimeMs)
        Deploy        = Get-Stats @($deploys | ForEach-Object HealthyMs) 2 1000
        DeployWall    = Get-Stats @($deploys | ForEach-Object WallMs) 2 1000
        Failed        = Get-Stats @($deploys | ForEach-Object FailedProbes)
        Rollback      = Get-Stats @($rollbacks | ForEach-Object HealthyMs) 2 1000
        RollbackWall  = Get-Stats @($rollbacks | ForEach-Object WallMs) 2 1000
        RollbackDown  = Get-Stats @($rollbacks | ForEach-Object DowntimeMs)
        RollbackFail  = Get-Stats @($rollbacks | ForEach-Object FailedProbes)
        Longest       = Get-Stats @($deploys | ForEach-Object LongestOutageMs)
    }
    $summary[$name] = $s
    $o = [ordered]@{
        scenario                  = $name
        runs                      = $deploys.Count
        runs_ok                   = @($deploys + $rollbacks | Where-Object Ok).Count / 2
        downtime_ms_median        = $s.Downtime.Median; downtime_ms_min = $s.Downtime.Min; downtime_ms_max = $s.Downtime.Max
        deploy_s_median           = $s.Deploy.Median; deploy_s_min = $s.Deploy.Min; deploy_s_max = $s.Deploy.Max
        rollback_s_median         = $s.Rollback.Median; rollback_s_min = $s.Rollback.Min; rollback_s_max = $s.Rollback.Max
        failed_probes_median      = $s.Failed.Median; failed_probes_min = $s.Failed.Min; failed_probes_max = $s.Failed.Max
        deploy_total_s_median     = $s.DeployWall.Median; deploy_total_s_min = $s.DeployWall.Min; deploy_total_s_max = $s.DeployWall.Max
        rollback_total_s_median   = $s.RollbackWall.Median; rollback_total_s_min = $s.RollbackWall.Min; rollback_total_s_max = $s.RollbackWall.Max
        rollback_downtime_ms_median = $s.RollbackDown.Median; rollback_downtime_ms_min = $s.RollbackDown.Min; rollback_downtime_ms_max = $s.RollbackDown.Max
        rollback_failed_probes_median = $s.RollbackFail.Median
        longest_outage_ms_median  = $s.Longest.Median
    }
    if ($name -eq 'runbook-as-written') {
        # The runbook's failed "npm ci --production" + build (4.4a/4.5a) are in the figures; without them:
        $wasted = @($deploys | ForEach-Object { @(Get-StepBreakdown $_ | Where-Object Step -In '4.4a', '4.5a' | Measure-Object OutageMs -Sum).Sum })
        $corrected = for ($i = 0; $i -lt $deploys.Count; $i++) { $deploys[$i].DowntimeMs - [double]$wasted[$i] }
        $c = Get-Stats @($corrected)
        $o['downtime_ms_without_failed_build_median'] = $c.Median
        $o['downtime_ms_without_failed_build_min'] = $c.Min
        $o['downtime_ms_without_failed_build_max'] = $c.Max
        $summary[$name]['Corrected'] = $c
    }
    else {
        $overhead = @($deploys | ForEach-Object { $_.WallMs - (Get-ChildBusy $_ @('git', 'npm', 'pm2')) })
        $overheadRb = @($rollbacks | ForEach-Object { $_.WallMs - (Get-ChildBusy $_ @('git', 'npm', 'pm2')) })
        $helpers = @($deploys | ForEach-Object { (Get-ChildBusy $_ @('git', 'npm', 'pm2', 'helper')) - (Get-ChildBusy $_ @('git', 'npm', 'pm2')) })
        $wait = @($deploys | ForEach-Object { $_.Module.HealthWaitMs })
        $waitRb = @($rollbacks | ForEach-Object { $_.Module.HealthWaitMs })
        $s['Overhead'] = Get-Stats $overhead; $s['OverheadRb'] = Get-Stats $overheadRb; $s['Helpers'] = Get-Stats $helpers
        $s['Wait'] = Get-Stats $wait; $s['WaitRb'] = Get-Stats $waitRb
        $s['SelfDowntime'] = Get-Stats @($deploys | ForEach-Object { $_.Module.DowntimeMs })
        $s['SelfFailed'] = Get-Stats @($deploys | ForEach-Object { $_.Module.FailedProbes })
        $s['SelfDowntimeRb'] = Get-Stats @($rollbacks | ForEach-Object { $_.Module.DowntimeMs })
        $o['overhead_ms_median'] = $s.Overhead.Median; $o['overhead_ms_min'] = $s.Overhead.Min; $o['overhead_ms_max'] = $s.Overhead.Max
        $o['overhead_helper_commands_ms_median'] = $s.Helpers.Median
        $o['overhead_health_wait_ms_median'] = $s.Wait.Median
        $o['rollback_overhead_ms_median'] = $s.OverheadRb.Median; $o['rollback_overhead_ms_min'] = $s.OverheadRb.Min; $o['rollback_overhead_ms_max'] = $s.OverheadRb.Max
        $o['module_reported_downtime_ms_median'] = $s.SelfDowntime.Median; $o['module_reported_downtime_ms_min'] = $s.SelfDowntime.Min; $o['module_reported_downtime_ms_max'] = $s.SelfDowntime.Max
        $o['module_reported_failed_probes_median'] = $s.SelfFailed.Median
        $o['module_reported_rollback_downtime_ms_median'] = $s.SelfDowntimeRb.Median
    }
    $o['per_run'] = @($deploys | ForEach-Object {
            $d = $_; $rb = $rollbacks | Where-Object Run -EQ $d.Run | Select-Object -First 1
            [ordered]@{
                run = $d.Run; ok = [bool]($d.Ok -and $rb.Ok); error = (@($d.Error, $rb.Error) | Where-Object { $_ }) -join '; '
                downtime_ms = Rnd $d.DowntimeMs; failed_probes = $d.FailedProbes; probes = $d.Probes; deploy_s = Rnd ($d.HealthyMs / 1000) 2; deploy_total_s = Rnd ($d.WallMs / 1000) 2
                rollback_s = if ($rb -and $null -ne $rb.HealthyMs) { Rnd ($rb.HealthyMs / 1000) 2 } else { $null }; rollback_total_s = if ($rb) { Rnd ($rb.WallMs / 1000) 2 } else { $null }
                rollback_downtime_ms = if ($rb) { Rnd $rb.DowntimeMs } else { $null }
                module_reported_downtime_ms = if ($d.Module) { $d.Module.DowntimeMs } else { $null }
                load = $d.LoadBefore
            }
        })
    $o['probe_interval_ms'] = $ProbeIntervalMs
    $o['measured_at'] = $started.ToString('o')
    $scenarioObjects.Add($o)
}

function Ratio($a, $b, [int] $Digits = 1) { if ($null -eq $a -or $null -eq $b -or [double]$b -eq 0) { $null } else { Rnd ([double]$a / [double]$b) $Digits } }
$b = $summary['runbook-as-written']; $m = $summary['module-default']
$ratios = [ordered]@{
    scenario                         = 'ratio-baseline-to-module'
    runs                             = $Runs
    downtime_ratio                   = Ratio $b.Downtime.Median $m.Downtime.Median
    downtime_ratio_without_failed_build = Ratio $b.Corrected.Median $m.Downtime.Median
    deploy_ratio                     = Ratio $b.Deploy.Median $m.Deploy.Median
    deploy_total_ratio               = Ratio $b.DeployWall.Median $m.DeployWall.Median
    rollback_ratio                   = Ratio $b.Rollback.Median $m.Rollback.Median
    rollback_total_ratio             = Ratio $b.RollbackWall.Median $m.RollbackWall.Median
    rollback_downtime_ratio          = Ratio $b.RollbackDown.Median $m.RollbackDown.Median
    failed_probes_ratio              = Ratio $b.Failed.Median $m.Failed.Median
    downtime_goal_met                = $null -ne $m.Downtime.Median -and $null -ne $b.Downtime.Median -and $m.Downtime.Median -le $b.Downtime.Median / 10
    rollback_goal_met                = $null -ne $m.Rollback.Median -and $null -ne $b.Rollback.Median -and $b.Rollback.Median -ge 10 * $m.Rollback.Median
    measured_at                      = $started.ToString('o')
}
$scenarioObjects.Add($ratios)
if ($extra.Contains('import')) { foreach ($x in $extra['import']) { $scenarioObjects.Add($x) } }
if ($extra.Contains('fanout')) { foreach ($x in $extra['fanout']) { $scenarioObjects.Add($x) } }

New-Item -ItemType Directory -Force -Path $ResultsDirectory | Out-Null
$json = Join-Path $ResultsDirectory 'latest.json'
$document = [ordered]@{ generated_at = [DateTimeOffset]::UtcNow.ToString('o'); machine = $machine; scenarios = $scenarioObjects }
ConvertTo-Json -InputObject $document -Depth 8 | Set-Content -LiteralPath $json
Say "wrote $json"

# ---- docs/benchmarks.md --------------------------------------------------------------------------------------
function Fmt($v, [string] $f = '0') { if ($null -eq $v) { '–' } else { ([double]$v).ToString($f, [Globalization.CultureInfo]::InvariantCulture) } }
function Cell($st, [string] $f = '0') { if ($null -eq $st.Median) { '–' } else { "$(Fmt $st.Median $f) ($(Fmt $st.Min $f)–$(Fmt $st.Max $f))" } }

$sb = [System.Text.StringBuilder]::new()
$null = $sb.AppendLine('<!-- bench:begin: generated by bench/Invoke-Benchmarks.ps1 from bench/results/latest.json; edit the notes block, not this one -->')
$null = $sb.AppendLine("Measured **$($started.ToString('yyyy-MM-dd HH:mm')) UTC**, $Runs runs of each (after one warm-up cycle of each$(if ($NoWarmUp) { ': none (-NoWarmUp)' })), alternating which goes first. Median (min–max).")
$null = $sb.AppendLine()
$null = $sb.AppendLine('| | runbook as written | module (default) | ratio runbook / module |')
$null = $sb.AppendLine('|---|---|---|---|')
$null = $sb.AppendLine("| Downtime, deploy (ms) | $(Cell $b.Downtime) | $(Cell $m.Downtime) | **$(Fmt $ratios.downtime_ratio '0.0')x** |")
$null = $sb.AppendLine("| ... runbook without its failed ``npm ci --production`` + build (ms) | $(Cell $b.Corrected) | | $(Fmt $ratios.downtime_ratio_without_failed_build '0.0')x |")
$null = $sb.AppendLine("| Failed /health probes, deploy | $(Cell $b.Failed) | $(Cell $m.Failed) | $(Fmt $ratios.failed_probes_ratio '0.0')x |")
$null = $sb.AppendLine("| Start to healthy v1.3.0 (s) | $(Cell $b.Deploy '0.0') | $(Cell $m.Deploy '0.0') | $(Fmt $ratios.deploy_ratio '0.0')x |")
$null = $sb.AppendLine("| Deploy command, start to end (s) | $(Cell $b.DeployWall '0.0') | $(Cell $m.DeployWall '0.0') | $(Fmt $ratios.deploy_total_ratio '0.0')x |")
$null = $sb.AppendLine("| Rollback: start to healthy v1.2.3 (s) | $(Cell $b.Rollback '0.0') | $(Cell $m.Rollback '0.0') | **$(Fmt $ratios.rollback_ratio '0.0')x** |")
$null = $sb.AppendLine("| Rollback command, start to end (s) | $(Cell $b.RollbackWall '0.0') | $(Cell $m.RollbackWall '0.0') | $(Fmt $ratios.rollback_total_ratio '0.0')x |")
$null = $sb.AppendLine("| Downtime, rollback (ms) | $(Cell $b.RollbackDown) | $(Cell $m.RollbackDown) | $(Fmt $ratios.rollback_downtime_ratio '0.0')x |")
$null = $sb.AppendLine("| Module overhead, deploy (ms): wall − git/npm/pm2 child time | | $(Cell $m.Overhead) | |")
$null = $sb.AppendLine("| ... of which its helper shell commands (journal, lock, checks) | | $(Cell $m.Helpers) | |")
$null = $sb.AppendLine("| ... of which waiting for the new process to answer /health and /ready | | $(Cell $m.Wait) | |")
$null = $sb.AppendLine("| Module overhead, rollback (ms) | | $(Cell $m.OverheadRb) | |")
$null = $sb.AppendLine("| Module's own prober (cross-check): deploy downtime (ms) | | $(Cell $m.SelfDowntime) | |")
$null = $sb.AppendLine()
$null = $sb.AppendLine("Module rollbacks ran a plain ``Undo-VaultDeployment -Force``, which goes back to the release the last deployment replaced (from the target's history); every measured rollback must end serving v1.2.3, or the run fails.")
$null = $sb.AppendLine()
$null = $sb.AppendLine("Goals: module downtime ≤ 1/10 of the runbook's: **$(if ($ratios.downtime_goal_met) { 'met' } else { 'not met' })**; rollback ≥ 10x faster: **$(if ($ratios.rollback_goal_met) { 'met' } else { 'not met' })**.")
$null = $sb.AppendLine()
if ($extra.Contains('import') -or $extra.Contains('fanout')) {
    $null = $sb.AppendLine('| Other measurements | median | min–max |')
    $null = $sb.AppendLine('|---|---|---|')
    foreach ($x in @($extra['import'])) { if ($x) { $null = $sb.AppendLine("| ``Import-Module`` in a fresh pwsh, $($x.runs) runs (ms) | $(Fmt $x.import_ms_median) | $(Fmt $x.import_ms_min)–$(Fmt $x.import_ms_max) |") } }
    foreach ($x in @($extra['fanout'])) {
        if ($x) {
            $null = $sb.AppendLine("| $($x.scenario): 1 target (ms) | $(Fmt $x.one_ms_median) | $(Fmt (($x.one_ms | Measure-Object -Minimum).Minimum))–$(Fmt (($x.one_ms | Measure-Object -Maximum).Maximum)) |")
            $unhealthy = if ($x.PSObject.Properties['many_unhealthy'] -and @($x.many_unhealthy | Where-Object { $_ -gt 0 })) { "; targets without a healthy answer per run: $(@($x.many_unhealthy) -join ', ') ($($x.first_problem))" } else { '' }
            $null = $sb.AppendLine("| $($x.scenario): $($x.targets) targets, throttle $($x.throttle_limit) (ms) | $(Fmt $x.many_ms_median) (**$(Fmt $x.ratio_many_to_one '0.00')x** the 1-target time$unhealthy) | $(Fmt (($x.many_ms | Measure-Object -Minimum).Minimum))–$(Fmt (($x.many_ms | Measure-Object -Maximum).Maximum)) |")
        }
    }
    $null = $sb.AppendLine()
}
$null = $sb.AppendLine("Machine: $($machine.cpu), $($machine.cores) cores, $($machine.memory_gb) GB; $($machine.os), kernel $($machine.kernel); node $($machine.node), npm $($machine.npm), PM2 $($machine.pm2), git $($machine.git), PowerShell $($machine.pwsh).")
$null = $sb.AppendLine("Load average (1/5/15 min) at the start of each measured operation: $(($machine.load_samples | Select-Object -Unique) -join '; ') — the machine was shared with other test runs.")
$null = $sb.AppendLine()

# Per-run figures
$null = $sb.AppendLine('Per run (deploy downtime ms / failed probes / start to healthy s / rollback to healthy s):')
$null = $sb.AppendLine()
$null = $sb.AppendLine('| run | runbook as written | module |')
$null = $sb.AppendLine('|---|---|---|')
for ($run = 1; $run -le $Runs; $run++) {
    $cells = foreach ($name in 'runbook-as-written', 'module-default') {
        $d = $measured | Where-Object { $_.Scenario -eq $name -and $_.Kind -eq 'deploy' -and $_.Run -eq $run }
        $r = $measured | Where-Object { $_.Scenario -eq $name -and $_.Kind -eq 'rollback' -and $_.Run -eq $run }
        if ($d) { "$(Fmt $d.DowntimeMs) / $($d.FailedProbes) / $(Fmt ($d.HealthyMs / 1000) '0.0') / $(if ($r -and $null -ne $r.HealthyMs) { Fmt ($r.HealthyMs / 1000) '0.0' } else { '–' })$(if (-not ($d.Ok -and $r.Ok)) { ' (FAILED: ' + ((@($d.Error, $r.Error) | Where-Object { $_ }) -join '; ') + ')' })" } else { '–' }
    }
    $null = $sb.AppendLine("| $run | $($cells[0]) | $($cells[1]) |")
}
$null = $sb.AppendLine()

# Where the time goes: the runbook, per step (median over runs)
$bDeploys = @($measured | Where-Object { $_.Scenario -eq 'runbook-as-written' -and $_.Kind -eq 'deploy' })
$bRollbacks = @($measured | Where-Object { $_.Scenario -eq 'runbook-as-written' -and $_.Kind -eq 'rollback' })
foreach ($set in @(@{ Title = 'Runbook as written, deploy: time per step (median ms; "in outage" = while /health failed)'; Ops = $bDeploys },
        @{ Title = 'Runbook as written, Quick Rollback: time per step (median ms)'; Ops = $bRollbacks })) {
    $rows = @($set.Ops | ForEach-Object { Get-StepBreakdown $_ }) | Group-Object Step | Sort-Object { ($_.Group | Measure-Object Index -Minimum).Minimum }
    if (-not $rows) { continue }
    $null = $sb.AppendLine("**$($set.Title)**")
    $null = $sb.AppendLine()
    $null = $sb.AppendLine('| step | what | ms | in outage |')
    $null = $sb.AppendLine('|---|---|---|---|')
    foreach ($g in $rows) {
        $null = $sb.AppendLine("| $($g.Name) | $($g.Group[0].What -replace '\|', '\|') | $(Fmt (Get-Median @($g.Group.Ms))) | $(Fmt (Get-Median @($g.Group.OutageMs))) |")
    }
    $null = $sb.AppendLine()
}

# Where the time goes: the module, per step and per child command (median over runs)
$mDeploys = @($measured | Where-Object { $_.Scenario -eq 'module-default' -and $_.Kind -eq 'deploy' })
$mRollbacks = @($measured | Where-Object { $_.Scenario -eq 'module-default' -and $_.Kind -eq 'rollback' })
foreach ($set in @(@{ Title = 'Module, Invoke-VaultDeployment: steps (median ms; child = time a git/npm/pm2 child ran within the step)'; Ops = $mDeploys },
        @{ Title = 'Module, Undo-VaultDeployment: steps (median ms)'; Ops = $mRollbacks })) {
    $rows = foreach ($op in $set.Ops) {
        foreach ($s in @($op.Module.Steps)) {
            $child = $null; $inOutage = $null
            if ($null -ne $s.Start -and $null -ne $s.End) {
                $iv = @($op.Children | Where-Object { $_.Category -ne 'helper' } | ForEach-Object { , [double[]]@($_.Start, $_.End) })
                $child = Get-UnionMs (Get-Clipped $iv $s.Start $s.End)
                $inOutage = 0.0; foreach ($o in $op.Outages) { $inOutage += [math]::Max(0, [math]::Min($s.End, $o[1]) - [math]::Max($s.Start, $o[0])) }
            }
            [pscustomobject]@{ Number = [int]$s.Number; Name = "$($s.Number) $($s.Name)"; Ms = $s.DurationMs; Child = $child; OutageMs = $inOutage }
        }
    }
    if (-not $rows) { continue }
    $null = $sb.AppendLine("**$($set.Title)**")
    $null = $sb.AppendLine()
    $null = $sb.AppendLine('| step | ms | git/npm/pm2 child ms | in outage |')
    $null = $sb.AppendLine('|---|---|---|---|')
    foreach ($g in ($rows | Group-Object Name | Sort-Object { [int]$_.Group[0].Number })) {
        $null = $sb.AppendLine("| $($g.Name) | $(Fmt (Get-Median @($g.Group.Ms))) | $(Fmt (Get-Median @($g.Group | Where-Object { $null -ne $_.Child } | ForEach-Object Child))) | $(Fmt (Get-Median @($g.Group | Where-Object { $null -ne $_.OutageMs } | ForEach-Object OutageMs))) |")
    }
    $null = $sb.AppendLine()
}
foreach ($set in @(@{ Title = 'Module, deploy: child processes (median per run: count, ms, ms while /health failed)'; Ops = $mDeploys },
        @{ Title = 'Module, rollback: child processes'; Ops = $mRollbacks })) {
    $rows = @($set.Ops | ForEach-Object { Get-Breakdown $_ }) | Group-Object Label
    if (-not $rows) { continue }
    $null = $sb.AppendLine("**$($set.Title)**")
    $null = $sb.AppendLine()
    $null = $sb.AppendLine('| command | count | ms | in outage |')
    $null = $sb.AppendLine('|---|---|---|---|')
    $lines = foreach ($g in $rows) {
        [pscustomobject]@{ Label = $g.Name; N = Get-Median @($g.Group | ForEach-Object N); Ms = Get-Median @($g.Group.Ms); Out = Get-Median @($g.Group.OutageMs) }
    }
    foreach ($l in ($lines | Sort-Object Ms -Descending)) { $null = $sb.AppendLine("| $($l.Label) | $(Fmt $l.N) | $(Fmt $l.Ms) | $(Fmt $l.Out) |") }
    # The part of the outage with no child process running: the new process starting and the module polling it.
    $idle = Get-Median @($set.Ops | ForEach-Object {
            $op = $_; $all = @($op.Children | ForEach-Object { , [double[]]@($_.Start, $_.End) }); $sum = 0.0
            foreach ($o in $op.Outages) { $sum += ($o[1] - $o[0]) - (Get-UnionMs (Get-Clipped $all $o[0] $o[1])) }
            $sum })
    $null = $sb.AppendLine("| (no child process running) | | | $(Fmt $idle) |")
    $null = $sb.AppendLine()
}
$null = $sb.AppendLine('<!-- bench:end -->')
$generated = $sb.ToString()

$notes = $head = $null
if (Test-Path -LiteralPath $DocPath) {
    $old = Get-Content -LiteralPath $DocPath -Raw
    $mNotes = [regex]::Match($old, '(?s)<!-- notes:begin -->.*?<!-- notes:end -->')
    if ($mNotes.Success) { $notes = $mNotes.Value }
    $mHead = [regex]::Match($old, '(?s)^.*?(?=<!-- bench:begin)')
    $head = if ($mHead.Success) { $mHead.Value } else { $null }
}
if (-not $notes) { $notes = "<!-- notes:begin -->`n<!-- notes:end -->" }
if (-not $head) { $head = "# Benchmarks`n`n" }
Set-Content -LiteralPath $DocPath -Value ($head + $generated + "`n" + $notes + "`n") -NoNewline
Say "wrote $DocPath"
$failedOps = @($measured | Where-Object { -not $_.Ok })
# Keep the runbook script's logs when something failed; the rest (checkouts, PM2 homes) goes.
if ($work) {
    if (-not $failedOps) { Remove-Item -LiteralPath $work -Recurse -Force -ErrorAction Ignore } else { Say "logs of the runbook script: $ResultsLogDir" }
}

[pscustomobject]$ratios | Format-List | Out-Host
if ($failedOps) { Write-Warning "$($failedOps.Count) measured operation(s) failed: $(($failedOps | ForEach-Object { "$($_.Scenario) $($_.Kind) run $($_.Run): $($_.Error)" }) -join '; ')"; exit 1 }
