using System;
using System.Threading;
using System.Threading.Tasks;
using YieldVault.Ops.Hosts;
using YieldVault.Ops.Releases;
using YieldVault.Ops.Runbook;
using YieldVault.Ops.Services;

namespace YieldVault.Ops.Proxies;

/// <summary>
/// The pieces every blue-green run shares (deployment, switch back, Switch-VaultTraffic): which slot is live, making
/// sure nginx serves what its upstream file says, and the switch itself (nginx, the record, the check through nginx).
/// </summary>
internal static class TrafficSwitch
{
    /// <summary>How long the workers that served before a reload may take to finish their requests.</summary>
    public static readonly TimeSpan WorkerTimeout = TimeSpan.FromSeconds(30);

    /// <summary>How long nginx may take to answer with the new slot's version after the reload.</summary>
    public static readonly TimeSpan VerifyTimeout = TimeSpan.FromSeconds(15);

    /// <summary>
    /// The live slot as nginx's upstream file says (blue on a target that has no upstream file yet: it ran in place on
    /// its own port), the target's record, and the live slot's record (for a target that ran in place, its own service).
    /// </summary>
    public static async Task<(TrafficSlot Live, TrafficRecord Record, SlotRecord LiveRecord)> ReadLiveAsync(VaultTarget target, IHostShell shell, SlotInstances slots,
        CancellationToken cancellationToken)
    {
        var (upstream, record) = await NginxProxy.ReadWithRecordAsync(target, shell, cancellationToken).ConfigureAwait(false);
        TrafficSlot live;
        if (upstream.Port is { } port)
        {
            live = target.SlotOf(port) ?? throw new VaultException(ErrorIds.UpstreamForeign, VaultErrorKind.InvalidData,
                $"{target.DisplayName}: {target.UpstreamFilePath} sends traffic to port {port}, which is neither the blue ({target.SlotPort(TrafficSlot.Blue)}) nor the green ({target.SlotPort(TrafficSlot.Green)}) slot's. Nothing was changed.",
                "Set the target's BluePort and GreenPort to the ports in use.");
        }
        else if (upstream.Exists)
        {
            throw new VaultException(ErrorIds.UpstreamForeign, VaultErrorKind.InvalidData,
                $"{target.DisplayName}: {target.UpstreamFilePath} names no server on 127.0.0.1. Nothing was changed.",
                $"Point it at the slot that serves (Switch-VaultTraffic -To Blue), or remove it if nginx does not use it yet.");
        }
        else
        {
            live = TrafficSlot.Blue;
        }

        if (record.Live is { } recorded && recorded != live)
        {
            Reporting.Current.Warning($"{target.Name}: the traffic record says the {recorded} slot is live, but nginx's upstream sends traffic to the {live} slot; going by the upstream.");
        }

        var liveRecord = record.Of(live) ?? await AdoptAsync(target, shell, slots, live, cancellationToken).ConfigureAwait(false);
        return (live, record, liveRecord);
    }

    /// <summary>
    /// Makes sure nginx serves the live slot as its upstream file says (a run killed between writing the file and the
    /// reload leaves nginx on the other slot): when what nginx answers is not the live slot's version, the file is
    /// tested and reloaded, and nginx asked again.
    /// </summary>
    public static async Task EnsureNginxServesAsync(VaultTarget target, IHostShell shell, TrafficSlot live, ExpectedVersion expected, CancellationToken cancellationToken)
    {
        var (status, version, commit, error) = await ProxyVerification.ReadAsync(target, shell, cancellationToken).ConfigureAwait(false);
        if (status is null)
        {
            throw new VaultException(ErrorIds.ProxyNotRunning, VaultErrorKind.ResourceUnavailable,
                $"{target.DisplayName}: nginx does not answer on port {target.ProxyPort} ({error}). Nothing was changed.",
                "Start nginx (or correct the target's ProxyPort), then deploy again.");
        }

        expected = ThroughNginx(target, expected);
        if (status == 200 && expected.Mismatch(target, new VaultBackendVersion { Target = target, Version = version, Commit = commit }) is null)
        {
            return;
        }

        Reporting.Current.Warning($"{target.Name}: nginx answers {(status == 200 ? $"version {version}" : $"HTTP {status}")}, not the {live} slot its upstream file names; reloading nginx so that it serves that slot.");
        await new NginxProxy(target, shell).SwitchAsync(live, null, WorkerTimeout, CancellationToken.None).ConfigureAwait(false);
        await ProxyVerification.WaitServedAsync(target, shell, expected, VerifyTimeout, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Sends nginx's traffic to <paramref name="to"/>: the upstream file, nginx -t, reload, the old workers' exit; then
    /// the record, and nginx asked until it answers with <paramref name="expected"/> several times in a row.
    /// </summary>
    /// <param name="reloaded">Called once nginx has reloaded with the new upstream (from then on, a failure must switch back).</param>
    public static async Task<string> SwitchAsync(VaultTarget target, IHostShell shell, TrafficRecord record, TrafficSlot to, ExpectedVersion expected, CancellationToken cancellationToken,
        Action? reloaded = null)
    {
        // Once begun, the switch runs to its end, Ctrl+C or not: a script killed between the upstream file's move and
        // the reload (or after the reload, before it reports) would leave nginx, its file and the record disagreeing,
        // and the run would not know that traffic had moved. It takes milliseconds (at most the wait for the old
        // workers); the Ctrl+C is seen right after it, when the run knows what nginx serves and can switch back.
        cancellationToken.ThrowIfCancellationRequested();
        var report = await new NginxProxy(target, shell).SwitchAsync(to, record.Of(to)?.Release, WorkerTimeout, CancellationToken.None).ConfigureAwait(false);
        reloaded?.Invoke();
        try
        {
            await (record with { Live = to, SwitchedAt = DateTimeOffset.UtcNow }).WriteAsync(target, shell, CancellationToken.None).ConfigureAwait(false);
        }
        catch (VaultException ex)
        {
            Reporting.Current.Warning($"{target.Name}: nginx serves the {to} slot, but its record could not be written: {ex.Message}");
        }

        if (!report.WorkersGone)
        {
            Reporting.Current.Warning($"{target.Name}: {WorkerTimeout.TotalSeconds:0} s after the reload, nginx workers of the old configuration still run ({report.WorkersLeft}): long requests may still reach the previous slot.");
        }

        var served = await ProxyVerification.WaitServedAsync(target, shell, ThroughNginx(target, expected), VerifyTimeout, cancellationToken).ConfigureAwait(false);
        return $"nginx sends traffic to {to} (port {target.SlotPort(to)}): test and reload in {report.SwitchMs:0} ms, "
            + (report.HandoverMs is { } handover ? $"old workers told to stop {handover:0} ms later (a new worker ran), " : "")
            + (report.WorkersGone ? $"old workers gone {report.WorkersGoneMs:0} ms later" : "old workers still running") + "; " + served;
    }

    // What an answer through nginx can be checked against: a backend without a version endpoint (VersionPath '') answers
    // nginx with its health alone, so its version (read from its release or image on the slot's own port) cannot be seen
    // there; the upstream file, nginx -t, the reload and the old workers' exit say which slot serves, and the answers
    // must be healthy.
    private static ExpectedVersion ThroughNginx(VaultTarget target, ExpectedVersion expected) =>
        target.HasVersionPath ? expected : ExpectedVersion.Unknown(expected.Of);

    // A slot nobody recorded: on a target that ran in place, the blue slot is its own service as it runs now.
    private static async Task<SlotRecord> AdoptAsync(VaultTarget target, IHostShell shell, SlotInstances slots, TrafficSlot slot, CancellationToken cancellationToken)
    {
        if (slots is ContainerSlots containers)
        {
            var adopted = slots.Adopted(slot, null, null);
            var image = await containers.ImageOfAsync(adopted.Instance, cancellationToken).ConfigureAwait(false);
            return adopted with { Release = image, Image = image };
        }

        var release = await new ReleaseStore(target, shell).CurrentAsync(cancellationToken).ConfigureAwait(false);
        var real = await shell.RunAsync(CommandLine.Script("readlink -f -- \"$1\"", target.AppPath), TimeSpan.FromSeconds(30), cancellationToken).ConfigureAwait(false);
        return slots.Adopted(slot, release, real.Succeeded && real.StandardOutput.Trim().Length > 0 ? real.StandardOutput.Trim() : null);
    }
}
