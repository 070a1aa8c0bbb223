using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using YieldVault.Ops.Probes;
using YieldVault.Ops.Services;

namespace YieldVault.Ops.Diagnosis;

/// <summary>
/// The runbook's "Issue: High Memory Usage" and "Issue: Slow Response Times" from one sampling window: the process's
/// RSS (and PM2's heap figure) over the window, restarts and out-of-memory lines in the log; the latency of health and
/// read endpoints (timed while the sample runs), of the Stellar RPC and of SELECT 1, the process's CPU and the host's
/// I/O wait.
/// </summary>
internal static class ResourceChecks
{
    /// <summary>A leak: RSS grew at least this much over the window ...</summary>
    public const double LeakGrowthMB = 20;

    /// <summary>... at this rate or more ...</summary>
    public const double LeakRateMBPerMinute = 30;

    /// <summary>... with most readings above the one before.</summary>
    public const double LeakRisingShare = 0.6;

    /// <summary>Memory above this is reported as high even when it is steady.</summary>
    public const double HighMemoryMB = 1024;

    private const string MemoryRunbook = "High memory 1: check for memory leaks (node --inspect), 5: heap snapshots";
    private static readonly string[] OutOfMemoryWords = { "heap out of memory", "Allocation failed", "ENOMEM", "out of memory" };

    private sealed record Timing(string Path, IReadOnlyList<double> Ms, int Failed, int RateLimited, IReadOnlyDictionary<int, int> Codes, string? Error)
    {
        public double P(double q) => Ms.Count == 0 ? 0 : Ms.OrderBy(m => m).ElementAt(Math.Max(0, (int)Math.Ceiling(q * Ms.Count) - 1));
    }

    public static async Task RunAsync(DiagnosisContext c, bool memory, bool slow, Action<string> progress, CancellationToken cancellationToken)
    {
        var state = await c.StateAsync(cancellationToken).ConfigureAwait(false);
        var pid = state is { Status: ServiceStatus.Running or ServiceStatus.Starting or ServiceStatus.CrashLooping } ? state.Pid : null;
        progress($"sampling {c.Request.Sample.TotalSeconds:0} s" + (slow ? " and timing requests" : ""));
        var sampling = ProcessSampler.SampleAsync(c.Shell, pid, c.Request.Sample, cancellationToken);
        Task<(IReadOnlyList<Timing> Endpoints, IReadOnlyList<VaultDependencyResult> Rpc, IReadOnlyList<VaultDependencyResult> Database)>? timing =
            slow ? TimeAsync(c, cancellationToken) : null;
        var (samples, hz) = await sampling.ConfigureAwait(false);
        var timings = timing is null ? default : await timing.ConfigureAwait(false);
        if (memory)
        {
            progress("memory trend and restarts");
            var after = pid is null ? null : await ReadStateAsync(c, cancellationToken).ConfigureAwait(false);
            MemoryTrend(c, state, after, pid, samples);
            await RestartsAsync(c, state, cancellationToken).ConfigureAwait(false);
        }

        if (slow)
        {
            var rpc = Median(timings.Rpc);
            var db = Median(timings.Database);
            foreach (var endpoint in timings.Endpoints)
            {
                Latency(c, endpoint, endpoint.Path == c.Target.HealthPath ? "HealthLatency" : "ReadLatency", rpc, db);
            }

            RpcLatency(c, timings.Rpc, rpc);
            DatabaseLatency(c, timings.Database, db);
            Cpu(c, samples, hz, pid);
            IoWait(c, samples);
        }
    }

    private static async Task<ServiceState?> ReadStateAsync(DiagnosisContext c, CancellationToken cancellationToken)
    {
        try
        {
            return await ServiceManagers.For(c.Target, c.Shell).GetStateAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (VaultException ex) when (!ex.IsConnectionFailure)
        {
            return null;
        }
    }

    private static void MemoryTrend(DiagnosisContext c, ServiceState? before, ServiceState? after, int? pid, IReadOnlyList<ProcessSample> samples)
    {
        var points = samples.Where(s => s.RssMB is not null).Select(s => (X: s.Seconds, Y: s.RssMB!.Value)).ToList();
        if (pid is null || points.Count < 2)
        {
            c.Report(VaultSymptom.Memory, "MemoryTrend", FindingStatus.NotChecked,
                pid is null ? $"{c.Target.ServiceName} does not run: no memory to sample" : $"/proc/{pid}/status could not be read on the host", Array.Empty<string>(),
                pid is null ? "$target | Get-VaultBackendStatus" : null, MemoryRunbook);
            return;
        }

        var first = points[0].Y;
        var last = points[points.Count - 1].Y;
        var growth = last - first;
        var rate = ProcessSampler.SlopePerMinute(points);
        var rising = Enumerable.Range(1, points.Count - 1).Count(i => points[i].Y > points[i - 1].Y) / (double)(points.Count - 1);
        var seconds = points[points.Count - 1].X - points[0].X;
        var evidence = new List<string>
        {
            $"RSS of pid {pid} over {seconds:0} s: {first:0.0} -> {last:0.0} MB ({growth:+0.0;-0.0} MB, {rate:+0;-0} MB/min, {rising:P0} of readings rising)",
            "readings (MB): " + string.Join(", ", points.Select(p => p.Y.ToString("0", CultureInfo.InvariantCulture))),
        };
        if (before?.HeapUsedBytes is { } heap0 && after?.HeapUsedBytes is { } heap1)
        {
            evidence.Add($"V8 heap in use (PM2's metrics): {heap0 / 1048576.0:0.0} -> {heap1 / 1048576.0:0.0} MB");
        }

        if (growth >= LeakGrowthMB && rate >= LeakRateMBPerMinute && rising >= LeakRisingShare)
        {
            c.Report(VaultSymptom.Memory, "MemoryTrend", FindingStatus.Problem,
                $"memory grows steadily: {rate:0} MB/min ({first:0} -> {last:0} MB in {seconds:0} s): a leak, or a cache without a bound", evidence,
                $"$target | Restart-VaultBackend for relief (runbook 2); then heap snapshots of the leak: start node with --heapsnapshot-signal=SIGUSR2 and {c.OnHost($"kill -USR2 {pid}")}; what changed: $target | Get-VaultDeploymentHistory -Last 3",
                MemoryRunbook);
        }
        else if (last >= HighMemoryMB)
        {
            c.Report(VaultSymptom.Memory, "MemoryTrend", FindingStatus.Warning, $"memory is high ({last:0} MB) but steady over {seconds:0} s", evidence,
                "$target | Restart-VaultBackend, or raise the limit (runbook 3: --max-old-space-size, the unit's MemoryMax, PM2's max_memory_restart)", MemoryRunbook);
        }
        else
        {
            c.Report(VaultSymptom.Memory, "MemoryTrend", FindingStatus.Ok, $"memory is steady: {last:0} MB ({rate:+0;-0} MB/min over {seconds:0} s)", evidence, null, MemoryRunbook);
        }
    }

    private static async Task RestartsAsync(DiagnosisContext c, ServiceState? state, CancellationToken cancellationToken)
    {
        const string runbook = "High memory 2: restart service (systemctl restart yieldvault-backend)";
        var evidence = new List<string>();
        if (state is not null)
        {
            evidence.Add($"{c.Target.ServiceManager}: {state.Status}" + (state.Restarts is { } r ? $", restarts {r}" : "") + (state.Uptime is { } up ? $", up {Math.Floor(up.TotalMinutes)}m {up.Seconds}s" : ""));
        }

        string? outOfMemory = null;
        try
        {
            var (source, entries) = await LogReader.ReadAsync(c.Target, c.Shell, VaultLogSource.Auto, 500, null, cancellationToken).ConfigureAwait(false);
            outOfMemory = entries.LastOrDefault(e => OutOfMemoryWords.Any(w => e.Message.IndexOf(w, StringComparison.OrdinalIgnoreCase) >= 0))?.Message;
            evidence.Add($"log ({source}, last {entries.Count} lines): " + (outOfMemory is null ? "no out-of-memory line" : "out of memory: " + outOfMemory));
        }
        catch (VaultException ex) when (!ex.IsConnectionFailure)
        {
            evidence.Add("log: " + ex.Message);
        }

        if (outOfMemory is not null)
        {
            c.Report(VaultSymptom.Memory, "Restarts", FindingStatus.Problem, "the log shows the process ran out of memory: " + DiagnosisContext.Cut(outOfMemory, 160), evidence,
                "$target | Get-VaultBackendLog -Tail 200", runbook);
        }
        else if (state is { Status: ServiceStatus.CrashLooping })
        {
            c.Report(VaultSymptom.Memory, "Restarts", FindingStatus.Problem, $"{c.Target.ServiceName} crash-loops ({state.Restarts} restarts)", evidence, "$target | Get-VaultBackendLog -Level Error -Tail 100", runbook);
        }
        else if (state is { Restarts: > 0, Uptime: { } uptime } && uptime < TimeSpan.FromMinutes(10))
        {
            c.Report(VaultSymptom.Memory, "Restarts", FindingStatus.Warning, $"restarted {state.Restarts} time(s), the last {Math.Floor(uptime.TotalMinutes)} min ago", evidence,
                "$target | Get-VaultBackendLog -Tail 200", runbook);
        }
        else if (state is null or { Status: ServiceStatus.NotFound or ServiceStatus.Stopped })
        {
            c.Report(VaultSymptom.Memory, "Restarts", FindingStatus.NotChecked,
                state is null ? "the service manager could not be asked: " + c.StateError : $"{c.Target.ServiceName} does not run", evidence, null, runbook);
        }
        else
        {
            c.Report(VaultSymptom.Memory, "Restarts", FindingStatus.Ok, "no recent restart and no out-of-memory line in the log", evidence, null, runbook);
        }
    }

    private static async Task<(IReadOnlyList<Timing>, IReadOnlyList<VaultDependencyResult>, IReadOnlyList<VaultDependencyResult>)> TimeAsync(DiagnosisContext c, CancellationToken cancellationToken)
    {
        var baseUri = await c.Shell.GetHttpBaseAsync(c.Target.Port, cancellationToken).ConfigureAwait(false);
        var endpoints = new List<Timing>();
        foreach (var path in new[] { c.Target.HealthPath }.Concat(c.Request.ReadPaths ?? DiagnosisRequest.DefaultReadPaths(c.Target)).Distinct(StringComparer.Ordinal))
        {
            var ms = new List<double>();
            var codes = new Dictionary<int, int>();
            int failed = 0, limited = 0;
            string? error = null;
            for (var i = 0; i < c.Request.Requests; i++)
            {
                var answer = await HealthProbe.GetAsync(baseUri, path, TimeSpan.FromSeconds(10), cancellationToken).ConfigureAwait(false);
                if (answer.StatusCode is not { } code)
                {
                    failed++;
                    error ??= answer.Error;
                    continue;
                }

                codes[code] = codes.TryGetValue(code, out var n) ? n + 1 : 1;
                if (code == 429)
                {
                    limited++;
                    continue;
                }

                ms.Add(answer.LatencyMs);
            }

            endpoints.Add(new Timing(path, ms, failed, limited, codes, error));
        }

        var rpc = new List<VaultDependencyResult>();
        var database = new List<VaultDependencyResult>();
        for (var i = 0; i < 3; i++)
        {
            try
            {
                var results = await DependencyProbe.CheckAsync(c.Target, c.Shell, c.Redactor, new[] { DependencyProbe.Database, DependencyProbe.StellarRpc }, TimeSpan.FromSeconds(10), cancellationToken)
                    .ConfigureAwait(false);
                rpc.AddRange(results.Where(r => r.Dependency == DependencyProbe.StellarRpc));
                database.AddRange(results.Where(r => r.Dependency == DependencyProbe.Database));
            }
            catch (VaultException ex) when (!ex.IsConnectionFailure)
            {
                Reporting.Current.Verbose($"{c.Target.Name}: the dependencies could not be timed: {ex.Message}");
                break;
            }
        }

        return (endpoints, rpc, database);
    }

    private static double? Median(IReadOnlyList<VaultDependencyResult> results)
    {
        var ms = results.Where(r => r.Healthy && r.LatencyMs is not null).Select(r => r.LatencyMs!.Value).OrderBy(m => m).ToList();
        return ms.Count == 0 ? null : ms[ms.Count / 2];
    }

    private static void Latency(DiagnosisContext c, Timing t, string check, double? rpc, double? db)
    {
        var runbook = "Slow responses 3-5: application logs, resource usage, profiling";
        var slow = c.Request.Slow.TotalMilliseconds;
        var codes = string.Join(", ", t.Codes.OrderBy(k => k.Key).Select(k => $"{k.Key} x{k.Value}"));
        var evidence = new List<string>
        {
            $"GET {t.Path} x{t.Ms.Count + t.Failed + t.RateLimited}: " + (t.Ms.Count == 0 ? "no timed answer" : $"p50 {t.P(0.5):0} ms, p95 {t.P(0.95):0} ms, max {t.Ms.Max():0} ms")
                + (codes.Length > 0 ? $"; status {codes}" : "") + (t.Failed > 0 ? $"; {t.Failed} without an answer ({t.Error})" : ""),
        };
        if (t.Ms.Count > 0)
        {
            evidence.Add("times (ms): " + string.Join(", ", t.Ms.Select(m => m.ToString("0", CultureInfo.InvariantCulture))));
        }

        if (t.Ms.Count == 0)
        {
            c.Report(VaultSymptom.SlowResponses, check, t.RateLimited > 0 ? FindingStatus.NotChecked : FindingStatus.Problem,
                t.RateLimited > 0 ? $"GET {t.Path} was rate limited (429): its latency could not be timed" : $"GET {t.Path} got no answer: {t.Error}",
                evidence, t.RateLimited > 0 ? null : "$target | Test-VaultBackendHealth", runbook);
            return;
        }

        var p50 = t.P(0.5);
        var p95 = t.P(0.95);
        if (p95 <= slow)
        {
            c.Report(VaultSymptom.SlowResponses, check, FindingStatus.Ok, $"GET {t.Path} answers in {p50:0} ms (p95 {p95:0} ms, slow above {slow:0} ms)", evidence, null, runbook);
            return;
        }

        string why = "", next = "$target | Get-VaultBackendLog -Tail 200 (slow requests, timeouts); profile it (node --cpu-prof)";
        if (rpc is { } r && r >= p50 * 0.5)
        {
            why = $"; the Stellar RPC alone takes {r:0} ms (RpcLatency)";
            next = "see RpcLatency: the Stellar RPC is slow";
        }
        else if (db is { } d && d >= p50 * 0.5)
        {
            why = $"; the database alone takes {d:0} ms for SELECT 1 (DatabaseLatency)";
            next = "see DatabaseLatency: EXPLAIN ANALYZE the endpoint's queries";
        }

        c.Report(VaultSymptom.SlowResponses, check, FindingStatus.Problem, $"GET {t.Path} is slow: p95 {p95:0} ms, p50 {p50:0} ms (slow above {slow:0} ms)" + why, evidence, next, runbook);
    }

    private static void RpcLatency(DiagnosisContext c, IReadOnlyList<VaultDependencyResult> results, double? median)
    {
        const string runbook = "Slow responses 2: curl -w \"@curl-format.txt\" $STELLAR_RPC_URL";
        var next = c.OnHost("curl -s -o /dev/null -w 'connect %{time_connect} s, first byte %{time_starttransfer} s, total %{time_total} s\\n' -X POST -H 'Content-Type: application/json' -d '{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"getHealth\"}' \"$STELLAR_RPC_URL\"");
        if (results.Count == 0)
        {
            c.Report(VaultSymptom.SlowResponses, "RpcLatency", FindingStatus.NotChecked, "the Stellar RPC could not be timed (see -Verbose)", Array.Empty<string>(), next, runbook);
            return;
        }

        var evidence = new[] { $"getHealth at {results[0].Endpoint} x{results.Count}: " + string.Join(", ", results.Select(r => r.Healthy ? $"{r.LatencyMs:0} ms" : $"{r.ErrorId} ({r.LatencyMs:0} ms)")) };
        var failed = results.FirstOrDefault(r => !r.Healthy);
        if (failed is not null && failed.ErrorId is ErrorIds.DependencyConfigMissing or ErrorIds.EnvFileMissing)
        {
            c.Report(VaultSymptom.SlowResponses, "RpcLatency", FindingStatus.NotChecked, failed.Reason ?? "STELLAR_RPC_URL is not set", evidence, null, runbook);
        }
        else if (failed is not null)
        {
            c.Report(VaultSymptom.SlowResponses, "RpcLatency", FindingStatus.Problem, "the Stellar RPC fails: " + failed.Reason, evidence, next, runbook);
        }
        else if (median > c.Request.Slow.TotalMilliseconds)
        {
            c.Report(VaultSymptom.SlowResponses, "RpcLatency", FindingStatus.Problem, $"the Stellar RPC is slow: getHealth takes {median:0} ms from the backend's host", evidence, next, runbook);
        }
        else
        {
            c.Report(VaultSymptom.SlowResponses, "RpcLatency", FindingStatus.Ok, $"the Stellar RPC answers getHealth in {median:0} ms", evidence, null, runbook);
        }
    }

    private static void DatabaseLatency(DiagnosisContext c, IReadOnlyList<VaultDependencyResult> results, double? median)
    {
        const string runbook = "Slow responses 1: EXPLAIN ANALYZE SELECT ...";
        var next = c.OnHost("psql \"$DATABASE_URL\" -c 'EXPLAIN ANALYZE <the slow query>'") + "; slow queries in the log: $target | Get-VaultBackendLog -Tail 200";
        if (results.Count == 0)
        {
            c.Report(VaultSymptom.SlowResponses, "DatabaseLatency", FindingStatus.NotChecked, "the database could not be timed (see -Verbose)", Array.Empty<string>(), null, runbook);
            return;
        }

        var evidence = new[] { $"SELECT 1 on {results[0].Endpoint} x{results.Count}: " + string.Join(", ", results.Select(r => r.Healthy ? $"{r.LatencyMs:0} ms" : $"{r.ErrorId}")) };
        var failed = results.FirstOrDefault(r => !r.Healthy);
        if (failed is not null)
        {
            var notConfigured = failed.ErrorId is ErrorIds.DependencyConfigMissing or ErrorIds.EnvFileMissing;
            c.Report(VaultSymptom.SlowResponses, "DatabaseLatency", notConfigured ? FindingStatus.NotChecked : FindingStatus.Problem,
                notConfigured ? failed.Reason ?? "DATABASE_URL is not set" : "SELECT 1 fails: " + failed.Reason, evidence, "$target | Get-VaultDiagnosis -Symptom Database", runbook);
        }
        else if (median > 100)
        {
            c.Report(VaultSymptom.SlowResponses, "DatabaseLatency", FindingStatus.Warning, $"the database is slow to answer: SELECT 1 takes {median:0} ms", evidence, next, runbook);
        }
        else
        {
            c.Report(VaultSymptom.SlowResponses, "DatabaseLatency", FindingStatus.Ok, $"the database answers SELECT 1 in {median:0} ms", evidence, null, runbook);
        }
    }

    private static void Cpu(DiagnosisContext c, IReadOnlyList<ProcessSample> samples, int hz, int? pid)
    {
        const string runbook = "Slow responses 4: check resource usage (top)";
        if (samples.Count < 2)
        {
            c.Report(VaultSymptom.SlowResponses, "Cpu", FindingStatus.NotChecked, "the host's CPU could not be sampled", Array.Empty<string>(), c.OnHost("top -b -n 1 | head -20"), runbook);
            return;
        }

        var first = samples[0];
        var last = samples[samples.Count - 1];
        var total = Math.Max(1, last.HostTotal - first.HostTotal);
        var hostBusy = 100.0 * (total - (last.HostIdle - first.HostIdle) - (last.HostIoWait - first.HostIoWait)) / total;
        var seconds = Math.Max(0.001, last.Seconds - first.Seconds);
        double? process = pid is not null && first.CpuTicks is { } t0 && last.CpuTicks is { } t1 ? 100.0 * (t1 - t0) / hz / seconds : null;
        var evidence = new List<string> { $"host CPU busy over {seconds:0} s: {hostBusy:0}%" };
        if (process is { } p)
        {
            evidence.Add($"pid {pid}: {p:0}% of one core");
        }

        if (process >= 90)
        {
            c.Report(VaultSymptom.SlowResponses, "Cpu", FindingStatus.Problem, $"the backend uses {process:0}% of a core: Node runs JavaScript on one core, so requests queue", evidence,
                "profile it: " + c.OnHost($"node --cpu-prof, or kill -USR1 {pid} and attach an inspector") + " (runbook 5)", runbook);
        }
        else if (hostBusy >= 90)
        {
            c.Report(VaultSymptom.SlowResponses, "Cpu", FindingStatus.Warning, $"the host's CPU is {hostBusy:0}% busy: something else competes with the backend", evidence, c.OnHost("top -b -n 1 | head -20"), runbook);
        }
        else
        {
            c.Report(VaultSymptom.SlowResponses, "Cpu", FindingStatus.Ok, process is { } q ? $"CPU is not the bottleneck: the backend {q:0}%, the host {hostBusy:0}% busy" : $"the host's CPU is {hostBusy:0}% busy", evidence, null, runbook);
        }
    }

    private static void IoWait(DiagnosisContext c, IReadOnlyList<ProcessSample> samples)
    {
        const string runbook = "Slow responses 4: check resource usage (iostat)";
        if (samples.Count < 2)
        {
            c.Report(VaultSymptom.SlowResponses, "IoWait", FindingStatus.NotChecked, "the host's I/O wait could not be sampled", Array.Empty<string>(), c.OnHost("iostat -x 1 5"), runbook);
            return;
        }

        var first = samples[0];
        var last = samples[samples.Count - 1];
        var total = Math.Max(1, last.HostTotal - first.HostTotal);
        var wait = 100.0 * (last.HostIoWait - first.HostIoWait) / total;
        var evidence = new[] { $"I/O wait over {last.Seconds - first.Seconds:0} s: {wait:0.0}% of CPU time (/proc/stat)" };
        var status = wait >= 30 ? FindingStatus.Problem : wait >= 10 ? FindingStatus.Warning : FindingStatus.Ok;
        c.Report(VaultSymptom.SlowResponses, "IoWait", status,
            status == FindingStatus.Ok ? $"the disks keep up: {wait:0.0}% I/O wait" : $"the host waits on its disks {wait:0}% of the time", evidence,
            status == FindingStatus.Ok ? null : c.OnHost("iostat -x 1 5; what writes: iotop -o"), runbook);
    }
}
