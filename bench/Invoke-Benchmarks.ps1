#Requires -Version 7.2
<#
.SYNOPSIS
    The runbook followed as written (bench/runbook-as-written.sh) against the module's default deployment (in
    place) and its blue-green deployment behind real nginx, side by side on one sample-backend setup, with an
    external /health prober; writes bench/results/latest.json and docs/benchmarks.md.
.DESCRIPTION
    One process sets up PostgreSQL, the Stellar RPC stand-in and the sample origin (tests/services), then three
    v1.2.3 checkouts of the sample backend, each run by its own PM2 daemon (own PM2_HOME, app name
    yieldvault-backend, started the same way): one for the runbook script, one for the module in place, one for
    the module blue-green, on the blue port behind nginx (tests/services/Nginx.TestServices.psm1; the first
    blue-green deployment adopts that PM2 app as the blue slot). Then, N times, rotating which goes first so all
    see similar machine load:
      runbook-as-written: runbook-as-written.sh deploy (v1.2.3 -> v1.3.0), then runbook-as-written.sh rollback;
                          then the broken release v1.3.1-broken (deploy; Step 7.1 is not healthy, exit 3; then the
                          Quick Rollback);
      module-default:     Invoke-VaultDeployment -Ref v1.3.0, then Undo-VaultDeployment -Force; then
                          v1.3.1-broken (in place: it rolls back by itself, RolledBack);
      module-bluegreen:   Invoke-VaultDeployment -Ref v1.3.0 -KeepPrevious, then Undo-VaultDeployment -Force (blue
                          warm: a switch back); then without -KeepPrevious and Undo again (the cold slot: a start,
                          then the switch); then v1.3.1-broken (the green never gets traffic: Failed).
    A warm-up cycle of each comes first and is not counted (the module's first deployment adopts the plain
    checkout into releases/, or as the blue slot, and clones its git cache once; npm's cache is warmed for all).
    Last, once: the blue-green cycle with a keep-alive prober, and nginx's reload trap (-ReloadTrapSwitches
    Switch-VaultTraffic calls between two warm slots, probed with keep-alive on, then off).

    During every operation an external prober (YvBench.HttpProber: a thread of this process speaking HTTP/1.1
    on its own sockets, never retrying) requests /health every -ProbeIntervalMs, a new connection per request
    (keep-alive off) unless the scenario says keep-alive; blue-green is probed through nginx's port. It reads
    /api/v1/version after each failure->success transition, every ~1 s, and when /health's version field
    changes. From its probes: downtime (sum of outages, each from the first failed probe to the next good one,
    the module's own DowntimeMonitor rule), failed probes, and the time from the start to the first good probe
    of the expected version (deploy: v1.3.0's commit; rollback: v1.2.3's). A sampler thread reads
    /proc/<this pid>/task/*/children every ~2 ms and records every child process (what it runs, first/last
    seen); the module's overhead is its wall time minus the time at least one git, npm or pm2 child ran.

    Bench/Measure-Import.ps1 and bench/Measure-StatusFanOut.ps1 run afterwards in their own pwsh (they start
    and stop their own services) and their figures are merged in. Everything started is stopped at the end,
    also on failure or Ctrl+C (pm2 kill with each PM2_HOME, Stop-TestNginx, Stop-TestStellarRpc,
    Stop-TestPostgres).
.EXAMPLE
    pwsh ./bench/Invoke-Benchmarks.ps1 -ModuleManifest /tmp/yv-bench/YieldVault.Ops/0.1.0/YieldVault.Ops.psd1 -Runs 3
.EXAMPLE
    pwsh ./bench/Invoke-Benchmarks.ps1 -ModuleManifest <psd1> -Runs 1 -SkipImport -SkipFanOut -Scenarios module-bluegreen -ReloadTrapSwitches 4 -ResultsDirectory /tmp/b -DocPath /tmp/b/benchmarks.md
    A quick iteration on the blue-green scenario alone, writing somewhere else than the committed results.
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
    # What is compared; runbook-as-written is the baseline of every ratio. (Fewer only to iterate on the script.)
    [ValidateSet('runbook-as-written', 'module-default', 'module-bluegreen')]
    [string[]] $Scenarios = @('runbook-as-written', 'module-default', 'module-bluegreen'),
    # Leave out the broken release (v1.3.1-broken) of each strategy.
    [switch] $SkipBroken,
    # Leave out the blue-green deploy without -KeepPrevious and its rollback (the cold slot).
    [switch] $SkipColdRollback,
    # Leave out the keep-alive cycle and the reload trap (blue-green only).
    [switch] $SkipKeepAlive,
    # Switches between two warm slots per prober mode (keep-alive on, off) to measure nginx's reload trap; 0: none.
    [ValidateRange(0, 200)] [int] $ReloadTrapSwitches = 40,
    # How long the broken release may take to get healthy before the module gives up on it (the Demo's value).
    [ValidateRange(2, 120)] [int] $BrokenHealthTimeoutSec = 8,
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
Import-Module (Join-Path $root 'tests/services/Nginx.TestServices.psm1') -Force

function Say([string] $Text) { Write-Host "[bench $([DateTime]::UtcNow.ToString('HH:mm:ss'))] $Text" -ForegroundColor Cyan }

#region child-process sampler (C#: a 2 ms loop in PowerShell would cost more than it measures)
if (-not ('YvBench.ChildSampler' -as [type])) {
    Add-Type -TypeDefinition @'
using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
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

    public sealed class VersionSample
    {
        public double T;
        public string Version;
        public string Commit;
    }

    public sealed class ProbeLog
    {
        public double[] T = new double[0];
        public int[] Code = new int[0];
        public double[] Latency = new double[0];
        public string[] Failure = new string[0];
        public VersionSample[] Versions = new VersionSample[0];
        public int Connections;
        public int StaleConnections;
        public bool KeepAlive;
    }

    /// <summary>
    /// The external prober: GET /health every IntervalMs over plain HTTP/1.1 on a socket, with keep-alive (one
    /// connection reused while the server keeps it open) or without (Connection: close, a new connection per request).
    /// It never retries a request: a request that fails is a failed probe (HttpClient would silently retry a request
    /// that failed on a reused connection, which hides the nginx reload race this prober is there to see). Like curl
    /// and HttpClient, it does not send on a connection the server has already closed (a readable idle socket);
    /// such a connection is replaced and counted as stale, not as a failure.
    /// Codes: HTTP status, -1 refused/reset/closed before a full answer, -2 no answer within TimeoutMs.
    /// A version check (/api/v1/version) follows every failure->success transition, every VersionEvery probes, and
    /// every change of the "version" field in the /health body, so a switch to another version is seen at once.
    /// </summary>
    public sealed class HttpProber
    {
        private static readonly Regex VersionField = new Regex("\"version\"\\s*:\\s*\"([^\"]*)\"", RegexOptions.CultureInvariant);
        private static readonly Regex CommitField = new Regex("\"commit\"\\s*:\\s*\"([^\"]*)\"", RegexOptions.CultureInvariant);
        private readonly Stopwatch _clock;
        private readonly int _port;
        private readonly string _healthPath;
        private readonly string _versionPath;
        private readonly int _intervalMs;
        private readonly int _versionEvery;
        private readonly bool _keepAlive;
        private readonly int _timeoutMs;
        private readonly double _maxMs;
        private readonly List<double> _t = new List<double>();
        private readonly List<int> _code = new List<int>();
        private readonly List<double> _latency = new List<double>();
        private readonly List<string> _failure = new List<string>();
        private readonly List<VersionSample> _versions = new List<VersionSample>();
        private Socket _socket;
        private int _connections;
        private int _stale;
        private Thread _thread;
        private volatile bool _stop;

        public HttpProber(Stopwatch clock, int port, string healthPath, string versionPath, int intervalMs, int versionEvery, bool keepAlive, int timeoutMs, double maxMs)
        {
            _clock = clock; _port = port; _healthPath = healthPath; _versionPath = versionPath; _intervalMs = intervalMs;
            _versionEvery = Math.Max(1, versionEvery); _keepAlive = keepAlive; _timeoutMs = timeoutMs; _maxMs = maxMs;
        }

        public void Start()
        {
            _thread = new Thread(Loop) { IsBackground = true, Name = "yv-bench-prober" };
            _thread.Start();
        }

        public ProbeLog Stop()
        {
            _stop = true;
            if (!_thread.Join(_timeoutMs * 3 + 2000)) { CloseSocket(); _thread.Join(5000); }
            CloseSocket();
            return new ProbeLog
            {
                T = _t.ToArray(), Code = _code.ToArray(), Latency = _latency.ToArray(), Failure = _failure.ToArray(), Versions = _versions.ToArray(),
                Connections = _connections, StaleConnections = _stale, KeepAlive = _keepAlive,
            };
        }

        private void Loop()
        {
            bool previousOk = false;
            string previousVersion = null;
            int sinceVersion = 0;
            while (!_stop && _clock.Elapsed.TotalMilliseconds < _maxMs)
            {
                double start = _clock.Elapsed.TotalMilliseconds;
                string body, failure;
                int status = Request(_healthPath, out body, out failure);
                _t.Add(start); _code.Add(status); _latency.Add(_clock.Elapsed.TotalMilliseconds - start); _failure.Add(failure);
                bool ok = status == 200;
                string healthVersion = null;
                if (ok && body != null) { var m = VersionField.Match(body); if (m.Success) { healthVersion = m.Groups[1].Value; } }
                sinceVersion++;
                if (ok && (!previousOk || sinceVersion >= _versionEvery || (healthVersion != null && healthVersion != previousVersion)))
                {
                    sinceVersion = 0;
                    string vbody, vfailure;
                    int vstatus = Request(_versionPath, out vbody, out vfailure);
                    var sample = new VersionSample { T = start };
                    if (vstatus == 200 && vbody != null)
                    {
                        var v = VersionField.Match(vbody); var c = CommitField.Match(vbody);
                        if (v.Success) { sample.Version = v.Groups[1].Value; }
                        if (c.Success) { sample.Commit = c.Groups[1].Value; }
                    }
                    _versions.Add(sample);
                }
                if (ok && healthVersion != null) { previousVersion = healthVersion; }
                previousOk = ok;
                double rest = _intervalMs - (_clock.Elapsed.TotalMilliseconds - start);
                if (rest > 0) { Thread.Sleep((int)Math.Ceiling(rest)); }
            }
            CloseSocket();
        }

        private void CloseSocket()
        {
            var s = _socket;
            _socket = null;
            if (s != null) { try { s.Close(0); } catch { } }
        }

        private int Request(string path, out string body, out string failure)
        {
            body = null; failure = null;
            bool reused = false;
            try
            {
                if (_socket != null)
                {
                    // An idle keep-alive socket that is readable was closed by the server (or sent junk): do not send on it.
                    bool closed;
                    try { closed = _socket.Poll(0, SelectMode.SelectRead); } catch { closed = true; }
                    if (closed) { CloseSocket(); _stale++; } else { reused = true; }
                }
                if (_socket == null)
                {
                    var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                    s.NoDelay = true;
                    var ar = s.BeginConnect(IPAddress.Loopback, _port, null, null);
                    if (!ar.AsyncWaitHandle.WaitOne(_timeoutMs)) { s.Close(0); failure = "connect timeout"; return -2; }
                    try { s.EndConnect(ar); } catch { s.Close(0); throw; }
                    _socket = s;
                    _connections++;
                }
                var deadline = _clock.Elapsed.TotalMilliseconds + _timeoutMs;
                var request = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + _port + "\r\nUser-Agent: yv-bench-prober\r\nAccept: application/json\r\n"
                    + (_keepAlive ? "Connection: keep-alive\r\n" : "Connection: close\r\n") + "\r\n";
                var bytes = Encoding.ASCII.GetBytes(request);
                _socket.SendTimeout = _timeoutMs;
                _socket.Send(bytes);
                var buffer = new byte[16384];
                var data = new List<byte>();
                int headerEnd = -1;
                while (headerEnd < 0)
                {
                    int n = Receive(buffer, deadline);
                    if (n == 0) { throw new EndOfStreamException("closed before the response headers"); }
                    for (int i = 0; i < n; i++) { data.Add(buffer[i]); }
                    headerEnd = IndexOf(data, "\r\n\r\n");
                    if (data.Count > 65536) { throw new InvalidDataException("headers too long"); }
                }
                var head = Encoding.ASCII.GetString(data.GetRange(0, headerEnd).ToArray());
                var lines = head.Split(new[] { "\r\n" }, StringSplitOptions.None);
                var statusParts = lines[0].Split(' ');
                if (statusParts.Length < 2) { throw new InvalidDataException("bad status line: " + lines[0]); }
                int status = int.Parse(statusParts[1], System.Globalization.CultureInfo.InvariantCulture);
                long length = -1; bool chunked = false; bool close = !_keepAlive;
                for (int i = 1; i < lines.Length; i++)
                {
                    int colon = lines[i].IndexOf(':');
                    if (colon <= 0) { continue; }
                    var name = lines[i].Substring(0, colon).Trim().ToLowerInvariant();
                    var value = lines[i].Substring(colon + 1).Trim();
                    if (name == "content-length") { length = long.Parse(value, System.Globalization.CultureInfo.InvariantCulture); }
                    else if (name == "transfer-encoding" && value.ToLowerInvariant().Contains("chunked")) { chunked = true; }
                    else if (name == "connection" && value.ToLowerInvariant().Contains("close")) { close = true; }
                }
                var rest = data.GetRange(headerEnd + 4, data.Count - headerEnd - 4);
                byte[] payload;
                if (chunked) { payload = ReadChunked(rest, buffer, deadline); }
                else if (length >= 0)
                {
                    while (rest.Count < length)
                    {
                        int n = Receive(buffer, deadline);
                        if (n == 0) { throw new EndOfStreamException("closed in the middle of the body"); }
                        for (int i = 0; i < n; i++) { rest.Add(buffer[i]); }
                    }
                    payload = rest.GetRange(0, (int)length).ToArray();
                }
                else
                {
                    // No length: the body ends when the server closes.
                    while (true) { int n = Receive(buffer, deadline); if (n == 0) { break; } for (int i = 0; i < n; i++) { rest.Add(buffer[i]); } }
                    payload = rest.ToArray();
                    close = true;
                }
                body = Encoding.UTF8.GetString(payload);
                if (close) { CloseSocket(); }
                if (status != 200) { failure = "HTTP " + status; }
                return status;
            }
            catch (Exception ex)
            {
                CloseSocket();
                var se = ex as SocketException;
                var timedOut = ex is TimeoutException || (se != null && se.SocketErrorCode == SocketError.TimedOut);
                failure = (se != null ? se.SocketErrorCode.ToString() : ex.GetType().Name + ": " + ex.Message) + (reused ? " (reused keep-alive connection)" : "");
                return timedOut ? -2 : -1;
            }
        }

        private int Receive(byte[] buffer, double deadline)
        {
            var left = deadline - _clock.Elapsed.TotalMilliseconds;
            if (left <= 0) { throw new TimeoutException("no full answer within " + _timeoutMs + " ms"); }
            _socket.ReceiveTimeout = Math.Max(1, (int)Math.Ceiling(left));
            return _socket.Receive(buffer);
        }

        private byte[] ReadChunked(List<byte> data, byte[] buffer, double deadline)
        {
            var output = new List<byte>();
            int pos = 0;
            while (true)
            {
                int lineEnd;
                while ((lineEnd = IndexOf(data, "\r\n", pos)) < 0) { Fill(data, buffer, deadline); }
                var sizeText = Encoding.ASCII.GetString(data.GetRange(pos, lineEnd - pos).ToArray()).Split(';')[0].Trim();
                int size = Convert.ToInt32(sizeText, 16);
                pos = lineEnd + 2;
                if (size == 0)
                {
                    while (IndexOf(data, "\r\n", pos) < 0) { Fill(data, buffer, deadline); }
                    return output.ToArray();
                }
                while (data.Count < pos + size + 2) { Fill(data, buffer, deadline); }
                output.AddRange(data.GetRange(pos, size));
                pos += size + 2;
            }
        }

        private void Fill(List<byte> data, byte[] buffer, double deadline)
        {
            int n = Receive(buffer, deadline);
            if (n == 0) { throw new EndOfStreamException("closed in the middle of a chunked body"); }
            for (int i = 0; i < n; i++) { data.Add(buffer[i]); }
        }

        private static int IndexOf(List<byte> data, string pattern, int from = 0)
        {
            for (int i = from; i + pattern.Length <= data.Count; i++)
            {
                bool match = true;
                for (int j = 0; j < pattern.Length; j++) { if (data[i + j] != (byte)pattern[j]) { match = false; break; } }
                if (match) { return i; }
            }
            return -1;
        }
    }
}
'@
}
#endregion

#region prober (YvBench.HttpProber: a thread of this process with its own sockets; bounded by MaxMs and by Stop)
function Start-Prober([int] $Port, [Diagnostics.Stopwatch] $Clock, [bool] $KeepAlive) {
    $maxMs = $Clock.Elapsed.TotalMilliseconds + ($OperationTimeoutSec * 4 + 60) * 1000
    $prober = [YvBench.HttpProber]::new($Clock, $Port, '/health', '/api/v1/version', $ProbeIntervalMs, [math]::Max(1, [int](1000 / $ProbeIntervalMs)), $KeepAlive, 1000, $maxMs)
    $prober.Start()
    $prober
}

function Stop-Prober($Prober) { $Prober.Stop() }
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
function Measure-Operation([string] $Scenario, [string] $Kind, [int] $Run, [int] $Port, [string] $ExpectedCommit, [scriptblock] $Action, [switch] $KeepAlive) {
    $clock = [Diagnostics.Stopwatch]::StartNew()
    $prober = Start-Prober -Port $Port -Clock $clock -KeepAlive $KeepAlive.IsPresent
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
        # When the expected version answered again for good: the end of the last outage (0: no outage).
        RecoveredMs     = if ($outages) { $outages[-1][1] } else { 0 }
        KeepAlive       = $KeepAlive.IsPresent
        Connections     = $probe.Connections
        StaleConnections = $probe.StaleConnections
        ProbeFailures   = @($probe.Failure | Where-Object { $_ } | Group-Object | Sort-Object Count -Descending | ForEach-Object { [pscustomobject]@{ Failure = $_.Name; Count = $_.Count } })
        Children        = $children
        Marks           = $info['Marks']
        Module          = $info['Module']
        Switches        = $info['Switches']
        LoadBefore      = $loadBefore
        LoadAfter       = Get-LoadAverage
        Output          = $info['Output']
    }
}

function Invoke-BaselineOperation($App, [string] $Mode, [long] $Epoch0, [string] $TargetRef = 'v1.3.0') {
    $psi = [System.Diagnostics.ProcessStartInfo]::new('/bin/bash')
    foreach ($a in @($RunbookScript, $Mode, $App.App, [string]$App.Port, $App.Pm2Home, $TargetRef, 'v1.2.3')) { $psi.ArgumentList.Add($a) }
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
    $log = Join-Path $ResultsLogDir ("baseline-{0}-{1}-{2:yyyyMMddTHHmmss}.log" -f $Mode, $TargetRef, [DateTime]::UtcNow)
    Set-Content -LiteralPath $log -Value ("== stdout ==`n" + $o.Result + "`n== stderr ==`n" + $stderr)
    @{
        ExitCode = if ($timedOut) { $null } else { $p.ExitCode }
        Ok     = -not $timedOut -and $p.ExitCode -eq 0
        Error  = if ($timedOut) { "timed out after $OperationTimeoutSec s" } elseif ($p.ExitCode) { "exit code $($p.ExitCode); see $log" } else { $null }
        Marks  = $marks
        Output = @{ Notes = $notes; Log = $log }
    }
}

# A broken release with the runbook: deploy v1.3.1-broken as written; Step 7.1 shows /health unhealthy and the script
# stops (exit 3); then the Quick Rollback, as the runbook's Rollback Procedure says. One operation, both parts.
function Invoke-BaselineBroken($App, [long] $Epoch0) {
    $deploy = Invoke-BaselineOperation $App 'deploy' $Epoch0 'v1.3.1-broken'
    if ($deploy.ExitCode -ne 3) {
        $deploy.Ok = $false
        $deploy.Error = "the runbook script deployed v1.3.1-broken with exit code $($deploy.ExitCode), expected 3 (7.1 not healthy): $($deploy.Error)"
        return $deploy
    }
    $rollback = Invoke-BaselineOperation $App 'rollback' $Epoch0 'v1.3.1-broken'
    @{
        Ok     = $rollback.Ok
        Error  = $rollback.Error
        Marks  = @($deploy.Marks) + @($rollback.Marks)
        Output = @{ Notes = @($deploy.Output.Notes) + @($rollback.Output.Notes); Log = @($deploy.Output.Log, $rollback.Output.Log) }
    }
}

# nginx's reload trap: $Count Switch-VaultTraffic calls between two running slots (Blue, Green, Blue, ...).
function Invoke-ModuleSwitches([int] $Count, [long] $Epoch0) {
    $ps = [powershell]::Create()
    $ps.Runspace = $ModuleRunspace
    $null = $ps.AddScript('param($n) foreach ($i in 1..$n) { $BenchBlueGreen | Switch-VaultTraffic -To $(if ($i % 2) { "Blue" } else { "Green" }) -Force }').AddArgument($Count)
    try {
        $async = $ps.BeginInvoke()
        $timedOut = -not $async.AsyncWaitHandle.WaitOne($OperationTimeoutSec * 1000)
        if ($timedOut) { $ps.Stop() }
        $results = @($ps.EndInvoke($async)) | Where-Object { $_ -and $_.PSObject.Properties['Steps'] }
        $errors = @($ps.Streams.Error | ForEach-Object { "$_" })
    }
    finally { $ps.Dispose() }
    $bad = @($results | Where-Object { "$($_.Status)" -ne 'Succeeded' })
    @{
        Ok       = -not $timedOut -and @($results).Count -eq $Count -and -not $bad
        Error    = if ($timedOut) { "timed out after $OperationTimeoutSec s" } elseif (@($results).Count -ne $Count) { "$(@($results).Count) of $Count switches returned a result: $($errors -join '; ')" } elseif ($bad) { "$($bad.Count) switches failed: $($bad[0].ErrorId) $($bad[0].Error)" } else { $null }
        Switches = [pscustomobject]@{
            Count = @($results).Count; DurationsMs = @($results | ForEach-Object { [math]::Round($_.Duration.TotalMilliseconds) })
            ModuleFailedProbes = @($results | ForEach-Object { $_.FailedProbes })
        }
    }
}

<#
  One cmdlet call in the module's runspace ($Script: e.g. '$BenchTarget | Undo-VaultDeployment -Force'). Ok when the
  result's Status is $ExpectStatus (and its ErrorId is $ExpectErrorId, when given): a broken release must end
  RolledBack (in place) or Failed with HealthCheckTimeout (blue-green), not Succeeded.
#>
function Invoke-ModuleOperation([string] $Script, [long] $Epoch0, [string] $ExpectStatus = 'Succeeded', [string] $ExpectErrorId) {
    $ps = [powershell]::Create()
    $ps.Runspace = $ModuleRunspace
    $null = $ps.AddScript($Script)
    try {
        $async = $ps.BeginInvoke()
        $timedOut = -not $async.AsyncWaitHandle.WaitOne($OperationTimeoutSec * 1000)
        if ($timedOut) { $ps.Stop() }
        $result = @($ps.EndInvoke($async)) | Where-Object { $_ -and $_.PSObject.Properties['Steps'] } | Select-Object -First 1
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
    $asExpected = $result -and "$($result.Status)" -eq $ExpectStatus -and (-not $ExpectErrorId -or "$($result.ErrorId)" -eq $ExpectErrorId)
    @{
        Ok     = -not $timedOut -and $asExpected
        Error  = if ($timedOut) { "timed out after $OperationTimeoutSec s" } elseif (-not $result) { "no result: $($errors -join '; ')" } elseif (-not $asExpected) { "$($result.Status) ($($result.ErrorId)), expected $ExpectStatus$(if ($ExpectErrorId) { " ($ExpectErrorId)" }): $($result.Error)" } else { $null }
        Module = [pscustomobject]@{
            Status = "$($result.Status)"; ErrorId = "$($result.ErrorId)"; DurationMs = $result.Duration.TotalMilliseconds; DowntimeMs = $result.DowntimeMs; FailedProbes = $result.FailedProbes
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
    $postgres = $rpc = $ModuleRunspace = $nginx = $null
    $started = [DateTimeOffset]::UtcNow
    $ResultsLogDir = Join-Path $work 'logs'
    $ops = [System.Collections.Generic.List[object]]::new()
    $extra = [ordered]@{}
    $script:UndoChoices = [System.Collections.Generic.List[object]]::new()
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
        $bluegreen = $null
        if ('module-bluegreen' -in $Scenarios) {
            # The same setup (its own checkout, .env and PM2 daemon, the app started the same way) on the blue port, with
            # real nginx in front; the first blue-green deployment adopts this PM2 app as the blue slot.
            $bluegreen = New-BenchApp -Name 'bluegreen' -Origin $origin -Postgres $postgres -Rpc $rpc
            $nginx = Start-TestNginx -InitialPort $bluegreen.Port
            $greenPort = Get-FreeTcpPort
            while ($greenPort -in $bluegreen.Port, $nginx.Port, $module.Port, $baseline.Port) { $greenPort = Get-FreeTcpPort }
            $bluegreen | Add-Member -NotePropertyMembers @{ Nginx = $nginx; GreenPort = $greenPort; ServedPort = $nginx.Port }
            Wait-Healthy $bluegreen.Port; Wait-Healthy $nginx.Port
        }

        $ModuleRunspace = [runspacefactory]::CreateRunspace()
        $ModuleRunspace.Open()
        $ps = [powershell]::Create(); $ps.Runspace = $ModuleRunspace
        $null = $ps.AddScript(@'
param($Manifest, $App, $BlueGreen)
# The bench runs without a person (as a scheduled script does): the High-impact cmdlets do not ask.
$global:ConfirmPreference = 'None'
Import-Module $Manifest
$global:BenchTarget = New-VaultTarget -Name bench-module -Environment staging -Port $App.Port -AppPath $App.App -ServiceManager Pm2 -Pm2Home $App.Pm2Home -MigrationPreset NodePgMigrate -LogPath "$($App.Directory)/logs/backend.log" -BackupPath "$($App.Directory)/backups" -StatePath "$($App.Directory)/state"
if ($BlueGreen) {
    $global:BenchBlueGreen = New-VaultTarget -Name bench-bluegreen -Environment staging -Port $BlueGreen.Port -AppPath $BlueGreen.App -ServiceManager Pm2 -Pm2Home $BlueGreen.Pm2Home -MigrationPreset NodePgMigrate `
        -LogPath "$($BlueGreen.Directory)/logs/backend.log" -BackupPath "$($BlueGreen.Directory)/backups" -StatePath "$($BlueGreen.Directory)/state" `
        -Proxy Nginx -UpstreamFile $BlueGreen.Nginx.UpstreamFile -UpstreamName $BlueGreen.Nginx.UpstreamName -ProxyPort $BlueGreen.Nginx.Port -NginxConfig $BlueGreen.Nginx.ConfigFile `
        -BluePort $BlueGreen.Port -GreenPort $BlueGreen.GreenPort
}
'@).AddArgument($ModuleManifest).AddArgument($module).AddArgument($bluegreen)
        $null = $ps.Invoke(); if ($ps.HadErrors) { throw "module runspace: $($ps.Streams.Error -join '; ')" }
        $ps.Dispose()

        $broken = "-Ref v1.3.1-broken -HealthTimeoutSec $BrokenHealthTimeoutSec -Confirm:`$false"
        $report = {
            param($op)
            $ops.Add($op)
            $when = if ($op.Kind -eq 'broken') { 'v1.2.3 answering again at {0:0.00} s' -f ($op.RecoveredMs / 1000) }
            elseif ($op.Scenario -eq 'reload-trap') { "$($op.Switches.Count) switches" }
            else { 'v{0} at {1} s' -f $(if ($op.Kind -like 'deploy*') { '1.3.0' } else { '1.2.3' }), $(if ($null -ne $op.HealthyMs) { '{0:0.00}' -f ($op.HealthyMs / 1000) } else { '-' }) }
            Say ("{0,-26} {1,-13} run {2}: {3}  wall {4:0.0} s, downtime {5:0} ms ({6} of {7} probes failed{8}), {9}{10}" -f $op.Scenario, $op.Kind, $op.Run,
                $(if ($op.Ok) { 'ok' } else { 'FAILED' }), ($op.WallMs / 1000), $op.DowntimeMs, $op.FailedProbes, $op.Probes, $(if ($op.KeepAlive) { ', keep-alive' } else { '' }),
                $when, $(if ($op.Error) { " ($($op.Error))" } else { '' }))
            foreach ($f in @($op.ProbeFailures | Select-Object -First 3)) { Say "    probe failure: $($f.Count) x $($f.Failure)" }
        }
        $cycle = {
            param([string] $Which, [int] $Run)
            $warmUp = $Run -eq 0
            switch ($Which) {
                'runbook-as-written' {
                    & $report (Measure-Operation $Which 'deploy' $Run $baseline.Port $commitNew { param($e) Invoke-BaselineOperation $baseline 'deploy' $e })
                    & $report (Measure-Operation $Which 'rollback' $Run $baseline.Port $commitOld { param($e) Invoke-BaselineOperation $baseline 'rollback' $e })
                    if (-not $warmUp -and -not $SkipBroken) {
                        & $report (Measure-Operation $Which 'broken' $Run $baseline.Port $commitOld { param($e) Invoke-BaselineBroken $baseline $e })
                    }
                }
                'module-default' {
                    & $report (Measure-Operation $Which 'deploy' $Run $module.Port $commitNew { param($e) Invoke-ModuleOperation '$BenchTarget | Invoke-VaultDeployment -Ref v1.3.0 -Confirm:$false' $e })
                    # Plain Undo: it goes back to the release the last deployment replaced (from the target's history).
                    & $report (Measure-Operation $Which 'rollback' $Run $module.Port $commitOld { param($e) Invoke-ModuleOperation '$BenchTarget | Undo-VaultDeployment -Force' $e })
                    if (-not $warmUp -and -not $SkipBroken) {
                        # In place it rolls back by itself: RolledBack is the expected end.
                        & $report (Measure-Operation $Which 'broken' $Run $module.Port $commitOld { param($e) Invoke-ModuleOperation "`$BenchTarget | Invoke-VaultDeployment $broken" $e -ExpectStatus RolledBack -ExpectErrorId HealthCheckTimeout })
                    }
                }
                'module-bluegreen' {
                    # What users see is nginx: the prober and the final check go through nginx's port.
                    & $report (Measure-Operation $Which 'deploy' $Run $nginx.Port $commitNew { param($e) Invoke-ModuleOperation '$BenchBlueGreen | Invoke-VaultDeployment -Ref v1.3.0 -KeepPrevious -Confirm:$false' $e })
                    # Blue (v1.2.3) is warm: the rollback is a switch back.
                    & $report (Measure-Operation $Which 'rollback' $Run $nginx.Port $commitOld { param($e) Invoke-ModuleOperation '$BenchBlueGreen | Undo-VaultDeployment -Force' $e })
                    if (-not $warmUp -and -not $SkipColdRollback) {
                        # Without -KeepPrevious blue stops after the drain: the rollback starts it, then switches.
                        & $report (Measure-Operation $Which 'deploy-cold' $Run $nginx.Port $commitNew { param($e) Invoke-ModuleOperation '$BenchBlueGreen | Invoke-VaultDeployment -Ref v1.3.0 -Confirm:$false' $e })
                        & $report (Measure-Operation $Which 'rollback-cold' $Run $nginx.Port $commitOld { param($e) Invoke-ModuleOperation '$BenchBlueGreen | Undo-VaultDeployment -Force' $e })
                    }
                    if (-not $warmUp -and -not $SkipBroken) {
                        # The green never gets traffic: Failed (HealthCheckTimeout), blue serves on.
                        & $report (Measure-Operation $Which 'broken' $Run $nginx.Port $commitOld { param($e) Invoke-ModuleOperation "`$BenchBlueGreen | Invoke-VaultDeployment $broken" $e -ExpectStatus Failed -ExpectErrorId HealthCheckTimeout })
                    }
                }
            }
            # Each cycle must leave v1.2.3 serving, or the next one measures something else.
            $port = switch ($Which) { 'runbook-as-written' { $baseline.Port } 'module-default' { $module.Port } default { $nginx.Port } }
            Wait-Healthy $port 30
            if ((Get-ServedCommit $port) -ne $commitOld) { throw "$Which does not serve v1.2.3 after run $Run; stopping the benchmark." }
        }

        if (-not $NoWarmUp) {
            Say "warm-up cycle (not counted): $($Scenarios -join ', ')"
            foreach ($which in $Scenarios) { & $cycle $which 0 }
        }
        for ($run = 1; $run -le $Runs; $run++) {
            # Rotate which goes first, so all see similar machine load (ABBA for two).
            $order = if ($Scenarios.Count -eq 2 -and -not ($run % 2)) { $Scenarios[1], $Scenarios[0] }
            else { $k = ($run - 1) % $Scenarios.Count; @($Scenarios[$k..($Scenarios.Count - 1)]) + @(if ($k) { $Scenarios[0..($k - 1)] }) }
            Say "run $run of $Runs ($($order -join ' then '); load $(Get-LoadAverage))"
            foreach ($which in $order) { & $cycle $which $run }
        }

        if ($bluegreen -and -not $SkipKeepAlive) {
            # The same blue-green cycle once more, the prober now reusing one connection (keep-alive), and nginx's reload
            # trap: -ReloadTrapSwitches switches between two warm slots with keep-alive on, then off.
            $which = 'module-bluegreen-keepalive'
            Say "keep-alive: one blue-green cycle with a keep-alive prober$(if ($ReloadTrapSwitches) { ", and $ReloadTrapSwitches switches each way with keep-alive on and off" })"
            & $report (Measure-Operation $which 'deploy' 1 $nginx.Port $commitNew { param($e) Invoke-ModuleOperation '$BenchBlueGreen | Invoke-VaultDeployment -Ref v1.3.0 -KeepPrevious -Confirm:$false' $e } -KeepAlive)
            if ($ReloadTrapSwitches -gt 0 -and $ops[-1].Ok) {
                # An even count ends where it began: green (v1.3.0) live, blue warm.
                & $report (Measure-Operation 'reload-trap' 'keepalive-on' 1 $nginx.Port $commitNew { param($e) Invoke-ModuleSwitches $ReloadTrapSwitches $e } -KeepAlive)
                & $report (Measure-Operation 'reload-trap' 'keepalive-off' 1 $nginx.Port $commitNew { param($e) Invoke-ModuleSwitches $ReloadTrapSwitches $e })
            }
            & $report (Measure-Operation $which 'rollback' 1 $nginx.Port $commitOld { param($e) Invoke-ModuleOperation '$BenchBlueGreen | Undo-VaultDeployment -Force' $e } -KeepAlive)
        }
    }
    finally {
        Say 'stopping everything this benchmark started'
        if ($ModuleRunspace) { $ModuleRunspace.Dispose() }
        foreach ($h in $script:Pm2Homes) {
            try { $null = Invoke-Pm2 $h @('kill') } catch { Write-Warning "pm2 kill ($h): $_" }
        }
        if ($nginx) { try { Stop-TestNginx $nginx } catch { Write-Warning "Stop-TestNginx: $_" } }
        Stop-AllTestNginx
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
function Get-Ops([string] $Scenario, [string] $Kind) { @($measured | Where-Object { $_.Scenario -eq $Scenario -and $_.Kind -eq $Kind }) }
$scenarioNames = @('runbook-as-written', 'module-default', 'module-bluegreen', 'module-bluegreen-keepalive') | Where-Object { $n = $_; @($measured | Where-Object Scenario -EQ $n).Count -gt 0 }
foreach ($name in $scenarioNames) {
    $deploys = @(Get-Ops $name 'deploy')
    $rollbacks = @(Get-Ops $name 'rollback')
    $brokens = @(Get-Ops $name 'broken')
    $coldDeploys = @(Get-Ops $name 'deploy-cold')
    $coldRollbacks = @(Get-Ops $name 'rollback-cold')
    $s = [ordered]@{
        Downtime      = Get-Stats @($deploys | ForEach-Object DowntimeMs)
        Deploy        = Get-Stats @($deploys | ForEach-Object HealthyMs) 2 1000
        DeployWall    = Get-Stats @($deploys | ForEach-Object WallMs) 2 1000
        Failed        = Get-Stats @($deploys | ForEach-Object FailedProbes)
        Rollback      = Get-Stats @($rollbacks | ForEach-Object HealthyMs) 2 1000
        RollbackMs    = Get-Stats @($rollbacks | ForEach-Object HealthyMs)
        RollbackWall  = Get-Stats @($rollbacks | ForEach-Object WallMs) 2 1000
        RollbackDown  = Get-Stats @($rollbacks | ForEach-Object DowntimeMs)
        RollbackFail  = Get-Stats @($rollbacks | ForEach-Object FailedProbes)
        Longest       = Get-Stats @($deploys | ForEach-Object LongestOutageMs)
        BrokenDown    = Get-Stats @($brokens | ForEach-Object DowntimeMs)
        BrokenFail    = Get-Stats @($brokens | ForEach-Object FailedProbes)
        BrokenBack    = Get-Stats @($brokens | ForEach-Object RecoveredMs) 2 1000
        BrokenWall    = Get-Stats @($brokens | ForEach-Object WallMs) 2 1000
        ColdDown      = Get-Stats @($coldDeploys | ForEach-Object DowntimeMs)
        ColdFail      = Get-Stats @($coldDeploys | ForEach-Object FailedProbes)
        ColdDeploy    = Get-Stats @($coldDeploys | ForEach-Object HealthyMs) 2 1000
        ColdDeployWall = Get-Stats @($coldDeploys | ForEach-Object WallMs) 2 1000
        ColdRollback  = Get-Stats @($coldRollbacks | ForEach-Object HealthyMs) 2 1000
        ColdRollbackMs = Get-Stats @($coldRollbacks | ForEach-Object HealthyMs)
        ColdRollbackWall = Get-Stats @($coldRollbacks | ForEach-Object WallMs) 2 1000
        ColdRollbackDown = Get-Stats @($coldRollbacks | ForEach-Object DowntimeMs)
        ColdRollbackFail = Get-Stats @($coldRollbacks | ForEach-Object FailedProbes)
    }
    $summary[$name] = $s
    $o = [ordered]@{
        scenario                  = $name
        runs                      = $deploys.Count
        runs_ok                   = @($deploys + $rollbacks | Where-Object Ok).Count / 2
        prober_keep_alive         = [bool]($deploys | Select-Object -First 1).KeepAlive
        downtime_ms_median        = $s.Downtime.Median; downtime_ms_min = $s.Downtime.Min; downtime_ms_max = $s.Downtime.Max
        deploy_s_median           = $s.Deploy.Median; deploy_s_min = $s.Deploy.Min; deploy_s_max = $s.Deploy.Max
        rollback_s_median         = $s.Rollback.Median; rollback_s_min = $s.Rollback.Min; rollback_s_max = $s.Rollback.Max
        rollback_ms_median        = $s.RollbackMs.Median; rollback_ms_min = $s.RollbackMs.Min; rollback_ms_max = $s.RollbackMs.Max
        failed_probes_median      = $s.Failed.Median; failed_probes_min = $s.Failed.Min; failed_probes_max = $s.Failed.Max
        deploy_total_s_median     = $s.DeployWall.Median; deploy_total_s_min = $s.DeployWall.Min; deploy_total_s_max = $s.DeployWall.Max
        rollback_total_s_median   = $s.RollbackWall.Median; rollback_total_s_min = $s.RollbackWall.Min; rollback_total_s_max = $s.RollbackWall.Max
        rollback_downtime_ms_median = $s.RollbackDown.Median; rollback_downtime_ms_min = $s.RollbackDown.Min; rollback_downtime_ms_max = $s.RollbackDown.Max
        rollback_failed_probes_median = $s.RollbackFail.Median; rollback_failed_probes_min = $s.RollbackFail.Min; rollback_failed_probes_max = $s.RollbackFail.Max
        longest_outage_ms_median  = $s.Longest.Median
    }
    if ($brokens) {
        $o['broken_runs'] = $brokens.Count
        $o['broken_runs_ok'] = @($brokens | Where-Object Ok).Count
        $o['broken_downtime_ms_median'] = $s.BrokenDown.Median; $o['broken_downtime_ms_min'] = $s.BrokenDown.Min; $o['broken_downtime_ms_max'] = $s.BrokenDown.Max
        $o['broken_failed_probes_median'] = $s.BrokenFail.Median; $o['broken_failed_probes_min'] = $s.BrokenFail.Min; $o['broken_failed_probes_max'] = $s.BrokenFail.Max
        $o['broken_v123_back_s_median'] = $s.BrokenBack.Median
        $o['broken_total_s_median'] = $s.BrokenWall.Median; $o['broken_total_s_min'] = $s.BrokenWall.Min; $o['broken_total_s_max'] = $s.BrokenWall.Max
        $o['broken_outcome'] = @($brokens | ForEach-Object { if ($_.Module) { "$($_.Module.Status) ($($_.Module.ErrorId))" } elseif ($_.Ok) { '7.1 not healthy (exit 3), then the Quick Rollback' } else { 'failed' } } | Select-Object -Unique)
    }
    if ($coldDeploys -or $coldRollbacks) {
        $o['deploy_cold_downtime_ms_median'] = $s.ColdDown.Median; $o['deploy_cold_downtime_ms_max'] = $s.ColdDown.Max
        $o['deploy_cold_failed_probes_median'] = $s.ColdFail.Median; $o['deploy_cold_failed_probes_max'] = $s.ColdFail.Max
        $o['deploy_cold_s_median'] = $s.ColdDeploy.Median; $o['deploy_cold_total_s_median'] = $s.ColdDeployWall.Median
        $o['rollback_cold_s_median'] = $s.ColdRollback.Median; $o['rollback_cold_s_min'] = $s.ColdRollback.Min; $o['rollback_cold_s_max'] = $s.ColdRollback.Max
        $o['rollback_cold_ms_median'] = $s.ColdRollbackMs.Median
        $o['rollback_cold_total_s_median'] = $s.ColdRollbackWall.Median
        $o['rollback_cold_downtime_ms_median'] = $s.ColdRollbackDown.Median; $o['rollback_cold_downtime_ms_max'] = $s.ColdRollbackDown.Max
        $o['rollback_cold_failed_probes_median'] = $s.ColdRollbackFail.Median; $o['rollback_cold_failed_probes_max'] = $s.ColdRollbackFail.Max
    }
    if ($name -like 'module-bluegreen*') {
        # The issue's goal: 0 failed probes through nginx in every deploy and rollback of every run.
        $all = @($deploys + $rollbacks + $coldDeploys + $coldRollbacks)
        $o['failed_probes_max_any_operation'] = ($all | Measure-Object FailedProbes -Maximum).Maximum
        $o['zero_failed_probes_every_run'] = $all.Count -gt 0 -and -not @($all | Where-Object { $_.FailedProbes -ne 0 -or -not $_.Ok })
        $o['probe_failures'] = @($all + $brokens | ForEach-Object { $op = $_; $op.ProbeFailures | ForEach-Object { "$($op.Kind) run $($op.Run): $($_.Count) x $($_.Failure)" } })
        $o['prober_connections_median'] = Rnd (Get-Median @($deploys | ForEach-Object Connections))
        $o['prober_stale_connections'] = @($all | ForEach-Object StaleConnections)
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
        $s['SelfFailedRb'] = Get-Stats @($rollbacks | ForEach-Object { $_.Module.FailedProbes })
        $o['overhead_ms_median'] = $s.Overhead.Median; $o['overhead_ms_min'] = $s.Overhead.Min; $o['overhead_ms_max'] = $s.Overhead.Max
        $o['overhead_helper_commands_ms_median'] = $s.Helpers.Median
        $o['overhead_health_wait_ms_median'] = $s.Wait.Median
        $o['rollback_overhead_ms_median'] = $s.OverheadRb.Median; $o['rollback_overhead_ms_min'] = $s.OverheadRb.Min; $o['rollback_overhead_ms_max'] = $s.OverheadRb.Max
        $o['module_reported_downtime_ms_median'] = $s.SelfDowntime.Median; $o['module_reported_downtime_ms_min'] = $s.SelfDowntime.Min; $o['module_reported_downtime_ms_max'] = $s.SelfDowntime.Max
        $o['module_reported_failed_probes_median'] = $s.SelfFailed.Median
        $o['module_reported_rollback_downtime_ms_median'] = $s.SelfDowntimeRb.Median
        $o['module_reported_rollback_failed_probes_median'] = $s.SelfFailedRb.Median
    }
    $o['per_run'] = @($deploys | ForEach-Object {
            $d = $_; $run = $d.Run
            $rb = $rollbacks | Where-Object Run -EQ $run | Select-Object -First 1
            $br = $brokens | Where-Object Run -EQ $run | Select-Object -First 1
            $cd = $coldDeploys | Where-Object Run -EQ $run | Select-Object -First 1
            $cr = $coldRollbacks | Where-Object Run -EQ $run | Select-Object -First 1
            $entry = [ordered]@{
                run = $run; ok = [bool]($d.Ok -and $rb.Ok); error = (@($d.Error, $rb.Error) | Where-Object { $_ }) -join '; '
                downtime_ms = Rnd $d.DowntimeMs; failed_probes = $d.FailedProbes; probes = $d.Probes; deploy_s = Rnd ($d.HealthyMs / 1000) 2; deploy_total_s = Rnd ($d.WallMs / 1000) 2
                rollback_s = if ($rb -and $null -ne $rb.HealthyMs) { Rnd ($rb.HealthyMs / 1000) 2 } else { $null }; rollback_total_s = if ($rb) { Rnd ($rb.WallMs / 1000) 2 } else { $null }
                rollback_downtime_ms = if ($rb) { Rnd $rb.DowntimeMs } else { $null }
                rollback_failed_probes = if ($rb) { $rb.FailedProbes } else { $null }
                module_reported_downtime_ms = if ($d.Module) { $d.Module.DowntimeMs } else { $null }
                load = $d.LoadBefore
            }
            if ($cd -or $cr) {
                $entry['deploy_cold_downtime_ms'] = if ($cd) { Rnd $cd.DowntimeMs } else { $null }
                $entry['deploy_cold_failed_probes'] = if ($cd) { $cd.FailedProbes } else { $null }
                $entry['rollback_cold_s'] = if ($cr -and $null -ne $cr.HealthyMs) { Rnd ($cr.HealthyMs / 1000) 2 } else { $null }
                $entry['rollback_cold_downtime_ms'] = if ($cr) { Rnd $cr.DowntimeMs } else { $null }
                $entry['rollback_cold_failed_probes'] = if ($cr) { $cr.FailedProbes } else { $null }
                $entry['cold_ok'] = [bool]($cd.Ok -and $cr.Ok)
            }
            if ($br) {
                $entry['broken_ok'] = $br.Ok; $entry['broken_error'] = $br.Error
                $entry['broken_downtime_ms'] = Rnd $br.DowntimeMs; $entry['broken_failed_probes'] = $br.FailedProbes
                $entry['broken_v123_back_s'] = Rnd ($br.RecoveredMs / 1000) 2; $entry['broken_total_s'] = Rnd ($br.WallMs / 1000) 2
                $entry['broken_outcome'] = if ($br.Module) { "$($br.Module.Status) ($($br.Module.ErrorId))" } else { $null }
            }
            $entry
        })
    $o['probe_interval_ms'] = $ProbeIntervalMs
    $o['measured_at'] = $started.ToString('o')
    $scenarioObjects.Add($o)
}

function Ratio($a, $b, [int] $Digits = 1) { if ($null -eq $a -or $null -eq $b -or [double]$b -eq 0) { $null } else { Rnd ([double]$a / [double]$b) $Digits } }
# A scenario left out (-Scenarios) has empty figures, so the report can still be written.
$statKeys = @(@($summary.Values | ForEach-Object { $_.Keys }) + @('Corrected', 'Overhead', 'OverheadRb', 'Helpers', 'Wait', 'WaitRb', 'SelfDowntime', 'SelfFailed', 'SelfDowntimeRb', 'SelfFailedRb') | Sort-Object -Unique)
function Get-SummaryOrEmpty([string] $Name) {
    if ($summary[$Name]) { return $summary[$Name] }
    $e = [ordered]@{}; foreach ($k in $statKeys) { $e[$k] = Get-Stats @() }; $e
}
$b = Get-SummaryOrEmpty 'runbook-as-written'; $m = Get-SummaryOrEmpty 'module-default'
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

# Blue-green against the runbook (issue 11): rollback = start of the rollback to the old version answering through nginx.
$bgS = $summary['module-bluegreen']
$bgObject = $scenarioObjects | Where-Object { $_['scenario'] -eq 'module-bluegreen' } | Select-Object -First 1
$bgRatios = $null
if ($bgS) {
    $bgRatios = [ordered]@{
        scenario                     = 'ratio-baseline-to-bluegreen'
        runs                         = $Runs
        rollback_ratio               = Ratio $b.RollbackMs.Median $bgS.RollbackMs.Median
        rollback_cold_ratio          = Ratio $b.RollbackMs.Median $bgS.ColdRollbackMs.Median
        rollback_total_ratio         = Ratio $b.RollbackWall.Median $bgS.RollbackWall.Median
        deploy_ratio                 = Ratio $b.Deploy.Median $bgS.Deploy.Median
        deploy_total_ratio           = Ratio $b.DeployWall.Median $bgS.DeployWall.Median
        rollback_ratio_to_module_default = Ratio $m.RollbackMs.Median $bgS.RollbackMs.Median
        # The same, run by run (each runbook rollback against the blue-green rollback of the same run, under about the
        # same load): the ratio of the medians above mixes runs of different load.
        rollback_ratio_per_run       = @(for ($run = 1; $run -le $Runs; $run++) {
                $x = @(Get-Ops 'runbook-as-written' 'rollback') | Where-Object Run -EQ $run | Select-Object -First 1
                $y = @(Get-Ops 'module-bluegreen' 'rollback') | Where-Object Run -EQ $run | Select-Object -First 1
                if ($x -and $y) { Ratio $x.HealthyMs $y.HealthyMs } else { $null }
            })
        zero_failed_probes_goal_met  = [bool]$bgObject['zero_failed_probes_every_run']
        rollback_ratio_per_run_median = $null
        rollback_goal_20x_met        = $null -ne $bgS.RollbackMs.Median -and $null -ne $b.RollbackMs.Median -and $b.RollbackMs.Median -ge 20 * $bgS.RollbackMs.Median
        rollback_goal_50x_met        = $null -ne $bgS.RollbackMs.Median -and $null -ne $b.RollbackMs.Median -and $b.RollbackMs.Median -ge 50 * $bgS.RollbackMs.Median
        measured_at                  = $started.ToString('o')
    }
    $bgRatios['rollback_ratio_per_run_median'] = Rnd (Get-Median @($bgRatios.rollback_ratio_per_run | Where-Object { $null -ne $_ })) 1
    $scenarioObjects.Add($bgRatios)
}

# nginx's reload trap: failed probes over N switches with the prober on one kept-alive connection, and without.
$trap = @($measured | Where-Object Scenario -EQ 'reload-trap')
$trapObject = $null
if ($trap) {
    $trapObject = [ordered]@{ scenario = 'reload-trap'; measured_at = $started.ToString('o') }
    foreach ($t in $trap) {
        $key = $t.Kind -replace '-', '_'
        $trapObject[$key] = [ordered]@{
            ok = $t.Ok; error = $t.Error; switches = if ($t.Switches) { $t.Switches.Count } else { $null }; wall_s = Rnd ($t.WallMs / 1000) 1
            probes = $t.Probes; failed_probes = $t.FailedProbes; downtime_ms = Rnd $t.DowntimeMs; connections = $t.Connections; stale_connections_replaced = $t.StaleConnections
            failures = @($t.ProbeFailures | ForEach-Object { "$($_.Count) x $($_.Failure)" })
            switch_ms_median = if ($t.Switches) { Get-Median @($t.Switches.DurationsMs) } else { $null }
            module_reported_failed_probes = if ($t.Switches) { @($t.Switches.ModuleFailedProbes | Measure-Object -Sum).Sum } else { $null }
        }
    }
    $scenarioObjects.Add($trapObject)
}
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
# ---- blue-green behind nginx (issue 11) ----
if ($bgS) {
    $dm = $m
    function Cnt($st) { if ($null -eq $st.Median) { '–' } else { "$(Fmt $st.Median) ($(Fmt $st.Min)–$(Fmt $st.Max))" } }
    function Times($a, $z, [string] $f = '0.0') { $r = Ratio $a $z; if ($null -eq $r) { if ($null -ne $a -and $null -ne $z -and [double]$z -eq 0 -and [double]$a -gt 0) { 'no downtime' } else { '–' } } else { "$(Fmt $r $f)x" } }
    $null = $sb.AppendLine('### Blue-green behind nginx (issue 11)')
    $null = $sb.AppendLine()
    $null = $sb.AppendLine("Goals (issue 11, as written): ""0 failed probes through nginx in every benchmark run; rollback (start to the old version answering through nginx) at least 20x faster than the runbook's Quick Rollback, median, in one run (goal 50x)"".")
    $null = $sb.AppendLine()
    $null = $sb.AppendLine("The blue-green figures are probed through nginx (what users see); the runbook's and the in-place module's on the backend's port. Prober: a new connection per probe (keep-alive off) unless a row says otherwise. Median (min–max) of $Runs runs.")
    $null = $sb.AppendLine()
    $null = $sb.AppendLine('| | runbook as written | module (blue-green, through nginx) | ratio runbook / blue-green |')
    $null = $sb.AppendLine('|---|---|---|---|')
    $null = $sb.AppendLine("| Downtime, deploy (ms) | $(Cell $b.Downtime) | $(Cell $bgS.Downtime) | $(Times $b.Downtime.Median $bgS.Downtime.Median) |")
    $null = $sb.AppendLine("| Failed /health probes, deploy (``-KeepPrevious``) | $(Cnt $b.Failed) | $(Cnt $bgS.Failed) | |")
    $null = $sb.AppendLine("| Start to v1.3.0 answering (s) | $(Cell $b.Deploy '0.0') | $(Cell $bgS.Deploy '0.0') | $(Times $b.Deploy.Median $bgS.Deploy.Median) |")
    $null = $sb.AppendLine("| Deploy command, start to end (s) | $(Cell $b.DeployWall '0.0') | $(Cell $bgS.DeployWall '0.0') | $(Times $b.DeployWall.Median $bgS.DeployWall.Median) |")
    $null = $sb.AppendLine("| **Rollback: start to v1.2.3 answering (ms)**; blue-green: blue kept warm (``-KeepPrevious``), ``Undo-VaultDeployment -Force`` switches back | $(Cell $b.RollbackMs) | $(Cell $bgS.RollbackMs) | **$(Times $b.RollbackMs.Median $bgS.RollbackMs.Median)** |")
    $null = $sb.AppendLine("| Rollback command, start to end (s) (blue-green: with the 2 s drain and the stop of green) | $(Cell $b.RollbackWall '0.0') | $(Cell $bgS.RollbackWall '0.0') | $(Times $b.RollbackWall.Median $bgS.RollbackWall.Median) |")
    $null = $sb.AppendLine("| Downtime, rollback (ms) | $(Cell $b.RollbackDown) | $(Cell $bgS.RollbackDown) | $(Times $b.RollbackDown.Median $bgS.RollbackDown.Median) |")
    $null = $sb.AppendLine("| Failed /health probes, rollback | $(Cnt $b.RollbackFail) | $(Cnt $bgS.RollbackFail) | |")
    if ($null -ne $bgS.ColdRollbackMs.Median) {
        $null = $sb.AppendLine("| Cold slot: deploy without ``-KeepPrevious`` (blue stopped after the drain): downtime (ms) / failed probes | | $(Cnt $bgS.ColdDown) / $(Cnt $bgS.ColdFail) | |")
        $null = $sb.AppendLine("| **Cold slot: rollback, start to v1.2.3 answering (ms)** (blue started, then the switch) | $(Cell $b.RollbackMs) | $(Cell $bgS.ColdRollbackMs) | **$(Times $b.RollbackMs.Median $bgS.ColdRollbackMs.Median)** |")
        $null = $sb.AppendLine("| Cold slot: rollback command, start to end (s) | $(Cell $b.RollbackWall '0.0') | $(Cell $bgS.ColdRollbackWall '0.0') | $(Times $b.RollbackWall.Median $bgS.ColdRollbackWall.Median) |")
        $null = $sb.AppendLine("| Cold slot: rollback downtime (ms) / failed probes | | $(Cnt $bgS.ColdRollbackDown) / $(Cnt $bgS.ColdRollbackFail) | |")
    }
    $null = $sb.AppendLine("| Module's own prober through nginx (cross-check): failed probes, deploy / rollback | | $(Cnt $bgS.SelfFailed) / $(Cnt $bgS.SelfFailedRb) | |")
    $null = $sb.AppendLine("| For comparison, the in-place module (``module-default``): rollback to v1.2.3 (ms) | | $(Cell $dm.RollbackMs) | $(Times $dm.RollbackMs.Median $bgS.RollbackMs.Median) slower than blue-green |")
    $null = $sb.AppendLine()
    $maxFailed = $bgObject['failed_probes_max_any_operation']
    $null = $sb.AppendLine("Goals: 0 failed probes through nginx in every run (deploys and rollbacks, warm and cold, keep-alive off): **$(if ($bgRatios.zero_failed_probes_goal_met) { 'met' } else { "not met (up to $maxFailed failed probes in one operation)" })**; " +
        "rollback ≥ 20x faster than the runbook's Quick Rollback (median): **$(if ($bgRatios.rollback_goal_20x_met) { 'met' } else { 'not met' })** ($(Fmt $bgRatios.rollback_ratio '0.0')x; run by run $((@($bgRatios.rollback_ratio_per_run) | ForEach-Object { "$(Fmt $_ '0.0')x" }) -join ', '), median $(Fmt $bgRatios.rollback_ratio_per_run_median '0.0')x); goal 50x: **$(if ($bgRatios.rollback_goal_50x_met) { 'met' } else { 'not met' })**.")
    $null = $sb.AppendLine()

    # Per run
    $null = $sb.AppendLine('Blue-green per run (failed probes are through nginx):')
    $null = $sb.AppendLine()
    $null = $sb.AppendLine('| run | deploy: downtime ms / failed probes / to v1.3.0 s | warm rollback: to v1.2.3 ms / failed probes | the runbook''s Quick Rollback in the same run: to v1.2.3 ms (ratio) | cold deploy: failed probes; cold rollback: to v1.2.3 ms / failed probes | load at the blue-green deploy |')
    $null = $sb.AppendLine('|---|---|---|---|---|---|')
    for ($run = 1; $run -le $Runs; $run++) {
        $d = Get-Ops 'module-bluegreen' 'deploy' | Where-Object Run -EQ $run | Select-Object -First 1
        if (-not $d) { continue }
        $r = Get-Ops 'module-bluegreen' 'rollback' | Where-Object Run -EQ $run | Select-Object -First 1
        $cd = Get-Ops 'module-bluegreen' 'deploy-cold' | Where-Object Run -EQ $run | Select-Object -First 1
        $cr = Get-Ops 'module-bluegreen' 'rollback-cold' | Where-Object Run -EQ $run | Select-Object -First 1
        $fail = @($d, $r, $cd, $cr | Where-Object { $_ -and -not $_.Ok } | ForEach-Object { "$($_.Kind): $($_.Error)" })
        $rb = @(Get-Ops 'runbook-as-written' 'rollback') | Where-Object Run -EQ $run | Select-Object -First 1
        $rbCell = if ($rb -and $r) { "$(Fmt $rb.HealthyMs) ($(Times $rb.HealthyMs $r.HealthyMs))" } else { '–' }
        $null = $sb.AppendLine("| $run | $(Fmt $d.DowntimeMs) / $($d.FailedProbes) / $(Fmt ($d.HealthyMs / 1000) '0.00') | $(if ($r) { "$(Fmt $r.HealthyMs) / $($r.FailedProbes)" } else { '–' }) | $rbCell | $(if ($cd) { $cd.FailedProbes } else { '–' }); $(if ($cr) { "$(Fmt $cr.HealthyMs) / $($cr.FailedProbes)" } else { '–' })$(if ($fail) { ' (FAILED: ' + ($fail -join '; ') + ')' }) | $($d.LoadBefore) |")
    }
    $null = $sb.AppendLine()

    # Broken release
    $br = @(@('runbook-as-written', 'module-default', 'module-bluegreen') | Where-Object { @(Get-Ops $_ 'broken').Count -gt 0 })
    if ($br) {
        $null = $sb.AppendLine("**A broken release (v1.3.1-broken: builds and starts, /health answers 503), deployed over v1.2.3** (median (min–max) of $(@(Get-Ops $br[0] 'broken').Count) runs; the module with ``-HealthTimeoutSec $BrokenHealthTimeoutSec``)")
        $null = $sb.AppendLine()
        $null = $sb.AppendLine('| | runbook as written | module (default, in place) | module (blue-green, through nginx) |')
        $null = $sb.AppendLine('|---|---|---|---|')
        $cells = { param($f) (@('runbook-as-written', 'module-default', 'module-bluegreen') | ForEach-Object { $st = $summary[$_]; if ($st -and @(Get-Ops $_ 'broken').Count) { & $f $st $_ } else { '–' } }) -join ' | ' }
        $null = $sb.AppendLine("| What happens | $(& $cells { param($st, $n) $o = $scenarioObjects | Where-Object { $_['scenario'] -eq $n } | Select-Object -First 1; (@($o['broken_outcome']) -join ', ') })  |")
        $null = $sb.AppendLine("| Downtime (ms) | $(& $cells { param($st, $n) Cell $st.BrokenDown }) |")
        $null = $sb.AppendLine("| Failed /health probes | $(& $cells { param($st, $n) Cnt $st.BrokenFail }) |")
        $null = $sb.AppendLine("| v1.2.3 answering again, from the start (s; 0 = never stopped answering) | $(& $cells { param($st, $n) Cell $st.BrokenBack '0.0' }) |")
        $null = $sb.AppendLine("| Commands, start to end (s) | $(& $cells { param($st, $n) Cell $st.BrokenWall '0.0' }) |")
        $null = $sb.AppendLine()
        $null = $sb.AppendLine("The runbook script deploys the broken tag as written; its Step 6.2 loop passes on the first answer (``curl -s`` succeeds on a 503), Step 7.1 shows ``""status"": ""unhealthy""``, and the script stops there (exit 3); then its Quick Rollback runs at once (no time for a person to read the answer and decide is counted).")
        $null = $sb.AppendLine()
    }

    # Keep-alive and the reload trap
    $ka = $summary['module-bluegreen-keepalive']
    $kaOps = @($measured | Where-Object Scenario -EQ 'module-bluegreen-keepalive')
    if ($kaOps -or $trapObject) {
        $mainOps = @($measured | Where-Object { $_.Scenario -eq 'module-bluegreen' -and $_.Kind -ne 'broken' })
        $null = $sb.AppendLine('**The prober through nginx with keep-alive off and on** (nginx reloads at every switch; its old workers close idle keep-alive connections as they exit)')
        $null = $sb.AppendLine()
        $null = $sb.AppendLine('| prober | what ran | nginx reloads | probes | failed probes | failures |')
        $null = $sb.AppendLine('|---|---|---|---|---|---|')
        $null = $sb.AppendLine("| keep-alive off (``Connection: close``, a new connection per probe) | the $Runs runs above: $($mainOps.Count) deploys and rollbacks | $($mainOps.Count) | $(@($mainOps | Measure-Object Probes -Sum).Sum) | $(@($mainOps | Measure-Object FailedProbes -Sum).Sum) | $((@($mainOps | ForEach-Object { $_.ProbeFailures | ForEach-Object { "$($_.Count) x $($_.Failure)" } }) -join '; ')) |")
        if ($kaOps) {
            $null = $sb.AppendLine("| keep-alive on (one connection, reused while nginx keeps it) | one cycle: deploy ``-KeepPrevious`` + warm rollback | $($kaOps.Count) | $(@($kaOps | Measure-Object Probes -Sum).Sum) | $(@($kaOps | Measure-Object FailedProbes -Sum).Sum) | $((@($kaOps | ForEach-Object { $_.ProbeFailures | ForEach-Object { "$($_.Count) x $($_.Failure)" } }) + @("$(@($kaOps | Measure-Object StaleConnections -Sum).Sum) idle connections closed by nginx, replaced before a request")) -join '; ') |")
        }
        if ($trapObject) {
            foreach ($k in 'keepalive_on', 'keepalive_off') {
                $t = $trapObject[$k]
                if (-not $t) { continue }
                $null = $sb.AppendLine("| $(if ($k -eq 'keepalive_on') { 'keep-alive on' } else { 'keep-alive off' }) | reload trap: $($t.switches) ``Switch-VaultTraffic`` between two warm slots ($(Fmt $t.switch_ms_median) ms each, median)$(if (-not $t.ok) { " (FAILED: $($t.error))" }) | $($t.switches) | $($t.probes) | $($t.failed_probes) | $((@($t.failures) + @(if ($k -eq 'keepalive_on') { "$($t.stale_connections_replaced) idle connections closed by nginx, replaced before a request" })) -join '; ') |")
            }
        }
        $null = $sb.AppendLine()
        $null = $sb.AppendLine('The prober never retries a request. Like curl and .NET''s HttpClient it does not send on an idle connection that the server has already closed (it replaces it: not a failure, but counted above: a client that sends without that check fails once for each); a request already sent when nginx closes the connection fails. Browsers and most HTTP clients retry such a request on a new connection once; the figures count it as failed.')
        $null = $sb.AppendLine()
    }
}
if ($extra.Contains('import') -or $extra.Contains('fanout')) {
    $null = $sb.AppendLine('| Other measurements | median | min–max |')
    $null = $sb.AppendLine('|---|---|---|')
    foreach ($x in @($extra['import'])) { if ($x) { $null = $sb.AppendLine("| ``Import-Module`` in a fresh pwsh, $($x.runs) runs (ms) | $(Fmt $x.import_ms_median) | $(Fmt $x.import_ms_min)–$(Fmt $x.import_ms_max) |") } }
    foreach ($x in @($extra['fanout'])) {
        if ($x) {
            $null = $sb.AppendLine("| $($x.scenario): 1 target (ms) | $(Fmt $x.one_ms_median) | $(Fmt (($x.one_ms | Measure-Object -Minimum).Minimum))–$(Fmt (($x.one_ms | Measure-Object -Maximum).Maximum)) |")
            $unhealthy = if ($x.PSObject.Properties['many_unhealthy'] -and @($x.many_unhealthy | Where-Object { $_ -gt 0 })) { "; targets without a healthy answer per run: $(@($x.many_unhealthy) -join ', ') ($($x.first_problem))" } else { '' }
            $load = if ($x.PSObject.Properties['load_before'] -and $x.load_before) { "; load $($x.load_before) before, $($x.load_after) after" } else { '' }
            $null = $sb.AppendLine("| $($x.scenario): $($x.targets) targets, throttle $($x.throttle_limit) (ms) | $(Fmt $x.many_ms_median) (**$(Fmt $x.ratio_many_to_one '0.00')x** the 1-target time, goal at most 2x$unhealthy$load) | $(Fmt (($x.many_ms | Measure-Object -Minimum).Minimum))–$(Fmt (($x.many_ms | Measure-Object -Maximum).Maximum)) |")
        }
    }
    $null = $sb.AppendLine()
}
$null = $sb.AppendLine("Machine: $($machine.cpu), $($machine.cores) cores, $($machine.memory_gb) GB; $($machine.os), kernel $($machine.kernel); node $($machine.node), npm $($machine.npm), PM2 $($machine.pm2), git $($machine.git), PowerShell $($machine.pwsh).")
$null = $sb.AppendLine("Load average (1/5/15 min) at the start of each measured operation: $(($machine.load_samples | Select-Object -Unique) -join '; ') (the bench's own services, PostgreSQL, PM2 daemons, nginx and the probers, keep it near 2 on these 2 cores; well above that, something else ran).")
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
$gDeploys = @(Get-Ops 'module-bluegreen' 'deploy')
$gRollbacks = @(Get-Ops 'module-bluegreen' 'rollback')
$gColdRollbacks = @(Get-Ops 'module-bluegreen' 'rollback-cold')
foreach ($set in @(@{ Title = 'Module, Invoke-VaultDeployment: steps (median ms; child = time a git/npm/pm2 child ran within the step)'; Ops = $mDeploys },
        @{ Title = 'Module, Undo-VaultDeployment: steps (median ms)'; Ops = $mRollbacks },
        @{ Title = 'Module blue-green, Invoke-VaultDeployment -KeepPrevious: steps (median ms; "in outage" = while /health failed through nginx)'; Ops = $gDeploys },
        @{ Title = 'Module blue-green, Undo-VaultDeployment with blue warm: steps (median ms)'; Ops = $gRollbacks },
        @{ Title = 'Module blue-green, Undo-VaultDeployment with blue stopped (cold): steps (median ms)'; Ops = $gColdRollbacks })) {
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
        @{ Title = 'Module, rollback: child processes'; Ops = $mRollbacks },
        @{ Title = 'Module blue-green, warm rollback: child processes (ms: until the command ended, including the drain)'; Ops = $gRollbacks })) {
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
if ($bgRatios) { [pscustomobject]$bgRatios | Format-List | Out-Host }
if ($failedOps) { Write-Warning "$($failedOps.Count) measured operation(s) failed: $(($failedOps | ForEach-Object { "$($_.Scenario) $($_.Kind) run $($_.Run): $($_.Error)" }) -join '; ')"; exit 1 }
