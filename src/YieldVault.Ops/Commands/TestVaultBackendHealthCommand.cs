using System;
using System.Management.Automation;
using YieldVault.Ops.Hosting;
using YieldVault.Ops.Probes;

namespace YieldVault.Ops.Commands;

/// <summary>Asks a backend's /health (and /ready) endpoint, locally or through an SSH port forward.</summary>
[Cmdlet(VerbsDiagnostic.Test, "VaultBackendHealth")]
[OutputType(typeof(VaultHealthResult))]
public sealed class TestVaultBackendHealthCommand : VaultCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNull]
    public VaultTarget Target { get; set; } = null!;

    [Parameter]
    public SwitchParameter Ready { get; set; }

    [Parameter]
    [ValidateRange(1, 600)]
    public int TimeoutSec { get; set; } = 10;

    protected override void ProcessRecord()
    {
        var target = Target;
        try
        {
            // Taken here, on the pipeline thread: the session's connections are found through its runspace.
            var shell = Hosts.For(target);
            var result = Run((messages, token) =>
            {
                messages.Verbose($"GET http://localhost:{target.Port}{target.HealthPath} on {target.DisplayName}");
                return HealthProbe.CheckAsync(target, shell, Ready.IsPresent, TimeSpan.FromSeconds(TimeoutSec), token);
            });
            if (result.StatusCode is null && result.Error is not null)
            {
                WriteError(ErrorRecords.Create("BackendUnreachable", ErrorCategory.ConnectionError,
                    Redactor.Redact($"{target.DisplayName}: the backend did not answer at {result.Url}. {result.Error}"), target,
                    "Check that the service runs (Get-VaultBackendStatus) and listens on the target's Port."));
            }

            WriteObject(result);
        }
        catch (VaultException ex)
        {
            WriteVaultError(ex, target);
        }
    }
}
