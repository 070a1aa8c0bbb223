using System;
using System.Threading;
using System.Threading.Tasks;

namespace YieldVault.Ops.Hosts;

public static class HostShellExtensions
{
    /// <summary>
    /// Runs a command that must succeed; otherwise throws <paramref name="errorId"/> with what was run and
    /// the tail of its output. Every command is shown on -Verbose first (environment values hidden).
    /// </summary>
    public static async Task<CommandResult> RunCheckedAsync(this IHostShell shell, CommandLine command, string errorId, string what,
        TimeSpan? timeout, CancellationToken cancellationToken, VaultErrorKind kind = VaultErrorKind.InvalidOperation, string? recommendedAction = null)
    {
        Reporting.Current.Verbose($"[{shell.Description}] {command}");
        var result = await shell.RunAsync(command, timeout, cancellationToken).ConfigureAwait(false);
        if (!result.Succeeded)
        {
            throw new VaultException(errorId, kind,
                $"{what} failed on {shell.Description} (exit code {result.ExitCode}): {command}{Environment.NewLine}{result.Tail(12)}",
                recommendedAction);
        }

        return result;
    }
}
