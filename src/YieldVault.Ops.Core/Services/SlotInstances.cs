using System;
using System.Globalization;
using System.Threading;
using System.Threading.Tasks;
using YieldVault.Ops.Hosts;
using YieldVault.Ops.Proxies;

namespace YieldVault.Ops.Services;

/// <summary>
/// The instances of a blue-green target's two slots, whatever runs the backend: a PM2 app per slot started from its
/// release's real directory with PORT set (PM2 resolves a linked directory once, at start, so a link would keep running
/// old code), a systemd template unit &lt;service&gt;@&lt;port&gt; whose directory is the slot's link
/// &lt;releases&gt;/slots/&lt;port&gt;, or a container per slot (see <see cref="ContainerSlots"/>). Each slot instance is
/// a target of its own for the service manager and the probes (<see cref="VaultTarget.ForSlot"/>).
/// </summary>
internal class SlotInstances
{
    public SlotInstances(VaultTarget target, IHostShell shell)
    {
        Target = target;
        Shell = shell;
    }

    protected VaultTarget Target { get; }

    protected IHostShell Shell { get; }

    public static SlotInstances For(VaultTarget target, IHostShell shell) =>
        target.ServiceManager == ServiceManagerKind.Docker ? new ContainerSlots(target, shell) : new SlotInstances(target, shell);

    /// <summary>The name a new version's instance gets in <paramref name="slot"/>.</summary>
    public string InstanceFor(TrafficSlot slot)
    {
        var port = Target.SlotPort(slot).ToString(CultureInfo.InvariantCulture);
        return Target.ServiceManager == ServiceManagerKind.Systemd ? $"{Target.ServiceName}@{port}" : $"{Target.ServiceName}-{port}";
    }

    /// <summary>
    /// The record of a slot nobody gave a version yet: on a target that ran in place, the blue slot is the running
    /// service itself (its own name, the app path), so the first blue-green deployment adopts it instead of stopping it.
    /// </summary>
    public SlotRecord Adopted(TrafficSlot slot, string? release, string? realPath) =>
        slot == TrafficSlot.Blue && Target.SlotPort(TrafficSlot.Blue) == Target.Port
            ? new SlotRecord(Target.ServiceName, release, realPath ?? Target.AppPath, null, null, null)
            : new SlotRecord(InstanceFor(slot), null, null, null, null, null);

    /// <summary>The target as the instance in <paramref name="slot"/> sees it.</summary>
    public VaultTarget SlotTarget(TrafficSlot slot, SlotRecord record) =>
        Target.ForSlot(record.Instance, Target.SlotPort(slot), record.Path ?? Target.AppPath);

    public async Task<ServiceState> GetStateAsync(TrafficSlot slot, SlotRecord record, CancellationToken cancellationToken)
    {
        try
        {
            return await ServiceManagers.For(SlotTarget(slot, record), Shell).GetStateAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (VaultException ex) when (ex.ErrorId is ErrorIds.ServiceNotFound or ErrorIds.ContainerNotFound)
        {
            return new ServiceState { Status = ServiceStatus.NotFound };
        }
    }

    /// <summary>
    /// Puts a prepared release into <paramref name="slot"/> and starts it there: whatever ran in the slot before is
    /// stopped and replaced. Returns the slot's new record.
    /// </summary>
    public virtual async Task<SlotRecord> StartNewAsync(TrafficSlot slot, SlotRecord? old, NewVersion version, TimeSpan stopTimeout, CancellationToken cancellationToken)
    {
        var release = version.ReleasePath ?? throw new InvalidOperationException("A release slot needs a release directory.");
        var record = new SlotRecord(InstanceFor(slot), version.Name, release, null, version.Version, version.Commit);
        if (old is not null)
        {
            await RemoveAsync(slot, old, stopTimeout, cancellationToken).ConfigureAwait(false);
        }

        if (Target.ServiceManager == ServiceManagerKind.Systemd)
        {
            await LinkSlotAsync(slot, release, cancellationToken).ConfigureAwait(false);
        }

        await StartAsync(slot, record, cancellationToken).ConfigureAwait(false);
        return record;
    }

    /// <summary>Starts the slot's instance as its record says (after a stop, or for a switch back to a cold slot).</summary>
    public virtual async Task StartAsync(TrafficSlot slot, SlotRecord record, CancellationToken cancellationToken)
    {
        var slotTarget = SlotTarget(slot, record);
        if (Target.ServiceManager == ServiceManagerKind.Pm2)
        {
            // Always from the recorded directory: "pm2 start <name>" would restart whatever path PM2 resolved before.
            await DeletePm2AppAsync(slotTarget, cancellationToken).ConfigureAwait(false);
        }

        await ServiceManagers.For(slotTarget, Shell).StartAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Stops the slot's instance when it runs (graceful, then killed); says what it found.</summary>
    public async Task<string> StopAsync(TrafficSlot slot, SlotRecord record, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var slotTarget = SlotTarget(slot, record);
        var state = await GetStateAsync(slot, record, cancellationToken).ConfigureAwait(false);
        if (state.Status is ServiceStatus.NotFound or ServiceStatus.Stopped)
        {
            return $"{record.Instance} was not running ({state.Status})";
        }

        var stop = await Runbook.BackendControl.StopAsync(slotTarget, Shell, timeout, force: true, cancellationToken).ConfigureAwait(false);
        return $"stopped {record.Instance} in {stop.DurationMs:0} ms" + (stop.Forced ? " (killed after the graceful stop timed out)" : "");
    }

    /// <summary>Stops the slot's instance and forgets it (a PM2 app is deleted, a container removed; a systemd unit stays).</summary>
    public virtual async Task RemoveAsync(TrafficSlot slot, SlotRecord record, TimeSpan timeout, CancellationToken cancellationToken)
    {
        await StopAsync(slot, record, timeout, cancellationToken).ConfigureAwait(false);
        if (Target.ServiceManager == ServiceManagerKind.Pm2)
        {
            await DeletePm2AppAsync(SlotTarget(slot, record), cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task LinkSlotAsync(TrafficSlot slot, string release, CancellationToken cancellationToken)
    {
        var link = Target.ReleasesDirectory.TrimEnd('/') + "/slots/" + Target.SlotPort(slot).ToString(CultureInfo.InvariantCulture);
        await Shell.RunCheckedAsync(CommandLine.Script(ShellQuote.EnsureParentOfFirstArgument + " && ln -sfn -- \"$2\" \"$1.yv-switch\" && mv -Tf -- \"$1.yv-switch\" \"$1\"", link, release),
            ErrorIds.ReleaseSwitchFailed, $"Pointing the {slot} slot's directory {link} at {release}", TimeSpan.FromSeconds(30), cancellationToken).ConfigureAwait(false);
    }

    private async Task DeletePm2AppAsync(VaultTarget slotTarget, CancellationToken cancellationToken)
    {
        var command = new CommandLine("sh", "-c", "command -v pm2 >/dev/null 2>&1 || exit 0; pm2 describe \"$1\" >/dev/null 2>&1 || exit 0; pm2 delete \"$1\" >/dev/null", "yv-pm2", slotTarget.ServiceName)
        {
            Environment = slotTarget.Pm2Home is { } home ? new System.Collections.Generic.Dictionary<string, string>(StringComparer.Ordinal) { ["PM2_HOME"] = home } : null,
        };
        await Shell.RunCheckedAsync(command, ErrorIds.ServiceManagerFailed, $"pm2 delete {slotTarget.ServiceName}", TimeSpan.FromSeconds(60), cancellationToken).ConfigureAwait(false);
    }
}

/// <summary>What a blue-green deployment puts into a slot: a release directory, or an image.</summary>
internal sealed record NewVersion(string Name, string? ReleasePath, string? Image, string? Version, string? Commit);
