using System;
using System.Diagnostics;
using System.Threading;
using System.Threading.Tasks;
using Newtonsoft.Json.Linq;
using YieldVault.Ops.Hosts;
using YieldVault.Ops.Probes;

namespace YieldVault.Ops.Runbook;

/// <summary>
/// The skeleton every run of the runbook on one target shares, whatever it puts in place (a deployment, a
/// rollback): its steps and their progress, the target's lock and the run's journal, the downtime prober,
/// one step helper that journals, redacts and times each step against the runbook's target, the mapping of
/// any failure (not only <see cref="VaultException"/>) to the result, and the end of the run
/// (<see cref="RunEnding"/>). What a run does lives in its steps and its strategy; how it fails is decided here.
/// </summary>
internal sealed class RunbookRun
{
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly string _activity;
    private DowntimeMonitor? _prober;
    private DeploymentLock? _lock;

    public RunbookRun(VaultTarget target, IHostShell shell, SecretRedactor redactor, VaultDeploymentResult result, int progressId, string activity)
    {
        Target = target ?? throw new ArgumentNullException(nameof(target));
        Shell = shell ?? throw new ArgumentNullException(nameof(shell));
        Redactor = redactor ?? throw new ArgumentNullException(nameof(redactor));
        Result = result ?? throw new ArgumentNullException(nameof(result));
        ProgressId = progressId;
        _activity = activity;
    }

    public VaultTarget Target { get; }

    public IHostShell Shell { get; }

    public SecretRedactor Redactor { get; }

    public VaultDeploymentResult Result { get; }

    /// <summary>The run's progress activity; nested activities (waits) use the ids after it.</summary>
    public int ProgressId { get; }

    public DeploymentJournal? Journal { get; private set; }

    /// <summary>
    /// Measures what the users of the backend see during the run: /health every <paramref name="interval"/>, on the
    /// backend's port or on <paramref name="port"/> (nginx's, in front of a blue-green target).
    /// </summary>
    public async Task StartProberAsync(TimeSpan interval, CancellationToken cancellationToken, int? port = null) =>
        _prober = await DowntimeMonitor.StartAsync(Shell, port ?? Target.Port, Target.HealthPath, interval, Target.HealthyStatusCodes, cancellationToken).ConfigureAwait(false);

    /// <summary>
    /// Takes the target's lock (one run at a time), opens the run's journal and writes its start line, with the
    /// <paramref name="state"/> read under the lock (what runs now).
    /// </summary>
    /// <returns>The lock's path, for the step's detail.</returns>
    public async Task<string> LockAsync(bool clearStaleLock, string what, Func<Task<JObject?>> state, CancellationToken cancellationToken)
    {
        _lock = await DeploymentLock.AcquireAsync(Target, Shell, Result.RunId, clearStaleLock, cancellationToken).ConfigureAwait(false);
        Journal = new DeploymentJournal(Target, Shell, Redactor, Result.RunId);
        Result.JournalPath = Journal.Path;
        var data = await state().ConfigureAwait(false);
        await Journal.WriteAsync("run", "start", detail: $"{what} by {Environment.UserName} on {Environment.MachineName}", data: data).ConfigureAwait(false);
        return _lock.Path;
    }

    /// <summary>A journal line outside the steps (the rollback inside a deployment); nothing before the lock.</summary>
    public Task JournalAsync(string step, string phase, string? outcome = null, string? detail = null, double? durationMs = null) =>
        Journal?.WriteAsync(step, phase, outcome, detail, durationMs) ?? Task.CompletedTask;

    /// <summary>
    /// A rollback inside a deployment (in place, or a switch back) that failed too: the run ends Failed with both reasons
    /// (<paramref name="error"/> of the rollback's message), the journal's rollback line says Failed, and a loud warning
    /// (<paramref name="warning"/> of the redacted message) says what to check now.
    /// </summary>
    public async Task RollbackFailedAsync(Exception exception, Func<string, string> error, Func<string, string> warning, TimeSpan elapsed)
    {
        var failure = Failure(exception);
        Result.Status = DeploymentStatus.Failed;
        Result.Error = Redactor.Redact(error(failure.Message));
        await JournalAsync("rollback", "end", "Failed", failure.Message, elapsed.TotalMilliseconds).ConfigureAwait(false);
        Reporting.Current.Warning($"{Target.Name}: {warning(Redactor.Redact(failure.Message))}");
    }

    /// <summary>What a step is doing, as verbose output (redacted).</summary>
    public void Detail(string text) => Reporting.Current.Verbose($"{Target.Name}:   {Redactor.Redact(text)}");

    /// <summary>The operator between the steps of a guided run (Invoke-VaultRunbook); null: nobody is asked.</summary>
    public IRunbookStepGate? Gate { get; init; }

    /// <summary>How many times a guided run may run one step (the first time and the operator's retries).</summary>
    public const int MaxStepAttempts = 5;

    /// <summary>
    /// Runs step <paramref name="number"/> of the result's steps: progress and verbose output, the journal's start
    /// and end lines, the step's outcome, redacted detail and duration, and a warning when it overran the runbook's
    /// time for it. A body that returns null was skipped. A failure is recorded and thrown on. With a <see cref="Gate"/>,
    /// the operator is asked first (run, skip a step that may be skipped, or stop here: the run's recovery follows)
    /// and after a failure of a step that may be retried (run it again, or fail as usual).
    /// </summary>
    public async Task StepAsync(int number, Func<Task<string?>> body, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var step = Result.Steps[number - 1];
        if (Gate is null)
        {
            await RunStepAsync(number, body, cancellationToken).ConfigureAwait(false);
            return;
        }

        switch (await Gate.BeforeStepAsync(step, Result.Steps.Count, cancellationToken).ConfigureAwait(false))
        {
            case StepGateDecision.RollBack:
                throw new VaultException(ErrorIds.StoppedByOperator, VaultErrorKind.OperationStopped,
                    $"{Target.DisplayName}: the operator stopped the run before step {number} ({step.Name}).",
                    "Check what serves (Get-VaultBackendStatus) and read the run's journal (Get-VaultDeploymentJournal).");
            case StepGateDecision.Skip when step.CanSkip:
                step.Outcome = StepOutcome.Skipped;
                step.Detail = "skipped by the operator";
                await JournalAsync(step.Name, "start").ConfigureAwait(false);
                await JournalAsync(step.Name, "end", step.Outcome.ToString(), step.Detail, 0).ConfigureAwait(false);
                Gate.StepEnded(step);
                return;
        }

        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await RunStepAsync(number, body, cancellationToken).ConfigureAwait(false);
                return;
            }
            catch (Exception ex) when (step.CanRetry && attempt < MaxStepAttempts && !cancellationToken.IsCancellationRequested
                && Failure(ex).ErrorId is not ErrorIds.LockLost and not ErrorIds.DowntimeBudgetExceeded)
            {
                if (await Gate.AfterFailureAsync(step, Failure(ex), cancellationToken).ConfigureAwait(false) != StepGateDecision.Retry)
                {
                    throw;
                }

                Reporting.Current.Verbose($"{Target.Name}: the operator runs step {number} ({step.Name}) again (attempt {attempt + 1}).");
            }
        }
    }

    private async Task RunStepAsync(int number, Func<Task<string?>> body, CancellationToken cancellationToken)
    {
        var steps = Result.Steps;
        var step = steps[number - 1];
        Reporting.Current.Progress(ProgressId, _activity, $"Step {number}/{steps.Count}: {step.Name}", (number - 1) * 100 / steps.Count);
        Reporting.Current.Verbose($"{Target.Name}: Step {number}/{steps.Count}: {step.Name}");
        if (_lock is not null && Journal is not null)
        {
            // The lock must still be this run's before it changes anything more: checked in the same command that
            // journals the step's start.
            if (_lock.Lost || !await Journal.WriteGuardedAsync(_lock.OwnershipCheck, step.Name, "start").ConfigureAwait(false))
            {
                throw new VaultException(ErrorIds.LockLost, VaultErrorKind.ResourceBusy,
                    $"{Target.DisplayName}: the deployment lock {_lock.Path} no longer carries this run's token (another run cleared it with -Force, or took it); this run stops before step {number} ({step.Name}).",
                    "Read both runs' journals, then check what serves (Get-VaultBackendStatus) before running again.");
            }
        }
        else
        {
            await JournalAsync(step.Name, "start").ConfigureAwait(false);
        }

        var watch = Stopwatch.StartNew();
        try
        {
            var detail = await body().ConfigureAwait(false);
            step.Outcome = detail is null ? StepOutcome.Skipped : StepOutcome.Succeeded;
            step.Detail = detail is null ? null : Redactor.Redact(detail);
        }
        catch (Exception ex)
        {
            step.Outcome = StepOutcome.Failed;
            step.Detail = cancellationToken.IsCancellationRequested && ex is OperationCanceledException
                ? "stopped by the user (Ctrl+C)"
                : Redactor.Redact(Failure(ex).Message);
            throw;
        }
        finally
        {
            step.Duration = watch.Elapsed;
            await JournalAsync(step.Name, "end", step.Outcome.ToString(), step.Detail, watch.Elapsed.TotalMilliseconds).ConfigureAwait(false);
            if (!step.WithinTarget)
            {
                Reporting.Current.Warning($"{Target.Name}: '{step.Name}' took {step.Duration.TotalMinutes:0.0} min, over the runbook's {step.Target!.Value.TotalMinutes:0} min for {step.Runbook}.");
            }

            Gate?.StepEnded(step);
        }
    }

    /// <summary>How long the recovery after a Ctrl+C may take: it ignores the cancel for that long.</summary>
    public static readonly TimeSpan CancelRecoveryBudget = TimeSpan.FromSeconds(120);

    /// <summary>
    /// Runs <paramref name="steps"/>. Any failure but the user's cancel (a <see cref="VaultException"/>, a JSON value of
    /// the wrong type, an SSH channel refused, a disposed connection) is recorded in the result (its error id and
    /// redacted message) and handed to <paramref name="recover"/>, which decides the status (nothing changed, rolled
    /// back, failed). A cancel (Ctrl+C, a closed terminal) while <paramref name="mustRecoverOnCancel"/> says the run left
    /// something not serving (the old version stopped, traffic moved and not verified) is recovered too, ignoring the
    /// cancel for up to <see cref="CancelRecoveryBudget"/>, and then the cancel goes on. The end of the run always
    /// follows: prober figures, journal end, records, then the lock.
    /// </summary>
    /// <param name="cancelNotice">What the recovery after a cancel does, for the user and the journal (default: "Ctrl+C after the
    /// stop: bringing a serving version back first").</param>
    public async Task<VaultDeploymentResult> ExecuteAsync(Func<Task> steps, Func<VaultException, CancellationToken, Task> recover, CancellationToken cancellationToken,
        Func<bool>? mustRecoverOnCancel = null, Func<string>? cancelNotice = null)
    {
        try
        {
            await steps().ConfigureAwait(false);
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            var failure = Failure(ex);
            Result.Status = DeploymentStatus.Failed;
            Result.Error = Redactor.Redact(failure.Message);
            Result.ErrorId = failure.ErrorId;
            Result.ErrorKind = failure.Kind;
            Result.RecommendedAction = failure.RecommendedAction is null ? null : Redactor.Redact(failure.RecommendedAction);
            await RecoverAsync(recover, failure, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception) when (cancellationToken.IsCancellationRequested && mustRecoverOnCancel?.Invoke() == true)
        {
            var notice = cancelNotice?.Invoke();
            var failure = new VaultException(ErrorIds.Cancelled, VaultErrorKind.OperationStopped,
                $"{Target.DisplayName}: stopped by the user (Ctrl+C) " + (notice is null ? "while the backend was not serving a verified version." : "in the middle of the run."));
            Result.Status = DeploymentStatus.Failed;
            Result.Error = failure.Message;
            Result.ErrorId = failure.ErrorId;
            Reporting.Current.Warning($"{Target.Name}: {notice ?? "Ctrl+C after the stop: bringing a serving version back first"} (this ignores Ctrl+C for up to {CancelRecoveryBudget.TotalSeconds:0} s).");
            await JournalAsync("cancel", "start", detail: notice ?? "Ctrl+C after the stop: recovering before the run ends").ConfigureAwait(false);
            using (var bounded = new CancellationTokenSource(CancelRecoveryBudget))
            {
                await RecoverAsync(recover, failure, bounded.Token).ConfigureAwait(false);
            }

            Reporting.Current.Warning(Result.CancelOutcome is { } outcome
                ? $"{Target.Name}: after Ctrl+C {outcome}."
                : Result.Status == DeploymentStatus.RolledBack
                ? $"{Target.Name}: after Ctrl+C the previous version ({Result.VersionAfter ?? "the one before"}) serves again."
                : Result.ServesAfterCancel
                ? $"{Target.Name}: after Ctrl+C {Result.VersionAfter ?? "a version"} serves again."
                : $"{Target.Name}: after Ctrl+C the backend could not be brought back: {Result.Error} Check it now (Get-VaultBackendStatus).");
            throw;
        }
        finally
        {
            if (_prober is not null)
            {
                await RunEnding.FinishAsync(Target, Shell, Redactor, Result, _prober, _clock, Journal, _lock, cancellationToken).ConfigureAwait(false);
            }
            else if (_lock is not null)
            {
                await _lock.DisposeAsync().ConfigureAwait(false);
            }

            Reporting.Current.Progress(ProgressId, _activity, "done", 100, completed: true);
        }

        return Result;
    }

    private async Task RecoverAsync(Func<VaultException, CancellationToken, Task> recover, VaultException failure, CancellationToken cancellationToken)
    {
        try
        {
            await recover(failure, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception recoveryFailure)
        {
            // A recovery must not lose the run's own error, nor skip the end of the run.
            Result.Status = DeploymentStatus.Failed;
            Result.Error = Redactor.Redact($"{failure.Message} Then: {Failure(recoveryFailure).Message}");
            Reporting.Current.Warning($"{Target.Name}: {Result.Error} Check the backend now (Get-VaultBackendStatus).");
        }
    }

    /// <summary>Any exception as the run reports it: a <see cref="VaultException"/> as it is, anything else with an id of its own.</summary>
    public static VaultException Failure(Exception exception) => exception switch
    {
        VaultException vault => vault,
        TimeoutException or TaskCanceledException => new VaultException(ErrorIds.OperationTimeout, VaultErrorKind.OperationTimeout,
            $"an operation timed out ({exception.GetType().Name}: {exception.Message})", "Read the run's journal; run it again when the host answers.", exception),
        _ => new VaultException(ErrorIds.UnexpectedFailure, VaultErrorKind.InvalidOperation,
            $"an unexpected {exception.GetType().Name}: {exception.Message}", "Read the run's journal; this is a defect of YieldVault.Ops worth reporting.", exception),
    };
}
