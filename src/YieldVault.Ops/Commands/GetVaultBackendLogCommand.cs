using System;
using System.Linq;
using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;
using YieldVault.Ops.Hosting;
using YieldVault.Ops.Hosts;
using YieldVault.Ops.Probes;

namespace YieldVault.Ops.Commands;

/// <summary>The backend's log as objects (runbook 7.4), from its log file, journald, PM2 or Docker.</summary>
[Cmdlet(VerbsCommon.Get, "VaultBackendLog", DefaultParameterSetName = EntriesSet)]
[OutputType(typeof(VaultLogEntry), ParameterSetName = new[] { EntriesSet })]
[OutputType(typeof(VaultLogVerification), ParameterSetName = new[] { VerifySet })]
public sealed class GetVaultBackendLogCommand : VaultTargetCmdlet
{
    private const string EntriesSet = "Entries";
    private const string VerifySet = "Verify";

    [Parameter]
    [ValidateRange(1, 100000)]
    public int Tail { get; set; } = 50;

    [Parameter(ParameterSetName = EntriesSet)]
    [ValidateSet("Error", "Warning")]
    public string? Level { get; set; }

    [Parameter]
    public DateTime? Since { get; set; }

    [Parameter]
    public VaultLogSource Source { get; set; } = VaultLogSource.Auto;

    [Parameter(Mandatory = true, ParameterSetName = VerifySet)]
    public SwitchParameter Verify { get; set; }

    internal override async Task ProcessTargetAsync(VaultTarget target, IHostShell shell, PipelineMessages output, CancellationToken cancellationToken)
    {
        // Values from the env file are secrets: learn them first so no log line can show them.
        try
        {
            await EnvironmentFiles.ReadAsync(target, shell, Redactor, cancellationToken).ConfigureAwait(false);
        }
        catch (VaultException ex) when (!ex.IsConnectionFailure)
        {
            output.Warning($"{target.Name}: the env file could not be read, so its values cannot be hidden from log lines: {ex.Message}");
        }

        DateTimeOffset? since = Since is { } s ? new DateTimeOffset(s.Kind == DateTimeKind.Unspecified ? DateTime.SpecifyKind(s, DateTimeKind.Local) : s) : null;
        var (source, entries) = await LogReader.ReadAsync(target, shell, Source, Verify ? Math.Max(Tail, 500) : Tail, since, cancellationToken).ConfigureAwait(false);
        var clean = entries.Select(e => new VaultLogEntry
        {
            Target = e.Target, Time = e.Time, Level = e.Level, Message = Redactor.Redact(e.Message), Source = e.Source, IsStackTrace = e.IsStackTrace,
        }).ToList();

        if (Verify)
        {
            output.Output(LogParser.Verify(clean, LogParser.DefaultMarkers(target), target, source));
            return;
        }

        foreach (var entry in clean)
        {
            if (Level is null
                || (Level == "Error" && entry.Level == VaultLogLevel.Error)
                || (Level == "Warning" && entry.Level == VaultLogLevel.Warning))
            {
                output.Output(entry);
            }
        }
    }
}
