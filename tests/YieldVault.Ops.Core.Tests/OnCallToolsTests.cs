using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using YieldVault.Ops;
using YieldVault.Ops.Diagnosis;
using YieldVault.Ops.Hosts;
using YieldVault.Ops.Probes;
using YieldVault.Ops.Releases;
using YieldVault.Ops.Runbook;

namespace YieldVault.Ops.Core.Tests;

/// <summary>
/// The on-call tools' parsing and rules (journal read back, the lock by hand on this machine's shell, -FailOn thresholds,
/// the sampler's output, ls-remote for tab completion). The Pester suites run them against real services.
/// </summary>
public sealed class OnCallToolsTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "yv-oncall-" + Guid.NewGuid().ToString("N").Substring(0, 8));
    private readonly VaultTarget _target;
    private readonly LocalShell _shell = new();

    public OnCallToolsTests()
    {
        Directory.CreateDirectory(_root);
        _target = new VaultTarget { Name = "oncall-1", AppPath = _root + "/app", StatePath = _root + "/state", LogPath = _root + "/logs/backend.log" };
    }

    [Fact]
    public void A_journal_without_an_end_is_unfinished_and_an_abandoned_one_says_so()
    {
        var lines = new[]
        {
            """{"time":"2026-11-26T04:00:00.0000000+00:00","run":"20261126T040000Z-1a2b3c","step":"run","phase":"start","detail":"deploy v1.3.0 by ops on laptop"}""",
            """{"time":"2026-11-26T04:00:01.0000000+00:00","run":"20261126T040000Z-1a2b3c","step":"Lock and journal","phase":"end","outcome":"Succeeded","durationMs":812.5,"detail":"lock /x"}""",
            """{"time":"2026-11-26T04:00:02.0000000+00:00","run":"20261126T040000Z-1a2b3c","step":"Stop current service","phase":"start"}""",
            "cut short by a full dis",
        };
        var unfinished = JournalReader.Parse(_target, "20261126T040000Z-1a2b3c", lines, lockHeld: false);
        Assert.Equal("Unfinished", unfinished.Outcome);
        Assert.Equal(1, unfinished.BadLines);
        Assert.Equal("deploy v1.3.0 by ops on laptop", unfinished.What);
        Assert.Equal(TimeSpan.FromMilliseconds(812.5), unfinished.Steps[0].Duration);
        Assert.Equal("", unfinished.Steps[1].Outcome);
        Assert.Equal("Running", JournalReader.Parse(_target, "20261126T040000Z-1a2b3c", lines, lockHeld: true).Outcome);

        var abandoned = DeploymentLock.AbandonedLine("run=20261126T040000Z-1a2b3c token=x host=h", "its process 4242 on this machine is gone", "Unlock-VaultDeployment (ops@laptop)",
            DateTimeOffset.Parse("2026-11-26T05:00:00Z", CultureInfo.InvariantCulture))!;
        var closed = JournalReader.Parse(_target, "20261126T040000Z-1a2b3c", lines.Append(abandoned).ToArray(), lockHeld: false);
        Assert.Equal("Abandoned", closed.Outcome);
        Assert.Contains("its process 4242 on this machine is gone", closed.Detail, StringComparison.Ordinal);
        Assert.Equal(TimeSpan.FromHours(1), closed.Duration);
    }

    [Fact]
    public async Task A_stale_lock_is_cleared_and_its_journal_closed_a_live_one_only_with_force()
    {
        var lockPath = DeploymentReadiness.LockPath(_target);
        Directory.CreateDirectory(Path.GetDirectoryName(lockPath)!);
        Directory.CreateDirectory(DeploymentJournal.DirectoryOf(_target));
        const string deadRun = "20261126T040000Z-dead00";
        File.WriteAllText(JournalReader.PathOf(_target, deadRun),
            """{"time":"2026-11-26T04:00:00.0000000+00:00","run":"20261126T040000Z-dead00","step":"run","phase":"start","detail":"deploy v1.3.0 by ops on here"}""" + "\n");
        // A pid of this machine that is gone: the process of a short command that has exited.
        var deadPid = await ExitedPidAsync();
        File.WriteAllText(lockPath, $"run={deadRun} token=abc123 host={Environment.MachineName} boot={MachineIdentity.BootId} pidns={MachineIdentity.PidNamespace} pid={deadPid} user=ops started=2026-11-26T04:00:00Z\n");

        var read = await LockInspection.ReadAsync(_target, _shell, CancellationToken.None);
        Assert.NotNull(read);
        Assert.True(read!.IsStale);
        Assert.Equal(deadRun, read.RunId);
        Assert.Equal(deadPid, read.ProcessId);
        Assert.Contains("is gone", read.StaleReason, StringComparison.Ordinal);

        var cleared = await LockInspection.ClearAsync(_target, _shell, force: false, read, CancellationToken.None);
        Assert.True(cleared!.Cleared);
        Assert.False(File.Exists(lockPath));
        var journal = JournalReader.Parse(_target, deadRun, File.ReadAllLines(JournalReader.PathOf(_target, deadRun)), lockHeld: false);
        Assert.Equal("Abandoned", journal.Outcome);
        Assert.Null(await LockInspection.ReadAsync(_target, _shell, CancellationToken.None));

        // A live lock: this process holds it through a real run's lock.
        var liveRun = DeploymentJournal.NewRunId(DateTimeOffset.UtcNow);
        var held = await DeploymentLock.AcquireAsync(_target, _shell, liveRun, force: false, CancellationToken.None);
        try
        {
            var live = await LockInspection.ReadAsync(_target, _shell, CancellationToken.None);
            Assert.False(live!.IsStale);
            var refused = await Assert.ThrowsAsync<VaultException>(() => LockInspection.ClearAsync(_target, _shell, force: false, live, CancellationToken.None));
            Assert.Equal(ErrorIds.DeploymentLocked, refused.ErrorId);
            Assert.True(File.Exists(lockPath));

            var stranger = new VaultDeploymentLockInfo { RunId = "20200101T000000Z-000000" };
            var changed = await Assert.ThrowsAsync<VaultException>(() => LockInspection.ClearAsync(_target, _shell, force: true, stranger, CancellationToken.None));
            Assert.Equal(ErrorIds.LockChanged, changed.ErrorId);

            var forced = await LockInspection.ClearAsync(_target, _shell, force: true, live, CancellationToken.None);
            Assert.True(forced!.Cleared);
            Assert.False(File.Exists(lockPath));
        }
        finally
        {
            await held.DisposeAsync();
        }
    }

    [Fact]
    public void FailOn_thresholds_name_known_measures_and_report_what_was_crossed()
    {
        var thresholds = WatchThresholds.From(new Dictionary<string, double> { ["restarts"] = 0, ["LatencyMs"] = 250 });
        Assert.Equal("Restarts > 0, LatencyMs > 250", thresholds.ToString());
        var sample = new VaultWatchSample { Restarts = 1, StatusCode = 200, LatencyMs = 300, Healthy = true };
        Assert.Equal(new[] { "Restarts 1 > 0", "LatencyMs 300 > 250" }, thresholds.Breaches(sample));
        Assert.Empty(thresholds.Breaches(new VaultWatchSample { StatusCode = 200, LatencyMs = 20, Healthy = true }));

        var unknown = Assert.Throws<VaultException>(() => WatchThresholds.From(new Dictionary<string, double> { ["Cpu"] = 90 }));
        Assert.Equal(ErrorIds.InvalidThreshold, unknown.ErrorId);
        Assert.Equal(ErrorIds.InvalidThreshold, Assert.Throws<VaultException>(() => WatchThresholds.From(new Dictionary<string, double> { ["Errors"] = -1 })).ErrorId);
    }

    [Fact]
    public void The_sampler_output_gives_memory_growth_and_cpu_counters()
    {
        var output = "hz 100\n" + string.Join("\n", Enumerable.Range(0, 6).Select(i =>
            $"s {1700000000000 + (i * 1000)} {70000 + (i * 5120)} {100 + (i * 50)} {10000 + (i * 400)} {5000 + (i * 100)} {200 + (i * 4)}"));
        var (samples, hz) = ProcessSampler.Parse(output);
        Assert.Equal(100, hz);
        Assert.Equal(6, samples.Count);
        Assert.Equal(5, samples[5].Seconds);
        var rate = ProcessSampler.SlopePerMinute(samples.Select(s => (s.Seconds, s.RssMB!.Value)).ToList());
        Assert.Equal(300, rate, 1);
        Assert.Null(ProcessSampler.Parse("hz 100\ns 1700000000000 - - 1 1 1").Samples[0].RssMB);
    }

    [Fact]
    public void Refs_for_completion_are_tags_newest_version_first_then_branches()
    {
        var lsRemote = "aaa\trefs/heads/main\nbbb\trefs/tags/v1.2.3\nccc\trefs/tags/v1.10.0\nddd\trefs/tags/v1.10.0^{}\neee\trefs/tags/v1.3.1-broken\nfff\trefs/heads/feature/x\n";
        Assert.Equal(new[] { ("v1.10.0", "tag"), ("v1.3.1-broken", "tag"), ("v1.2.3", "tag"), ("feature/x", "branch"), ("main", "branch") }, DeploymentSources.ParseRefs(lsRemote));
    }

    [Fact]
    public void Default_read_paths_are_the_runbook_backends_database_and_rpc_reads()
    {
        Assert.Equal(new[] { "/api/v1/transactions?limit=1", "/api/v1/vault/total-assets" }, DiagnosisRequest.DefaultReadPaths(_target));
        var plain = new VaultTarget { Name = "plain", SmokePreset = SmokePreset.None, SmokeChecks = new[] { new SmokeCheck { Name = "Items", Path = "/items" } } };
        Assert.Equal(new[] { "/items" }, DiagnosisRequest.DefaultReadPaths(plain));
    }

    public void Dispose()
    {
        _shell.Dispose();
        Directory.Delete(_root, recursive: true);
    }

    private async Task<int> ExitedPidAsync()
    {
        var result = await _shell.RunAsync(CommandLine.Script("sh -c 'echo $$'"), TimeSpan.FromSeconds(10), CancellationToken.None);
        return int.Parse(result.StandardOutput.Trim(), CultureInfo.InvariantCulture);
    }
}
