using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Newtonsoft.Json.Linq;
using YieldVault.Ops;
using YieldVault.Ops.Hosts;
using YieldVault.Ops.Runbook;

namespace YieldVault.Ops.Core.Tests;

public class DeploymentRecordsTests
{
    private const string Commit = "1d137c0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e";
    private static readonly DateTimeOffset Started = new(2026, 11, 26, 4, 0, 0, TimeSpan.Zero);

    private static VaultTarget Target(string state = "/var/lib/yieldvault-ops", string log = "/var/log/yieldvault/backend.log") =>
        new() { Name = "prod-1", StatePath = state, LogPath = log };

    private static VaultDeploymentResult Deployment(DeploymentStatus status = DeploymentStatus.Succeeded, string kind = "deploy", string? incident = "INCIDENT-123") => new()
    {
        Target = Target(), RunId = "20261126T040000Z-a1b2c3", Kind = kind, Status = status, Source = "v1.3.0", Incident = incident,
        StartedAt = Started, Duration = TimeSpan.FromSeconds(83.25), VersionBefore = "1.2.3", CommitBefore = "0000000000000000000000000000000000000abc",
        VersionAfter = "1.3.0", CommitAfter = Commit, ReleaseBefore = "20261120T100000Z-0000abc", ReleaseAfter = "20261126T040010Z-1d137c0",
        DowntimeMs = 1250.5, FailedProbes = 3, JournalPath = "/var/lib/yieldvault-ops/yieldvault-backend/journal/20261126T040000Z-a1b2c3.jsonl",
    };

    private static VaultDeploymentRecord Record(VaultDeploymentResult result, SecretRedactor? redactor = null) =>
        DeploymentRecords.Create(Target(), result, redactor ?? new SecretRedactor(), "ops@laptop");

    [Fact]
    public void Paths_are_beside_the_log_file_and_under_the_state_path()
    {
        var target = Target("/srv/state/", "/var/log/yieldvault/backend.log");
        Assert.Equal("/var/log/yieldvault/deployments.log", DeploymentRecords.LogPath(target));
        Assert.Equal("/srv/state/yieldvault-backend/history.jsonl", DeploymentRecords.HistoryPath(target));
        Assert.Equal("/var/log/yieldvault/deployments.log", DeploymentRecords.LogPath(new VaultTarget()));
    }

    [Fact]
    public void The_log_block_is_the_runbooks_with_Success_for_a_deployment_that_succeeded()
    {
        var block = DeploymentRecords.ToLogBlock(Record(Deployment()));

        // Ended 83 s after the start; Step 10.2's `date -Iseconds` on a UTC server.
        Assert.Equal(
            "Deployment: 2026-11-26T04:01:23+00:00\n" +
            $"Version: {Commit}\n" +
            "Deployed By: ops@laptop\n" +
            "Incident: INCIDENT-123\n" +
            "Status: Success\n" +
            "\n",
            block);
    }

    [Theory]
    [InlineData("deploy", DeploymentStatus.Succeeded, "Success")]
    [InlineData("deploy", DeploymentStatus.RolledBack, "RolledBack")]
    [InlineData("deploy", DeploymentStatus.Failed, "Failed")]
    [InlineData("rollback", DeploymentStatus.Succeeded, "Rollback")]
    [InlineData("rollback", DeploymentStatus.Failed, "Failed")]
    [InlineData("drill", DeploymentStatus.Succeeded, "Success")]
    public void The_log_status_says_what_happened(string kind, DeploymentStatus status, string expected)
    {
        var block = DeploymentRecords.ToLogBlock(Record(Deployment(status, kind)));
        Assert.Contains($"\nStatus: {expected}\n\n", block, StringComparison.Ordinal);
    }

    [Fact]
    public void The_log_block_falls_back_to_the_version_and_dashes_and_keeps_one_line_per_field()
    {
        var result = Deployment(incident: null);
        result.CommitAfter = null;
        result.VersionAfter = "1.3.0\nStatus: Success";
        var block = DeploymentRecords.ToLogBlock(Record(result));

        var lines = block.Split('\n');
        Assert.Equal(7, lines.Length);
        Assert.Equal("Version: 1.3.0 Status: Success", lines[1]);
        Assert.Equal("Incident: -", lines[3]);
        Assert.Single(lines, l => l.StartsWith("Status:", StringComparison.Ordinal));

        result.VersionAfter = null;
        Assert.Contains("\nVersion: unknown\n", DeploymentRecords.ToLogBlock(Record(result)), StringComparison.Ordinal);
    }

    [Fact]
    public void The_history_line_is_one_JSON_object_with_every_field()
    {
        var line = DeploymentRecords.ToHistoryLine(Record(Deployment()));

        Assert.DoesNotContain("\n", line, StringComparison.Ordinal);
        var json = JObject.Parse(line);
        Assert.Equal(
            new[]
            {
                "run", "kind", "status", "source", "versionBefore", "versionAfter", "commitBefore", "commitAfter", "releaseBefore", "releaseAfter",
                "startedAt", "durationMs", "downtimeMs", "failedProbes", "incident", "migrated", "deployedBy", "journal", "errorId", "error",
            },
            json.Properties().Select(p => p.Name));
        Assert.StartsWith("{\"run\":\"20261126T040000Z-a1b2c3\",\"kind\":\"deploy\",\"status\":\"Succeeded\",\"source\":\"v1.3.0\",\"versionBefore\":\"1.2.3\",\"versionAfter\":\"1.3.0\",", line, StringComparison.Ordinal);
        Assert.Contains("\"startedAt\":\"2026-11-26T04:00:00.0000000+00:00\",\"durationMs\":83250.0,\"downtimeMs\":1250.5,\"failedProbes\":3,\"incident\":\"INCIDENT-123\",\"migrated\":false,\"deployedBy\":\"ops@laptop\",", line, StringComparison.Ordinal);
        Assert.EndsWith("\"errorId\":null,\"error\":null}", line, StringComparison.Ordinal);
    }

    [Fact]
    public void Secrets_never_reach_either_record()
    {
        var redactor = new SecretRedactor();
        redactor.Add("Planted-Api-Key-1234");
        var result = Deployment(DeploymentStatus.Failed);
        result.Error = "migration failed: DATABASE_URL=postgres://yv:pg-s3cret@db/yv ADMIN_API_KEY=Planted-Api-Key-1234";
        result.ErrorId = "MigrationFailed";
        result.VersionAfter = "Planted-Api-Key-1234";
        var record = DeploymentRecords.Create(Target(), result, redactor, "ops@laptop");

        foreach (var text in new[] { DeploymentRecords.ToHistoryLine(record), DeploymentRecords.ToLogBlock(record) })
        {
            Assert.DoesNotContain("Planted-Api-Key-1234", text, StringComparison.Ordinal);
            Assert.DoesNotContain("pg-s3cret", text, StringComparison.Ordinal);
        }

        Assert.Equal("migration failed: DATABASE_URL=postgres://yv:***@db/yv ADMIN_API_KEY=***", record.Error);
    }

    [Fact]
    public void A_stopped_run_is_recorded_as_cancelled()
    {
        var result = Deployment(DeploymentStatus.Failed);
        var record = DeploymentRecords.Create(Target(), result, new SecretRedactor(), "ops@laptop", cancelled: true);
        Assert.Equal("Cancelled", record.ErrorId);
        Assert.Equal("stopped by the user (Ctrl+C)", record.Error);
        Assert.Equal(DeploymentStatus.Failed, record.Status);
    }

    [Fact]
    public void A_history_line_parses_back_to_the_same_record()
    {
        var result = Deployment(DeploymentStatus.RolledBack);
        result.ErrorId = "HealthCheckTimeout";
        result.Error = "no \"healthy\" answer\nwithin 8 s";
        var written = Record(result);
        var target = Target();

        var read = Assert.Single(DeploymentRecords.Parse(DeploymentRecords.ToHistoryLine(written) + "\n", target, (n, why) => Assert.Fail($"line {n}: {why}")));

        Assert.Same(target, read.Target);
        foreach (var property in typeof(VaultDeploymentRecord).GetProperties().Where(p => p.Name != nameof(VaultDeploymentRecord.Target)))
        {
            Assert.Equal(property.GetValue(written), property.GetValue(read));
        }

        Assert.Equal(TimeSpan.Zero, read.StartedAt.Offset);
    }

    [Fact]
    public void Corrupt_lines_are_reported_by_number_and_skipped()
    {
        var good = DeploymentRecords.ToHistoryLine(Record(Deployment()));
        var text = string.Join("\n",
            good,                                                    // 1
            "{\"run\":\"x\",\"kind\":\"deploy\",\"status\":\"Succ",  // 2: cut off by a full disk
            "",                                                      // 3: blank, ignored
            "not json at all",                                       // 4
            "{\"run\":\"x\",\"kind\":\"deploy\",\"status\":\"Exploded\",\"startedAt\":\"2026-11-26T04:00:00Z\"}", // 5
            "{\"kind\":\"deploy\",\"status\":\"Failed\",\"startedAt\":\"2026-11-26T04:00:00Z\"}",                 // 6: no run
            "{\"run\":\"x\",\"kind\":\"deploy\",\"status\":\"Failed\",\"startedAt\":\"yesterday\"}",               // 7
            "{\"run\":\"x\",\"kind\":\"deploy\",\"status\":\"Failed\",\"startedAt\":\"2026-11-26T04:00:00Z\",\"durationMs\":\"long\"}", // 8
            "[1,2,3]",                                               // 9
            good.Replace("20261126T040000Z-a1b2c3", "second", StringComparison.Ordinal) + "\r", // 10: CRLF is fine
            "");
        var bad = new List<(int Line, string Why)>();

        var records = DeploymentRecords.Parse(text, null, (n, why) => bad.Add((n, why)));

        Assert.Equal(new[] { "20261126T040000Z-a1b2c3", "second" }, records.Select(r => r.RunId));
        Assert.Equal(new[] { 2, 4, 5, 6, 7, 8, 9 }, bad.Select(b => b.Line));
        Assert.Equal("not JSON", bad[0].Why);
        Assert.Contains("Exploded", bad[2].Why, StringComparison.Ordinal);
        Assert.Equal("no run", bad[3].Why);
        Assert.Contains("durationMs", bad[5].Why, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Appends_pass_paths_and_text_as_arguments_never_as_script()
    {
        var shell = new FakeShell(_ => new CommandResult("fake", 0, "", "", TimeSpan.Zero));
        var target = Target("/srv/it's state", "/var/log/$(reboot)/backend.log");

        await DeploymentRecords.AppendAsync(target, shell, Deployment(), new SecretRedactor(), CancellationToken.None);

        Assert.Equal(2, shell.Calls.Count);
        var script = shell.Calls[0].Arguments[1];
        Assert.All(shell.Calls, c => Assert.Equal("sh", c.Program));
        Assert.All(shell.Calls, c => Assert.Equal(script, c.Arguments[1]));
        Assert.Contains("printf '%s' \"$2\" >> \"$1\"", script, StringComparison.Ordinal);
        Assert.Equal("/srv/it's state/yieldvault-backend/history.jsonl", shell.Calls[0].Arguments[3]);
        Assert.EndsWith("}\n", shell.Calls[0].Arguments[4], StringComparison.Ordinal);
        Assert.Equal("/var/log/$(reboot)/deployments.log", shell.Calls[1].Arguments[3]);
        Assert.StartsWith("Deployment: ", shell.Calls[1].Arguments[4], StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_record_that_cannot_be_written_is_a_warning_not_a_failure()
    {
        var warnings = new Warnings();
        Reporting.Use(warnings);
        var shell = new FakeShell(c => c.Arguments[3].EndsWith("deployments.log", StringComparison.Ordinal)
            ? new CommandResult("fake", 1, "", "mkdir: cannot create directory '/var/log/yieldvault': Permission denied", TimeSpan.Zero)
            : throw new VaultException("ConnectionLost", VaultErrorKind.ConnectionError, "The SSH connection was lost."));

        await DeploymentRecords.AppendAsync(Target(), shell, Deployment(), new SecretRedactor(), CancellationToken.None);

        Assert.Equal(2, warnings.Messages.Count);
        Assert.Contains("history.jsonl: The SSH connection was lost.", warnings.Messages[0], StringComparison.Ordinal);
        Assert.Contains("/var/log/yieldvault/deployments.log: mkdir: cannot create directory", warnings.Messages[1], StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_cancelled_run_is_still_written()
    {
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        var shell = new FakeShell(_ => new CommandResult("fake", 0, "", "", TimeSpan.Zero));

        await DeploymentRecords.AppendAsync(Target(), shell, Deployment(DeploymentStatus.Failed), new SecretRedactor(), cancelled.Token);

        Assert.Equal(2, shell.Calls.Count);
        Assert.Contains("\"errorId\":\"Cancelled\"", shell.Calls[0].Arguments[4], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Reading_a_missing_history_is_empty_and_an_unreadable_one_fails()
    {
        var missing = new FakeShell(_ => new CommandResult("fake", 3, "", "", TimeSpan.Zero));
        Assert.Empty(await DeploymentRecords.ReadAsync(Target(), missing, CancellationToken.None));

        var denied = new FakeShell(_ => new CommandResult("fake", 1, "", "cat: history.jsonl: Permission denied", TimeSpan.Zero));
        var ex = await Assert.ThrowsAsync<VaultException>(() => DeploymentRecords.ReadAsync(Target(), denied, CancellationToken.None));
        Assert.Equal("DeploymentHistoryUnreadable", ex.ErrorId);
        Assert.Contains("Permission denied", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Written_records_read_back_newest_first_through_a_real_shell()
    {
        var root = Path.Combine(Path.GetTempPath(), "yv-records-" + Guid.NewGuid().ToString("N"));
        try
        {
            var target = Target(Path.Combine(root, "state 'q'"), Path.Combine(root, "logs", "backend.log"));
            using var shell = new LocalShell();
            var redactor = new SecretRedactor();
            await DeploymentRecords.AppendAsync(target, shell, Deployment(), redactor, CancellationToken.None);
            var rollback = new VaultDeploymentResult
            {
                RunId = "20261126T041000Z-d4e5f6", Kind = "rollback", Status = DeploymentStatus.Succeeded, Source = "20261120T100000Z-0000abc",
                StartedAt = Started.AddMinutes(10), VersionBefore = "1.3.0", VersionAfter = "1.2.3",
            };
            await DeploymentRecords.AppendAsync(target, shell, rollback, redactor, CancellationToken.None);
            File.AppendAllText(DeploymentRecords.HistoryPath(target), "garbage\n");
            var warnings = new Warnings();
            Reporting.Use(warnings);

            var read = await DeploymentRecords.ReadAsync(target, shell, CancellationToken.None);

            Assert.Equal(new[] { "rollback", "deploy" }, read.Select(r => r.Kind));
            Assert.Equal("INCIDENT-123", read[1].Incident);
            Assert.Contains("line 3 of", Assert.Single(warnings.Messages), StringComparison.Ordinal);
            var log = File.ReadAllText(Path.Combine(root, "logs", "deployments.log"));
            Assert.Equal(2, log.Split("Deployment: ").Length - 1);
            Assert.Contains("Incident: INCIDENT-123\nStatus: Success\n\nDeployment: ", log, StringComparison.Ordinal);
            Assert.EndsWith("Incident: -\nStatus: Rollback\n\n", log, StringComparison.Ordinal);
        }
        finally
        {
            if (Directory.Exists(root))
            {
                Directory.Delete(root, recursive: true);
            }
        }
    }

    private sealed class Warnings : IVaultReporter
    {
        public List<string> Messages { get; } = new();

        public void Verbose(string message)
        {
        }

        public void Warning(string message) => Messages.Add(message);

        public void Progress(int activityId, string activity, string status, int percent, int parentActivityId = -1, bool completed = false)
        {
        }
    }

    private sealed class FakeShell : IHostShell
    {
        private readonly Func<CommandLine, CommandResult> _answer;

        public FakeShell(Func<CommandLine, CommandResult> answer) => _answer = answer;

        public List<CommandLine> Calls { get; } = new();

        public string Description => "fake";

        public Task<CommandResult> RunAsync(CommandLine command, TimeSpan? timeout, CancellationToken cancellationToken)
        {
            Calls.Add(command);
            Assert.NotNull(timeout);
            return Task.FromResult(_answer(command));
        }

        public Task<Uri> GetHttpBaseAsync(int port, CancellationToken cancellationToken) => throw new NotSupportedException();

        public Task<(string Host, int Port)> ForwardTcpAsync(string host, int port, CancellationToken cancellationToken) => throw new NotSupportedException();

        public void Dispose()
        {
        }
    }
}
