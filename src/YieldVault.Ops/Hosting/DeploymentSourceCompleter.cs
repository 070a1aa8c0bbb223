using System;
using System.Collections;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using System.Management.Automation.Language;
using System.Management.Automation.Runspaces;
using System.Threading;
using System.Threading.Tasks;
using YieldVault.Ops.Releases;

namespace YieldVault.Ops.Hosting;

/// <summary>
/// Completes -Ref (tags and branches of the target's repository), -Release (the target's releases) and -Image (tags of
/// the image the target's container runs) from the target the command line names: -Target's value, or a variable
/// piped into the command ($t | Invoke-VaultDeployment -Ref &lt;Tab&gt;). Only variables are read, nothing is run to find
/// the target; asking its host is bounded to a few seconds, and any failure completes nothing.
/// </summary>
public sealed class DeploymentSourceCompleter : IArgumentCompleter
{
    private static readonly TimeSpan Budget = TimeSpan.FromSeconds(8);

    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete, CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        try
        {
            if (TargetOf(commandAst, fakeBoundParameters) is not { } target)
            {
                return Array.Empty<CompletionResult>();
            }

            var shell = VaultSessions.For(Runspace.DefaultRunspace).For(target);
            using var budget = new CancellationTokenSource(Budget);
            var items = Task.Run(() => parameterName switch
            {
                "Release" => DeploymentSources.ReleasesAsync(target, shell, budget.Token),
                "Image" => DeploymentSources.ImagesAsync(target, shell, budget.Token),
                _ => DeploymentSources.RefsAsync(target, shell, budget.Token),
            }, budget.Token).GetAwaiter().GetResult();
            var word = (wordToComplete ?? "").Trim('\'', '"');
            return items.Where(i => i.Name.StartsWith(word, StringComparison.OrdinalIgnoreCase))
                .Select(i => new CompletionResult(Quote(i.Name), i.Name, CompletionResultType.ParameterValue, $"{i.Name} ({i.Kind} on {target.Name})"))
                .ToList();
        }
        catch (Exception ex) when (ex is VaultException or OperationCanceledException or TimeoutException or InvalidOperationException or PSInvalidOperationException)
        {
            // Completion never fails the command line; the cmdlet itself reports what is wrong with the target.
            return Array.Empty<CompletionResult>();
        }
    }

    /// <summary>The target named by -Target (its value, or a variable), else the variable piped into the command.</summary>
    internal static VaultTarget? TargetOf(CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        if (Unwrap(fakeBoundParameters?["Target"]) is VaultTarget bound)
        {
            return bound;
        }

        var elements = commandAst.CommandElements;
        for (var i = 0; i < elements.Count - 1; i++)
        {
            if (elements[i] is CommandParameterAst { ParameterName: var name } && "Target".StartsWith(name, StringComparison.OrdinalIgnoreCase)
                && elements[i + 1] is VariableExpressionAst variable)
            {
                return Variable(variable);
            }
        }

        if (commandAst.Parent is PipelineAst pipeline)
        {
            var index = pipeline.PipelineElements.IndexOf(commandAst);
            if (index > 0 && pipeline.PipelineElements[index - 1] is CommandExpressionAst { Expression: VariableExpressionAst piped })
            {
                return Variable(piped);
            }
        }

        return null;
    }

    private static VaultTarget? Variable(VariableExpressionAst variable)
    {
        if (variable.Splatted || variable.VariablePath.IsDriveQualified && !variable.VariablePath.IsVariable)
        {
            return null;
        }

        // A nested command in the runspace that completes: it reads the variable where the user set it.
        using var powershell = PowerShell.Create(RunspaceMode.CurrentRunspace);
        var value = powershell.AddCommand("Get-Variable").AddParameter("Name", variable.VariablePath.UserPath).AddParameter("ValueOnly").AddParameter("ErrorAction", "Ignore")
            .Invoke().FirstOrDefault();
        return Unwrap(value) switch
        {
            VaultTarget target => target,
            object[] { Length: > 0 } many => Unwrap(many[0]) as VaultTarget,
            var other => Unwrap(other?.GetType().GetProperty("Target")?.GetValue(other)) as VaultTarget,
        };
    }

    private static object? Unwrap(object? value) => value is PSObject wrapped ? wrapped.BaseObject : value;

    private static string Quote(string value) =>
        value.IndexOfAny(new[] { ' ', '\'', '"', '$', '`', ';', '(', ')', '{', '}', '@', '#', ',' }) >= 0 ? "'" + value.Replace("'", "''") + "'" : value;
}
