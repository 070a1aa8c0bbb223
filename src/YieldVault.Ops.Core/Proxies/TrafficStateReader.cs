using System;
using System.Threading;
using System.Threading.Tasks;
using YieldVault.Ops.Hosts;
using YieldVault.Ops.Probes;
using YieldVault.Ops.Services;

namespace YieldVault.Ops.Proxies;

/// <summary>Get-VaultTrafficState: what nginx's upstream says, what each slot runs, and what nginx answers.</summary>
public static class TrafficStateReader
{
    public static async Task<VaultTrafficState> ReadAsync(VaultTarget target, IHostShell shell, CancellationToken cancellationToken)
    {
        if (target.Proxy == ProxyKind.None)
        {
            throw new VaultException(ErrorIds.ProxyNotConfigured, VaultErrorKind.InvalidArgument,
                $"{target.DisplayName} has no proxy in front of it, so it has no slots.", "Give the target Proxy = 'Nginx' (and its slot ports).");
        }

        var slots = SlotInstances.For(target, shell);
        var (live, record, liveRecord) = await TrafficSwitch.ReadLiveAsync(target, shell, slots, cancellationToken).ConfigureAwait(false);
        record = record.With(live, liveRecord);
        var upstream = await new NginxProxy(target, shell).ReadAsync(cancellationToken).ConfigureAwait(false);
        var served = await ProxyVerification.ReadAsync(target, shell, cancellationToken).ConfigureAwait(false);
        return new VaultTrafficState
        {
            Target = target,
            Live = upstream.Exists ? live : null,
            LivePort = upstream.Port,
            UpstreamFile = target.UpstreamFilePath,
            ServedVersion = served.Version,
            SwitchedAt = record.SwitchedAt,
            Blue = await SlotAsync(target, shell, slots, TrafficSlot.Blue, record.Of(TrafficSlot.Blue), live, cancellationToken).ConfigureAwait(false),
            Green = await SlotAsync(target, shell, slots, TrafficSlot.Green, record.Of(TrafficSlot.Green), live, cancellationToken).ConfigureAwait(false),
        };
    }

    private static async Task<VaultSlotState> SlotAsync(VaultTarget target, IHostShell shell, SlotInstances slots, TrafficSlot slot, SlotRecord? record, TrafficSlot live,
        CancellationToken cancellationToken)
    {
        var port = target.SlotPort(slot);
        if (record is null)
        {
            return new VaultSlotState { Slot = slot, Port = port, Instance = slots.InstanceFor(slot), Status = ServiceStatus.NotFound, Live = slot == live };
        }

        var state = await slots.GetStateAsync(slot, record, cancellationToken).ConfigureAwait(false);
        bool? healthy = null;
        string? version = record.Version, commit = record.Commit;
        if (state.Status == ServiceStatus.Running)
        {
            var slotTarget = slots.SlotTarget(slot, record);
            var health = await HealthProbe.CheckAsync(slotTarget, shell, checkReady: false, TimeSpan.FromSeconds(5), cancellationToken).ConfigureAwait(false);
            healthy = health.Healthy;
            var running = await VersionProbe.GetAsync(slotTarget, shell, TimeSpan.FromSeconds(5), cancellationToken).ConfigureAwait(false);
            version = running.Version ?? version;
            commit = running.Commit ?? commit;
        }

        return new VaultSlotState
        {
            Slot = slot, Port = port, Instance = record.Instance, Status = state.Status, Live = slot == live, Healthy = healthy,
            Warm = slot != live && state.Status == ServiceStatus.Running && healthy == true && !record.Failed,
            Release = record.Release, Version = version, Commit = commit,
        };
    }
}
