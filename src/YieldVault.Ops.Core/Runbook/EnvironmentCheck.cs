using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using YieldVault.Ops.Hosts;

namespace YieldVault.Ops.Runbook;

/// <summary>Runbook 5.1 (Test-VaultEnvironment, and Steps 1 and 5 of every deployment): required variables present and set, by name only.</summary>
public static class EnvironmentCheck
{
    private static readonly TimeSpan Quick = TimeSpan.FromSeconds(60);

    public static async Task<VaultEnvironmentCheck> CheckAsync(VaultTarget target, IHostShell shell, SecretRedactor redactor, string? releasePath, CancellationToken cancellationToken)
    {
        var env = await EnvironmentFiles.ReadAsync(target, shell, redactor, cancellationToken).ConfigureAwait(false);
        if (env is null)
        {
            return new VaultEnvironmentCheck { Target = target, EnvFile = target.EnvFilePath, Exists = false, Missing = target.RequiredVariables };
        }

        IReadOnlyList<string> newInExample = Array.Empty<string>();
        if (releasePath is not null)
        {
            var example = await shell.RunAsync(CommandLine.Script("cat -- \"$1/.env.example\" 2>/dev/null", releasePath), Quick, cancellationToken).ConfigureAwait(false);
            if (example.Succeeded)
            {
                // Only the names of .env.example are used; its sample values are not secrets but are not shown either.
                newInExample = EnvironmentFiles.Parse(example.StandardOutput).Keys.Where(k => !env.ContainsKey(k)).OrderBy(k => k, StringComparer.Ordinal).ToList();
            }
        }

        return new VaultEnvironmentCheck
        {
            Target = target,
            EnvFile = target.EnvFilePath,
            Exists = true,
            Missing = target.RequiredVariables.Where(v => !env.ContainsKey(v)).ToList(),
            Empty = target.RequiredVariables.Where(v => env.TryGetValue(v, out var value) && string.IsNullOrWhiteSpace(value)).ToList(),
            NewInExample = newInExample,
        };
    }
}
