using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;
using YieldVault.Ops.Hosting;
using YieldVault.Ops.Hosts;
using YieldVault.Ops.Runbook;

namespace YieldVault.Ops.Commands;

/// <summary>Runbook 5.1: the env file exists and sets every required variable; names only, never values.</summary>
[Cmdlet(VerbsDiagnostic.Test, "VaultEnvironment")]
[OutputType(typeof(VaultEnvironmentCheck))]
public sealed class TestVaultEnvironmentCommand : VaultTargetCmdlet
{
    /// <summary>A release directory whose .env.example may name new variables.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? ReleasePath { get; set; }

    internal override async Task ProcessTargetAsync(VaultTarget target, IHostShell shell, PipelineMessages output, CancellationToken cancellationToken)
    {
        if (ReleasePath is not null && !ReleasePath.StartsWith("/", System.StringComparison.Ordinal))
        {
            throw new VaultException(ErrorIds.InvalidPath, VaultErrorKind.InvalidArgument, $"-ReleasePath '{ReleasePath}' must be an absolute path on the host.");
        }

        output.Output(await EnvironmentCheck.CheckAsync(target, shell, Redactor, ReleasePath, cancellationToken).ConfigureAwait(false));
    }
}
