using System.Management.Automation;
using YieldVault.Ops.Hosting;
using YieldVault.Ops.Runbook;

namespace YieldVault.Ops.Commands;

/// <summary>The runbook's Verification Checklist and Metrics to Track, filled from a deployment or a drill, as Markdown or HTML.</summary>
[Cmdlet(VerbsData.ConvertTo, "VaultRunbookReport")]
[OutputType(typeof(string))]
public sealed class ConvertToVaultRunbookReportCommand : VaultCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true)]
    [ValidateNotNull]
    public PSObject InputObject { get; set; } = null!;

    [Parameter]
    [ValidateSet("Markdown", "Html")]
    public string Format { get; set; } = "Markdown";

    protected override void ProcessRecord()
    {
        var (deployment, drill) = InputObject.BaseObject switch
        {
            VaultDrillResult d when d.Deployment is not null => (d.Deployment, d),
            VaultDeploymentResult r => (r, (VaultDrillResult?)null),
            _ => (null, null),
        };
        if (deployment is null)
        {
            WriteError(ErrorRecords.Create(ErrorIds.ReportInputInvalid, ErrorCategory.InvalidType,
                $"ConvertTo-VaultRunbookReport takes the output of Invoke-VaultDeployment, Undo-VaultDeployment or Invoke-VaultRunbookTest, not {InputObject.BaseObject.GetType().Name}.",
                InputObject));
            return;
        }

        WriteObject(Redactor.Redact(Format == "Html" ? RunbookReport.ToHtml(deployment, drill) : RunbookReport.ToMarkdown(deployment, drill)));
    }
}
