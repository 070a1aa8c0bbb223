using System;
using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;
using YieldVault.Ops.Hosting;
using YieldVault.Ops.Hosts;
using YieldVault.Ops.Probes;

namespace YieldVault.Ops.Commands;

/// <summary>Asks a backend's /health (and /ready) endpoint, locally or through an SSH port forward.</summary>
[Cmdlet(VerbsDiagnostic.Test, "VaultBackendHealth")]
[OutputType(typeof(VaultHealthResult))]
public sealed class TestVaultBackendHealthCommand : VaultTargetCmdlet
{
    [Parameter]
    public SwitchParameter Ready { get; set; }

    [Parameter]
    [ValidateRange(1, 600)]
    public int TimeoutSec { get; set; } = 10;

    internal override async Task ProcessTargetAsync(VaultTarget target, IHostShell shell, PipelineMessages output, CancellationToken cancellationToken)
    {
        output.Verbose($"GET http://localhost:{target.Port}{target.HealthPath} on {target.DisplayName}");
        var result = await HealthProbe.CheckAsync(target, shell, Ready.IsPresent, TimeSpan.FromSeconds(TimeoutSec), cancellationToken).ConfigureAwait(false);
        if (result.StatusCode is null && result.Error is not null)
        {
            output.Error(ErrorRecords.Create(ErrorIds.BackendUnreachable, ErrorCategory.ConnectionError,
                Redactor.Redact($"{target.DisplayName}: the backend did not answer at {result.Url}. {result.Error}"), target,
                "Check that the service runs (Get-VaultBackendStatus) and listens on the target's Port."));
        }

        output.Output(result);
    }
}
