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

/// <summary>
/// The guided run's hook in the engine (Invoke-VaultRunbook), on this machine's shell with a real lock, journal and
/// records: the operator skips a step that may be skipped, retries a failed one, stops the run (the run's own recovery
/// follows), and the journal reads back with every decision in it.
/// </summary>
public sealed class RunbookStepGateTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "yv-gate-" + Guid.NewGuid().ToString("N").Substring(0, 8));
    private readonly VaultTarget _target;
    private readonly LocalShell _shell = new();
    private readonly SecretRedactor _redactor = new();

    public RunbookStepGateTests()
    {
        Directory.CreateDirectory(_root);
        _target = new VaultTarget
        {
            Name = "gate-1", Port = TestPorts.Free(), AppPath = _root + "/app", StatePath = _root + "/state", LogPath = _root + "/logs/backend.log", BackupPath = _root + "/backups",
        };
    }

    [Fact]
    public async Task Skip_retry_and_run_as_the_operator_answers_and_the_journal_reads_back()
    {
        var gate = new ScriptedGate(new Dictionary<int, StepGateDecision> { [2] = StepGateDecision.Skip }, retries: 1);
        var result = NewResult();
        var run = new RunbookRun(_target, _shell, _redactor, result, 9200, "gate test") { Gate = gate };
        var bodies = new List<int>();
        var failures = 0;
        await run.StartProberAsync(TimeSpan.FromMilliseconds(200), CancellationToken.None);

        await run.ExecuteAsync(async () =>
        {
            await run.StepAsync(1, async () => await run.LockAsync(false, "guided test", () => Task.FromResult<JObject?>(null), CancellationToken.None), CancellationToken.None);
            await run.StepAsync(2, () => { bodies.Add(2); return Task.FromResult<string?>("backed up"); }, CancellationToken.None);
            await run.StepAsync(3, () =>
            {
                bodies.Add(3);
                return failures++ == 0 ? throw new VaultException(ErrorIds.HealthCheckTimeout, VaultErrorKind.OperationTimeout, "not healthy yet") : Task.FromResult<string?>("healthy");
            }, CancellationToken.None);
            await run.StepAsync(4, () => { bodies.Add(4); return Task.FromResult<string?>("done"); }, CancellationToken.None);
            result.Status = DeploymentStatus.Succeeded;
        }, (_, _) => Task.CompletedTask, CancellationToken.None);

        Assert.Equal(DeploymentStatus.Succeeded, result.Status);
        Assert.Equal(new[] { 3, 3, 4 }, bodies);
        Assert.Equal(new[] { StepOutcome.Succeeded, StepOutcome.Skipped, StepOutcome.Succeeded, StepOutcome.Succeeded }, result.Steps.Select(s => s.Outcome));
        Assert.Equal("skipped by the operator", result.Steps[1].Detail);
        Assert.Equal(new[] { 1, 2, 3, 4 }, gate.Asked);
        Assert.Equal(new[] { 3 }, gate.FailedAsked);
        Assert.Equal(5, gate.Ended.Count);

        var journal = JournalReader.Parse(_target, result.RunId, File.ReadAllLines(result.JournalPath), lockHeld: false);
        Assert.Equal("Succeeded", journal.Outcome);
        Assert.Equal("guided test by " + Environment.UserName + " on " + Environment.MachineName, journal.What);
        var three = journal.Steps.Where(s => s.Step == "Step three").ToList();
        Assert.Equal(new[] { ("Failed", 1), ("Succeeded", 2) }, three.Select(s => (s.Outcome, s.Attempt)));
        Assert.Contains(journal.Steps, s => s.Step == "Step two" && s.Outcome == "Skipped" && s.Detail == "skipped by the operator");
        Assert.All(journal.Steps, s => Assert.NotNull(s.Duration));
        Assert.False(File.Exists(DeploymentReadiness.LockPath(_target)));
    }

    [Fact]
    public async Task Stopping_at_a_step_runs_the_recovery_and_nothing_after_it()
    {
        var gate = new ScriptedGate(new Dictionary<int, StepGateDecision> { [3] = StepGateDecision.RollBack });
        var result = NewResult();
        var run = new RunbookRun(_target, _shell, _redactor, result, 9200, "gate test") { Gate = gate };
        VaultException? recovered = null;
        await run.StartProberAsync(TimeSpan.FromMilliseconds(200), CancellationToken.None);

        await run.ExecuteAsync(async () =>
        {
            await run.StepAsync(1, async () => await run.LockAsync(false, "guided test", () => Task.FromResult<JObject?>(null), CancellationToken.None), CancellationToken.None);
            await run.StepAsync(2, () => Task.FromResult<string?>("stopped the old version"), CancellationToken.None);
            await run.StepAsync(3, () => throw new InvalidOperationException("never runs"), CancellationToken.None);
        }, async (failure, _) =>
        {
            recovered = failure;
            await run.JournalAsync("rollback", "end", "Succeeded", "serving 1.2.3 again", 12);
            result.Status = DeploymentStatus.RolledBack;
        }, CancellationToken.None);

        Assert.Equal(ErrorIds.StoppedByOperator, recovered?.ErrorId);
        Assert.Equal(DeploymentStatus.RolledBack, result.Status);
        Assert.Equal(ErrorIds.StoppedByOperator, result.ErrorId);
        Assert.Equal(StepOutcome.NotRun, result.Steps[2].Outcome);
        var journal = JournalReader.Parse(_target, result.RunId, File.ReadAllLines(result.JournalPath), lockHeld: false);
        Assert.Equal("RolledBack", journal.Outcome);
        Assert.Equal("Succeeded", journal.Rollback);
        Assert.Contains("the operator stopped the run before step 3", journal.Detail, StringComparison.Ordinal);
        Assert.DoesNotContain(journal.Steps, s => s.Step == "Step three");
    }

    [Fact]
    public async Task A_step_that_may_not_be_skipped_or_retried_is_not_skipped_or_retried()
    {
        var gate = new ScriptedGate(new Dictionary<int, StepGateDecision> { [2] = StepGateDecision.Skip }, retries: 3);
        var result = NewResult(canSkip: false, canRetry: false);
        var run = new RunbookRun(_target, _shell, _redactor, result, 9200, "gate test") { Gate = gate };
        var ran = false;
        await run.StartProberAsync(TimeSpan.FromMilliseconds(200), CancellationToken.None);

        await run.ExecuteAsync(async () =>
        {
            await run.StepAsync(1, async () => await run.LockAsync(false, "guided test", () => Task.FromResult<JObject?>(null), CancellationToken.None), CancellationToken.None);
            await run.StepAsync(2, () => { ran = true; return Task.FromResult<string?>("ran"); }, CancellationToken.None);
            await run.StepAsync(3, () => throw new VaultException(ErrorIds.HealthCheckTimeout, VaultErrorKind.OperationTimeout, "never healthy"), CancellationToken.None);
        }, (_, _) => Task.CompletedTask, CancellationToken.None);

        Assert.True(ran, "a step without CanSkip runs although the operator asked to skip it");
        Assert.Empty(gate.FailedAsked);
        Assert.Equal(ErrorIds.HealthCheckTimeout, result.ErrorId);
    }

    [Fact]
    public void Plans_say_which_steps_ask_may_be_skipped_and_may_be_retried()
    {
        var plan = DeploymentRunner.Plan(_target, _shell, new DeploymentRequest { Ref = "v1.3.0" });
        Assert.Equal(new[] { 3, 9 }, plan.Where(s => s.CanSkip).Select(s => s.Number));
        Assert.DoesNotContain(plan, s => s.Number == 7 && s.CanRetry);
        Assert.Equal(new[] { 1, 8, 9 }, plan.Where(s => !s.ChangesState).Select(s => s.Number));

        var watched = DeploymentRunner.Plan(_target, _shell, new DeploymentRequest { Ref = "v1.3.0", Watch = TimeSpan.FromSeconds(30) });
        Assert.Contains(watched[8].Commands, c => c.StartsWith("watch 30 s", StringComparison.Ordinal));
    }

    public void Dispose()
    {
        _shell.Dispose();
        Directory.Delete(_root, recursive: true);
    }

    private VaultDeploymentResult NewResult(bool canSkip = true, bool canRetry = true) => new()
    {
        Target = _target,
        RunId = DeploymentJournal.NewRunId(DateTimeOffset.UtcNow),
        StartedAt = DateTimeOffset.UtcNow,
        Source = "gate-test",
        Steps = new List<VaultDeploymentStep>
        {
            new() { Number = 1, Name = "Step one", Runbook = "-", ChangesState = true, CanRetry = canRetry },
            new() { Number = 2, Name = "Step two", Runbook = "-", ChangesState = true, CanSkip = canSkip, CanRetry = canRetry },
            new() { Number = 3, Name = "Step three", Runbook = "-", ChangesState = true, CanRetry = canRetry },
            new() { Number = 4, Name = "Step four", Runbook = "-", ChangesState = true, CanRetry = canRetry },
        },
    };

    /// <summary>An operator who answers from a script: a decision per step number (else Run), and Retry up to N failures.</summary>
    private sealed class ScriptedGate : IRunbookStepGate
    {
        private readonly IReadOnlyDictionary<int, StepGateDecision> _before;
        private int _retries;

        public ScriptedGate(IReadOnlyDictionary<int, StepGateDecision> before, int retries = 0)
        {
            _before = before;
            _retries = retries;
        }

        public List<int> Asked { get; } = new();

        public List<int> FailedAsked { get; } = new();

        public List<(int, StepOutcome)> Ended { get; } = new();

        public Task<StepGateDecision> BeforeStepAsync(VaultDeploymentStep step, int stepCount, CancellationToken cancellationToken)
        {
            Asked.Add(step.Number);
            return Task.FromResult(_before.TryGetValue(step.Number, out var decision) ? decision : StepGateDecision.Run);
        }

        public Task<StepGateDecision> AfterFailureAsync(VaultDeploymentStep step, VaultException failure, CancellationToken cancellationToken)
        {
            FailedAsked.Add(step.Number);
            return Task.FromResult(_retries-- > 0 ? StepGateDecision.Retry : StepGateDecision.RollBack);
        }

        public void StepEnded(VaultDeploymentStep step) => Ended.Add((step.Number, step.Outcome));
    }
}
