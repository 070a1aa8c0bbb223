using System;
using System.Collections.ObjectModel;
using System.Globalization;
using System.Linq;
using System.Management.Automation;
using System.Management.Automation.Host;
using System.Threading;
using System.Threading.Tasks;
using YieldVault.Ops.Runbook;

namespace YieldVault.Ops.Hosting;

/// <summary>
/// The operator of Invoke-VaultRunbook: shows each step of the plan before it runs and its result after, and asks before
/// every step that changes the target (Yes, Yes to All, Skip where the step may be left out, Rollback) and after a step
/// that failed and may run again (Retry, Rollback). The engine asks from the thread pool; the question is posted to the
/// cmdlet's pipeline thread (<see cref="PipelineMessages"/>), where the host prompts, and the answer goes back through a
/// task. A cancel (Ctrl+C) ends the wait.
/// </summary>
internal sealed class RunbookStepPrompt : IRunbookStepGate
{
    private readonly PipelineMessages _messages;
    private readonly SecretRedactor _redactor;
    private readonly string _targetName;
    private volatile bool _yesToAll;

    public RunbookStepPrompt(PipelineMessages messages, SecretRedactor redactor, string targetName)
    {
        _messages = messages;
        _redactor = redactor;
        _targetName = targetName;
    }

    public Task<StepGateDecision> BeforeStepAsync(VaultDeploymentStep step, int stepCount, CancellationToken cancellationToken) =>
        AskAsync(cmdlet =>
        {
            Show(cmdlet, "", null);
            Show(cmdlet, string.Format(CultureInfo.InvariantCulture, "Step {0}/{1}  {2}  [runbook {3}{4}]", step.Number, stepCount, step.Name, step.Runbook,
                step.Target is { } target ? $", target {target.TotalMinutes:0} min" : ""), ConsoleColor.Cyan);
            foreach (var command in step.Commands)
            {
                Show(cmdlet, "    " + _redactor.Redact(command), null);
            }

            if (_yesToAll || !(step.ChangesState || step.CanSkip))
            {
                return StepGateDecision.Run;
            }

            var choices = new Collection<ChoiceDescription>
            {
                new("&Yes", "Run this step."),
                new("Yes to &All", "Run this step and the rest without asking (a failure then rolls back as Invoke-VaultDeployment does)."),
            };
            if (step.CanSkip)
            {
                choices.Add(new ChoiceDescription("&Skip", "Leave this step out and go on with the next."));
            }

            choices.Add(new ChoiceDescription("Roll&back", "Stop here: before the stop nothing is left changed; after it the previous version is brought back and verified."));
            var answer = choices[cmdlet.Host.UI.PromptForChoice($"{_targetName}: step {step.Number}/{stepCount}", $"Run '{step.Name}'?", choices, 0)].Label;
            switch (answer)
            {
                case "Yes to &All":
                    _yesToAll = true;
                    return StepGateDecision.Run;
                case "&Skip":
                    return StepGateDecision.Skip;
                case "Roll&back":
                    return StepGateDecision.RollBack;
                default:
                    return StepGateDecision.Run;
            }
        }, cancellationToken);

    public Task<StepGateDecision> AfterFailureAsync(VaultDeploymentStep step, VaultException failure, CancellationToken cancellationToken) =>
        _yesToAll
            ? Task.FromResult(StepGateDecision.RollBack)
            : AskAsync(cmdlet =>
            {
                var choices = new Collection<ChoiceDescription>
                {
                    new("&Retry", "Run this step again."),
                    new("Roll&back", "Give up: the run fails as Invoke-VaultDeployment's would (after the stop, the previous version is brought back)."),
                };
                var message = $"'{step.Name}' failed ({failure.ErrorId}): {_redactor.Redact(failure.Message)}";
                return cmdlet.Host.UI.PromptForChoice($"{_targetName}: step {step.Number} failed", message + Environment.NewLine + "Retry it, or roll back?", choices, 1) == 0
                    ? StepGateDecision.Retry
                    : StepGateDecision.RollBack;
            }, cancellationToken);

    public void StepEnded(VaultDeploymentStep step) =>
        _messages.Post(cmdlet => Show(cmdlet,
            string.Format(CultureInfo.InvariantCulture, "    -> {0} in {1:0.0} s{2}", step.Outcome, step.Duration.TotalSeconds, step.Detail is null ? "" : ": " + _redactor.Redact(step.Detail)),
            step.Outcome switch
            {
                StepOutcome.Succeeded => ConsoleColor.Green,
                StepOutcome.Failed => ConsoleColor.Red,
                _ => ConsoleColor.Yellow,
            }));

    /// <summary>What the run came to, after its last step: shown on the host in a guided session.</summary>
    public static void ShowEnd(PSCmdlet cmdlet, VaultDeploymentResult result)
    {
        Show(cmdlet, "", null);
        Show(cmdlet, $"Run {result.RunId}: {result.Status}" + (result.ErrorId is null ? "" : $" ({result.ErrorId})")
            + $"; serving {result.VersionAfter ?? "an unknown version"}; downtime {result.DowntimeMs:0} ms.",
            result.Status == DeploymentStatus.Succeeded ? ConsoleColor.Green : ConsoleColor.Yellow);
        if (result.JournalPath.Length > 0)
        {
            Show(cmdlet, $"Journal: {result.JournalPath} (Get-VaultDeploymentJournal -RunId {result.RunId})", null);
        }
    }

    /// <summary>A line on the host, as Write-Host writes it (the information stream, tag PSHOST).</summary>
    public static void Show(PSCmdlet cmdlet, string text, ConsoleColor? color) =>
        cmdlet.WriteInformation(new HostInformationMessage { Message = text, ForegroundColor = color, NoNewLine = false }, new[] { "PSHOST" });

    private Task<StepGateDecision> AskAsync(Func<PSCmdlet, StepGateDecision> ask, CancellationToken cancellationToken)
    {
        var answer = new TaskCompletionSource<StepGateDecision>(TaskCreationOptions.RunContinuationsAsynchronously);
        var registration = cancellationToken.Register(() => answer.TrySetCanceled());
        _messages.Post(cmdlet =>
        {
            try
            {
                answer.TrySetResult(ask(cmdlet));
            }
            catch (Exception ex) when (ex is PSInvalidOperationException or HostException or NotImplementedException or NullReferenceException)
            {
                // The console host fails with a NullReferenceException when its input has ended (read from a closed stdin).
                answer.TrySetException(Unavailable());
            }
            catch (Exception)
            {
                // Ctrl+C while the host prompts (PipelineStoppedException): the engine's wait ends as cancelled.
                answer.TrySetCanceled();
                throw;
            }
        });
        return answer.Task.ContinueWith(
            t =>
            {
                registration.Dispose();
                return t;
            },
            CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default).Unwrap();
    }

    /// <summary>The failure of a guided run in a host that cannot ask (a non-interactive session).</summary>
    public static VaultException Unavailable() => new(ErrorIds.PromptUnavailable, VaultErrorKind.InvalidOperation,
        "Invoke-VaultRunbook asks before each step, but this PowerShell session cannot prompt (it is non-interactive). Nothing was changed.",
        "Run it in an interactive session, or with -Confirm:$false (then it runs as Invoke-VaultDeployment does).");

    /// <summary>
    /// Whether nobody can answer in this session: the process was started with -NonInteractive (any prefix pwsh accepts,
    /// from -noni on), or the console host reads a redirected standard input (a scheduler's pwsh without -NonInteractive:
    /// its prompt reads the end of that input and fails). Other hosts prompt through their own UI.
    /// </summary>
    public static bool SessionIsNonInteractive(PSHost? host) =>
        Environment.GetCommandLineArgs().Skip(1).Select(a => a.TrimStart('-', '/').ToLowerInvariant())
            .Any(a => a.Length >= 4 && "noninteractive".StartsWith(a, StringComparison.Ordinal))
        || (string.Equals(host?.Name, "ConsoleHost", StringComparison.Ordinal) && InputRedirected());

    private static bool InputRedirected()
    {
        try
        {
            return Console.IsInputRedirected;
        }
        catch (System.IO.IOException)
        {
            return false;
        }
    }
}
