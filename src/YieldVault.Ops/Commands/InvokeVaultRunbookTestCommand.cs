using System;
using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;
using YieldVault.Ops.Hosting;
using YieldVault.Ops.Hosts;
using YieldVault.Ops.Runbook;
using YieldVault.Ops.Smoke;

namespace YieldVault.Ops.Commands;

/// <summary>The quarterly runbook drill on a staging target: assess, back up, deploy, verify, smoke, roll back, verify, report.</summary>
[Cmdlet(VerbsLifecycle.Invoke, "VaultRunbookTest", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(VaultDrillResult))]
public sealed class InvokeVaultRunbookTestCommand : VaultActionCmdlet
{
    [Parameter(Mandatory = true)]
    [ValidateNotNullOrEmpty]
    public string Ref { get; set; } = "";

    /// <summary>Where to write the report on this machine (.md, or .html for HTML).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? ReportPath { get; set; }

    [Parameter]
    [ValidatePattern("^[A-Za-z0-9][A-Za-z0-9._-]{0,63}\\z")]
    public string? Incident { get; set; }

    [Parameter]
    [ValidateRange(1, 3600)]
    public int HealthTimeoutSec { get; set; } = 60;

    /// <summary>Also run the smoke write test (POST /admin/test-write) with this key.</summary>
    [Parameter]
    [ValidateNotNull]
    public System.Security.SecureString? SmokeApiKey { get; set; }

    /// <summary>A Slack incoming webhook to report the drill to (runbook 10.3).</summary>
    [Parameter]
    [ValidateNotNull]
    public System.Security.SecureString? WebhookUrl { get; set; }

    /// <summary>Run the drill even on a production target.</summary>
    [Parameter]
    public SwitchParameter AllowProduction { get; set; }

    private string? _reportFile;

    protected override void Validate(VaultTarget target)
    {
        if (!GitRefs.IsValid(Ref))
        {
            throw new VaultException(ErrorIds.InvalidRef, VaultErrorKind.InvalidArgument, $"'{Ref}' is not a git ref this module deploys.");
        }

        if (string.Equals(target.Environment, "production", StringComparison.OrdinalIgnoreCase) && !AllowProduction)
        {
            throw new VaultException(ErrorIds.DrillOnProduction, VaultErrorKind.InvalidArgument,
                $"{target.DisplayName} is a production target; the drill deploys and rolls back, so it runs against staging.",
                "Use a staging target, or -AllowProduction if you really mean it.");
        }

        _reportFile = ReportPath is null ? null : GetUnresolvedProviderPathFromPSPath(ReportPath);
    }

    protected override string Action(VaultTarget target) => $"Runbook drill: deploy {Ref}, verify, smoke, roll back, verify";

    internal override async Task ProcessTargetAsync(VaultTarget target, IHostShell shell, PipelineMessages output, CancellationToken cancellationToken)
    {
        var options = new DrillOptions
        {
            Ref = Ref,
            Incident = Incident,
            HealthTimeout = TimeSpan.FromSeconds(HealthTimeoutSec),
            Smoke = new SmokeOptions { ApiKey = SmokeApiKey, IncludeWrite = SmokeApiKey is not null },
            WebhookUrl = WebhookUrl,
            ReportPath = _reportFile,
        };
        var finished = await new DrillRunner(target, shell, Redactor).RunAsync(options, cancellationToken).ConfigureAwait(false);
        if (!finished.Passed)
        {
            output.Error(ErrorRecords.Create(ErrorIds.DrillFailed, ErrorCategory.InvalidResult,
                $"{target.DisplayName}: the runbook drill did not pass. {finished.Error}", target, _reportFile is null ? null : "Read the report " + _reportFile));
        }

        output.Output(finished);
    }
}
