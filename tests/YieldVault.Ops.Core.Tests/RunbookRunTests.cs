using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Newtonsoft.Json.Linq;
using Renci.SshNet.Common;
using Xunit;
using YieldVault.Ops;
using YieldVault.Ops.Hosts;
using YieldVault.Ops.Runbook;

namespace YieldVault.Ops.Core.Tests;

/// <summary>
/// The run engine on this machine's shell (a real lock file, journal and records in a temp directory): whatever a step
/// throws, the run ends the same way (journaled, redacted, recovered, recorded, unlocked).
/// </summary>
public sealed class RunbookRunTests : IDisposable
{
    private const string Planted = "Planted-Engine-Secret-5e1f";
    private readonly string _root = Path.Combine(Path.GetTempPath(), "yv-engine-" + Guid.NewGuid().ToString("N").Substring(0, 8));
    private readonly VaultTarget _target;
    private readonly LocalShell _shell = new();
    private readonly SecretRedactor _redactor = new();

    public RunbookRunTests()
    {
        Directory.CreateDirectory(_root);
        _target = new VaultTarget
        {
            Name = "engine-1", Port = TestPorts.Free(), AppPath = _root + "/app", StatePath = _root + "/state", LogPath = _root + "/logs/backend.log", BackupPath = _root + "/backups",
        };
        _redactor.Add(Planted);
    }

    public static IEnumerable<object[]> Failures() => new[]
    {
        new object[] { new SshException("Channel open failed: administratively prohibited " + Planted), nameof(SshException) },
        new object[] { new ObjectDisposedException("SshClient", "Cannot access a disposed object " + Planted), nameof(ObjectDisposedException) },
        // What Newtonsoft throws for (string)json["status"] when the backend answers {"status":{}}.
        new object[] { CastFailure(), nameof(ArgumentException) },
        new object[] { new InvalidOperationException("Sequence contains no elements " + Planted), nameof(InvalidOperationException) },
    };

    [Theory]
    [MemberData(nameof(Failures))]
    public async Task Any_exception_in_a_step_fails_the_run_the_same_way(Exception thrown, string typeName)
    {
        var result = NewResult();
        var run = new RunbookRun(_target, _shell, _redactor, result, 9100, "engine test");
        VaultException? recovered = null;
        await run.StartProberAsync(TimeSpan.FromMilliseconds(200), CancellationToken.None);

        var ended = await run.ExecuteAsync(async () =>
        {
            await run.StepAsync(1, async () => await run.LockAsync(false, "test run", () => Task.FromResult<JObject?>(null), CancellationToken.None), CancellationToken.None);
            await run.StepAsync(2, () => Task.FromResult<string?>(null), CancellationToken.None);
            await run.StepAsync(3, () => throw thrown, CancellationToken.None);
            await run.StepAsync(4, () => Task.FromResult<string?>("never"), CancellationToken.None);
            result.Status = DeploymentStatus.Succeeded;
        }, (failure, _) =>
        {
            recovered = failure;
            result.Status = DeploymentStatus.RolledBack;
            return Task.CompletedTask;
        }, CancellationToken.None);

        Assert.Same(result, ended);
        Assert.NotNull(recovered);
        Assert.Equal(DeploymentStatus.RolledBack, result.Status);
        Assert.Equal(ErrorIds.UnexpectedFailure, result.ErrorId);
        Assert.Equal(result.ErrorId, recovered!.ErrorId);
        Assert.Contains(typeName, result.Error, StringComparison.Ordinal);
        Assert.Equal(new[] { StepOutcome.Succeeded, StepOutcome.Skipped, StepOutcome.Failed, StepOutcome.NotRun }, result.Steps.Select(s => s.Outcome));
        Assert.Contains(typeName, result.Steps[2].Detail, StringComparison.Ordinal);

        // Nothing carries the secret: not the result, not the journal, not the records.
        var journal = File.ReadAllText(result.JournalPath);
        var history = File.ReadAllText(DeploymentRecords.HistoryPath(_target));
        foreach (var text in new[] { result.Error!, result.Steps[2].Detail!, journal, history, File.ReadAllText(DeploymentRecords.LogPath(_target)) })
        {
            Assert.DoesNotContain(Planted, text, StringComparison.Ordinal);
        }

        // The journal shows the failed step and the end of the run; the lock is gone.
        Assert.Contains("\"step\":\"Step three\",\"phase\":\"end\",\"outcome\":\"Failed\"", journal, StringComparison.Ordinal);
        Assert.Contains("\"step\":\"run\",\"phase\":\"end\",\"outcome\":\"RolledBack\"", journal, StringComparison.Ordinal);
        Assert.DoesNotContain("Step four", journal, StringComparison.Ordinal);
        Assert.False(File.Exists(DeploymentReadiness.LockPath(_target)), "the lock is released");
        Assert.Contains(result.RunId, history, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_failing_recovery_keeps_the_first_error_and_still_ends_the_run()
    {
        var result = NewResult();
        var run = new RunbookRun(_target, _shell, _redactor, result, 9100, "engine test");
        await run.StartProberAsync(TimeSpan.FromMilliseconds(200), CancellationToken.None);

        await run.ExecuteAsync(async () =>
        {
            await run.StepAsync(1, async () => await run.LockAsync(false, "test run", () => Task.FromResult<JObject?>(null), CancellationToken.None), CancellationToken.None);
            await run.StepAsync(2, () => throw new VaultException("HealthCheckTimeout", VaultErrorKind.OperationTimeout, "never healthy"), CancellationToken.None);
        }, (_, _) => throw new ObjectDisposedException("the connection " + Planted), CancellationToken.None);

        Assert.Equal(DeploymentStatus.Failed, result.Status);
        Assert.Equal("HealthCheckTimeout", result.ErrorId);
        Assert.StartsWith("never healthy Then: an unexpected ObjectDisposedException", result.Error, StringComparison.Ordinal);
        Assert.DoesNotContain(Planted, result.Error, StringComparison.Ordinal);
        Assert.Contains("\"step\":\"run\",\"phase\":\"end\",\"outcome\":\"Failed\"", File.ReadAllText(result.JournalPath), StringComparison.Ordinal);
        Assert.False(File.Exists(DeploymentReadiness.LockPath(_target)));
    }

    [Fact]
    public async Task The_users_cancel_is_not_a_failure_to_recover_from()
    {
        var result = NewResult();
        var run = new RunbookRun(_target, _shell, _redactor, result, 9100, "engine test");
        using var cancel = new CancellationTokenSource();
        await run.StartProberAsync(TimeSpan.FromMilliseconds(200), CancellationToken.None);
        var recovered = false;

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run.ExecuteAsync(async () =>
        {
            await run.StepAsync(1, async () => await run.LockAsync(false, "test run", () => Task.FromResult<JObject?>(null), cancel.Token), cancel.Token);
            await run.StepAsync(2, async () =>
            {
                cancel.Cancel();
                await Task.Delay(10, cancel.Token);
                return "never";
            }, cancel.Token);
        }, (_, _) =>
        {
            recovered = true;
            return Task.CompletedTask;
        }, cancel.Token));

        Assert.False(recovered);
        Assert.Equal("stopped by the user (Ctrl+C)", result.Steps[1].Detail);
        Assert.Contains("\"step\":\"run\",\"phase\":\"end\",\"outcome\":\"Cancelled\"", File.ReadAllText(result.JournalPath), StringComparison.Ordinal);
        Assert.False(File.Exists(DeploymentReadiness.LockPath(_target)));
    }

    [Fact]
    public async Task A_cancel_after_the_stop_is_recovered_with_a_token_that_is_not_cancelled_then_the_cancel_goes_on()
    {
        var result = NewResult();
        var run = new RunbookRun(_target, _shell, _redactor, result, 9100, "engine test");
        using var cancel = new CancellationTokenSource();
        await run.StartProberAsync(TimeSpan.FromMilliseconds(200), CancellationToken.None);
        var stopped = false;
        VaultException? recoveredWith = null;
        var recoveryTokenCancelled = true;

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run.ExecuteAsync(async () =>
        {
            await run.StepAsync(1, async () => await run.LockAsync(false, "test run", () => Task.FromResult<JObject?>(null), cancel.Token), cancel.Token);
            await run.StepAsync(2, () =>
            {
                stopped = true;
                return Task.FromResult<string?>("stopped the old version");
            }, cancel.Token);
            cancel.Cancel();
            await run.StepAsync(3, () => Task.FromResult<string?>("never"), cancel.Token);
        }, async (failure, token) =>
        {
            recoveredWith = failure;
            recoveryTokenCancelled = token.IsCancellationRequested;
            await Task.Delay(10, token);
            result.Status = DeploymentStatus.RolledBack;
            result.VersionAfter = "1.2.3";
        }, cancel.Token, () => stopped));

        Assert.NotNull(recoveredWith);
        Assert.Equal(ErrorIds.Cancelled, recoveredWith!.ErrorId);
        Assert.False(recoveryTokenCancelled, "the recovery runs with a token of its own");
        Assert.Equal(DeploymentStatus.RolledBack, result.Status);
        var journal = File.ReadAllText(result.JournalPath);
        Assert.Contains("\"step\":\"cancel\",\"phase\":\"start\"", journal, StringComparison.Ordinal);
        Assert.Contains("\"step\":\"run\",\"phase\":\"end\",\"outcome\":\"Cancelled\"", journal, StringComparison.Ordinal);
        Assert.Contains("rolled back: 1.2.3 serves again", journal, StringComparison.Ordinal);
        Assert.False(File.Exists(DeploymentReadiness.LockPath(_target)));
    }

    [Fact]
    public async Task A_cancel_recovered_otherwise_says_what_the_recovery_did_in_the_journal()
    {
        var result = NewResult();
        var run = new RunbookRun(_target, _shell, _redactor, result, 9100, "engine test");
        using var cancel = new CancellationTokenSource();
        await run.StartProberAsync(TimeSpan.FromMilliseconds(200), CancellationToken.None);
        var started = false;

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run.ExecuteAsync(async () =>
        {
            await run.StepAsync(1, async () => await run.LockAsync(false, "test run", () => Task.FromResult<JObject?>(null), cancel.Token), cancel.Token);
            await run.StepAsync(2, () =>
            {
                started = true;
                return Task.FromResult<string?>("started the new version next to the old one");
            }, cancel.Token);
            cancel.Cancel();
            await run.StepAsync(3, () => Task.FromResult<string?>("never"), cancel.Token);
        }, (failure, token) =>
        {
            result.CancelOutcome = "the new version was stopped before any traffic reached it; 1.2.3 serves on";
            return Task.CompletedTask;
        }, cancel.Token, () => started, () => "Ctrl+C before the switch: stopping the new version first"));

        var journal = File.ReadAllText(result.JournalPath);
        Assert.Contains(@"""step"":""cancel"",""phase"":""start"",""detail"":""Ctrl+C before the switch: stopping the new version first""", journal, StringComparison.Ordinal);
        Assert.Contains(@"""outcome"":""Cancelled"",", journal, StringComparison.Ordinal);
        Assert.Contains(@"""detail"":""stopped by the user (Ctrl+C); the new version was stopped before any traffic reached it; 1.2.3 serves on""", journal, StringComparison.Ordinal);
        Assert.DoesNotContain("not serving a verified version", result.Error, StringComparison.Ordinal);
        Assert.False(File.Exists(DeploymentReadiness.LockPath(_target)));
    }

    public void Dispose()
    {
        _shell.Dispose();
        Directory.Delete(_root, recursive: true);
    }

    private VaultDeploymentResult NewResult() => new()
    {
        Target = _target,
        RunId = DeploymentJournal.NewRunId(DateTimeOffset.UtcNow),
        StartedAt = DateTimeOffset.UtcNow,
        Source = "engine-test",
        Steps = new List<VaultDeploymentStep>
        {
            new() { Number = 1, Name = "Step one", Runbook = "-" },
            new() { Number = 2, Name = "Step two", Runbook = "-" },
            new() { Number = 3, Name = "Step three", Runbook = "-" },
            new() { Number = 4, Name = "Step four", Runbook = "-" },
        },
    };

    private static Exception CastFailure()
    {
        try
        {
            var health = JObject.Parse("{\"status\":{}}");
            return new InvalidOperationException("unreachable " + (string?)health["status"]);
        }
        catch (ArgumentException ex)
        {
            return ex;
        }
    }
}
