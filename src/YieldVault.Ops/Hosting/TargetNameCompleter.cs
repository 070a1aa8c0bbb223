using System;
using System.Collections;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using System.Management.Automation.Language;

namespace YieldVault.Ops.Hosting;

/// <summary>Completes target names from the file given by -Path or $env:YIELDVAULT_TARGETS.</summary>
public sealed class TargetNameCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        var path = fakeBoundParameters["Path"] as string ?? Environment.GetEnvironmentVariable(Commands.GetVaultTargetCommand.PathVariable);
        if (string.IsNullOrEmpty(path))
        {
            return Array.Empty<CompletionResult>();
        }

        try
        {
            var full = System.IO.Path.GetFullPath(path);
            var pattern = new WildcardPattern((wordToComplete ?? "").Trim('\'', '"') + "*", WildcardOptions.IgnoreCase);
            return TargetConfigFile.Read(Commands.GetVaultTargetCommand.ParseDataFile(full), full)
                .Where(t => pattern.IsMatch(t.Name))
                .Select(t => new CompletionResult(t.Name, t.Name, CompletionResultType.ParameterValue, $"{t.Name} ({t.Environment}, {t.HostName})"))
                .ToList();
        }
        catch (VaultException)
        {
            // A broken file completes nothing; Get-VaultTarget itself reports why.
            return Array.Empty<CompletionResult>();
        }
    }
}
