using System;
using System.Linq;
using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;
using YieldVault.Ops.Hosting;
using YieldVault.Ops.Hosts;
using YieldVault.Ops.Runbook;

namespace YieldVault.Ops.Commands;

/// <summary>The deployments, rollbacks, drills, switches and rolls recorded on a target, newest first.</summary>
[Cmdlet(VerbsCommon.Get, "VaultDeploymentHistory")]
[OutputType(typeof(VaultDeploymentRecord))]
public sealed class GetVaultDeploymentHistoryCommand : VaultTargetCmdlet
{
    /// <summary>Only the newest N records (after the other filters).</summary>
    [Parameter]
    [ValidateRange(1, int.MaxValue)]
    public int Last { get; set; }

    [Parameter]
    [ValidateNotNullOrEmpty]
    public DeploymentStatus[]? Status { get; set; }

    [Parameter]
    [ValidateSet(DeploymentRecords.DeployKind, DeploymentRecords.RollbackKind, DeploymentRecords.DrillKind, DeploymentRecords.SwitchKind, DeploymentRecords.RollKind)]
    public string[]? Kind { get; set; }

    /// <summary>Only runs started at or after this time (a time without a zone is local time).</summary>
    [Parameter]
    public DateTime? Since { get; set; }

    internal override async Task ProcessTargetAsync(VaultTarget target, IHostShell shell, PipelineMessages output, CancellationToken cancellationToken)
    {
        // Dates near DateTime.MinValue have no local offset to take; they mean "everything".
        var since = Since is { } time && time > DateTime.MinValue.AddDays(2) ? new DateTimeOffset(time) : (DateTimeOffset?)null;
        var records = (await DeploymentRecords.ReadAsync(target, shell, cancellationToken).ConfigureAwait(false))
            .Where(r => Status is null || Status.Contains(r.Status))
            .Where(r => Kind is null || Kind.Contains(r.Kind, StringComparer.OrdinalIgnoreCase))
            .Where(r => since is null || r.StartedAt >= since);
        foreach (var record in Last > 0 ? records.Take(Last) : records)
        {
            output.Output(record);
        }
    }
}
