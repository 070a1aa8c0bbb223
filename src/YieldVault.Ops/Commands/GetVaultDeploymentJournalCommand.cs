using System.Management.Automation;
using YieldVault.Ops.Hosting;
using YieldVault.Ops.Runbook;

namespace YieldVault.Ops.Commands;

/// <summary>A run's steps and timings from the journal on the target's host: by run id, or the newest runs (abandoned ones too).</summary>
[Cmdlet(VerbsCommon.Get, "VaultDeploymentJournal", DefaultParameterSetName = LastSet)]
[OutputType(typeof(VaultDeploymentJournal))]
public sealed class GetVaultDeploymentJournalCommand : VaultCmdlet
{
    private const string LastSet = "Last";
    private const string RunIdSet = "RunId";

    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNull]
    public VaultTarget Target { get; set; } = null!;

    /// <summary>The runs to read (a deployment result's or a history record's RunId binds from the pipeline).</summary>
    [Parameter(Mandatory = true, ParameterSetName = RunIdSet, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    [ValidatePattern("^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{6}\\z")]
    public string[] RunId { get; set; } = System.Array.Empty<string>();

    /// <summary>How many of the newest runs to read (1 by default).</summary>
    [Parameter(ParameterSetName = LastSet)]
    [ValidateRange(1, JournalReader.MaxRuns)]
    public int Last { get; set; } = 1;

    protected override void ProcessRecord()
    {
        // One target at a time, each record with its own run ids (a result piped in binds both).
        var target = Target;
        var ids = ParameterSetName == RunIdSet ? RunId : null;
        try
        {
            var shell = Hosts.For(target);
            var journals = Run((_, token) => JournalReader.ReadAsync(target, shell, ids, Last, token));
            foreach (var (_, journal, error) in journals)
            {
                if (error is not null)
                {
                    WriteVaultError(error, target);
                }
                else
                {
                    WriteObject(journal);
                }
            }
        }
        catch (VaultException ex)
        {
            if (ex.IsConnectionFailure)
            {
                Hosts.Close(target);
            }

            WriteVaultError(ex, target);
        }
    }
}
