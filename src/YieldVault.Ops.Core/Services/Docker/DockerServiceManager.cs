using System;
using System.Collections.Generic;
using System.Globalization;
using System.Threading;
using System.Threading.Tasks;
using Docker.DotNet;
using Docker.DotNet.Models;
using YieldVault.Ops.Hosts;

namespace YieldVault.Ops.Services;

/// <summary>
/// The backend as a Docker container named <see cref="VaultTarget.ServiceName"/>, driven through the engine's API
/// (Docker.DotNet) over the target's Unix socket, TCP, or its SSH connection (<c>docker system dial-stdio</c>).
/// Every call opens its own engine connection and closes it again; nothing is kept between calls.
/// </summary>
public sealed class DockerServiceManager : IServiceManager
{
    // Bounds for single engine requests. Stop and restart add the container's own grace period.
    internal static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(30);
    internal static readonly TimeSpan StatsTimeout = TimeSpan.FromSeconds(5);
    internal static readonly TimeSpan LogTimeout = TimeSpan.FromSeconds(30);

    /// <summary>Grace period of <see cref="RestartAsync"/> before the engine kills the old process.</summary>
    internal const int RestartGraceSeconds = 30;

    private readonly VaultTarget _target;
    private readonly IHostShell _shell;

    private readonly bool _sampleResources;

    public DockerServiceManager(VaultTarget target, IHostShell shell)
        : this(target, shell, sampleResources: true)
    {
    }

    /// <param name="sampleResources">
    /// Read CPU and memory with each state (the engine waits about a second for a second sample, so the
    /// deployment's many state reads leave it off).
    /// </param>
    public DockerServiceManager(VaultTarget target, IHostShell shell, bool sampleResources)
    {
        _target = target ?? throw new ArgumentNullException(nameof(target));
        _shell = shell ?? throw new ArgumentNullException(nameof(shell));
        _sampleResources = sampleResources;
    }

    public ServiceManagerKind Kind => ServiceManagerKind.Docker;

    private string Container => _target.ServiceName;

    public async Task<ServiceState> GetStateAsync(CancellationToken cancellationToken)
    {
        using var engine = DockerEngine.Open(_target, _shell);
        ContainerInspectResponse inspect;
        try
        {
            inspect = await engine.CallAsync("inspect the container", Container, RequestTimeout,
                (client, token) => client.Containers.InspectContainerAsync(Container, token), cancellationToken).ConfigureAwait(false);
        }
        catch (VaultException ex) when (ex.ErrorId == ErrorIds.ContainerNotFound)
        {
            return new ServiceState
            {
                Manager = ServiceManagerKind.Docker,
                ServiceName = Container,
                Status = ServiceStatus.NotFound,
                Detail = $"no container named '{Container}' on {engine.Description}",
            };
        }

        ContainerStatsResponse? stats = null;
        if (_sampleResources && inspect.State?.Running == true && inspect.State.Restarting != true)
        {
            stats = await ReadStatsAsync(engine, cancellationToken).ConfigureAwait(false);
        }

        return DockerContainerState.ToServiceState(Container, inspect, stats);
    }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        using var engine = DockerEngine.Open(_target, _shell);

        // false means "already running" (HTTP 304): nothing to do.
        await engine.CallAsync("start the container", Container, RequestTimeout,
            (client, token) => client.Containers.StartContainerAsync(Container, new ContainerStartParameters(), token), cancellationToken).ConfigureAwait(false);
    }

    public async Task StopAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        var grace = GraceSeconds(timeout);
        using var engine = DockerEngine.Open(_target, _shell);

        // The engine sends the stop signal, waits the grace period, then kills; the request returns when the
        // container has stopped. false means it was not running.
        await engine.CallAsync("stop the container", Container, TimeSpan.FromSeconds(grace) + RequestTimeout,
            (client, token) => client.Containers.StopContainerAsync(Container, new ContainerStopParameters { WaitBeforeKillSeconds = grace }, token),
            cancellationToken).ConfigureAwait(false);
    }

    public async Task KillAsync(CancellationToken cancellationToken)
    {
        using var engine = DockerEngine.Open(_target, _shell);
        try
        {
            await engine.CallAsync("kill the container", Container, RequestTimeout,
                (client, token) => client.Containers.KillContainerAsync(Container, new ContainerKillParameters { Signal = "SIGKILL" }, token),
                cancellationToken).ConfigureAwait(false);
        }
        catch (VaultException ex) when (ex.InnerException is DockerApiException { StatusCode: System.Net.HttpStatusCode.Conflict } api
            && DockerEngine.EngineMessage(api.ResponseBody).IndexOf("is not running", StringComparison.OrdinalIgnoreCase) >= 0)
        {
            // Nothing left to kill.
        }
    }

    public async Task RestartAsync(CancellationToken cancellationToken)
    {
        using var engine = DockerEngine.Open(_target, _shell);
        await engine.CallAsync("restart the container", Container, TimeSpan.FromSeconds(RestartGraceSeconds) + RequestTimeout,
            (client, token) => client.Containers.RestartContainerAsync(Container, new ContainerRestartParameters { WaitBeforeKillSeconds = RestartGraceSeconds }, token),
            cancellationToken).ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<string>> ReadLogAsync(int tail, DateTimeOffset? since, CancellationToken cancellationToken)
    {
        if (tail < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(tail), tail, "At least one line.");
        }

        using var engine = DockerEngine.Open(_target, _shell);

        // The log stream is framed (stdout/stderr) unless the container has a TTY.
        var inspect = await engine.CallAsync("inspect the container", Container, RequestTimeout,
            (client, token) => client.Containers.InspectContainerAsync(Container, token), cancellationToken).ConfigureAwait(false);
        var tty = inspect.Config?.Tty == true;
        var parameters = new ContainerLogsParameters
        {
            ShowStdout = true,
            ShowStderr = true,
            Timestamps = true,
            Tail = tail.ToString(CultureInfo.InvariantCulture),
            Since = since is { } from ? DockerContainerLog.UnixTimestamp(from) : null,
        };

        return await engine.CallAsync<IReadOnlyList<string>>("read the container's log", Container, LogTimeout, async (client, token) =>
        {
            using var stream = await client.Containers.GetContainerLogsAsync(Container, tty, parameters, token).ConfigureAwait(false);
            return await DockerContainerLog.ReadLinesAsync(stream, tail, token).ConfigureAwait(false);
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Published ports as docker ps shows them (kept here for the deployment's container spec).</summary>
    internal static IReadOnlyList<string> FormatPorts(IDictionary<string, IList<PortBinding>>? ports) => DockerContainerState.FormatPorts(ports);

    private async Task<ContainerStatsResponse?> ReadStatsAsync(DockerEngine engine, CancellationToken cancellationToken)
    {
        // One sample pair (stream=false): the engine waits for a second reading so CPU use can be computed.
        // Resource figures are a bonus: a slow or failing stats call leaves them empty instead of failing the reading.
        var capture = new StatsCapture();
        try
        {
            await engine.CallAsync("report the container's resource use", null, StatsTimeout,
                (client, token) => client.Containers.GetContainerStatsAsync(Container, new ContainerStatsParameters { Stream = false }, capture, token),
                cancellationToken).ConfigureAwait(false);
        }
        catch (VaultException ex) when (ex.ErrorId is ErrorIds.DockerTimeout or ErrorIds.DockerRequestFailed)
        {
            Reporting.Current.Verbose($"No resource figures for the container: {ex.Message}");
        }

        return capture.Value;
    }
    private static uint GraceSeconds(TimeSpan timeout)
    {
        if (timeout < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(timeout), timeout, "The stop timeout cannot be negative.");
        }

        return (uint)Math.Min(Math.Ceiling(timeout.TotalSeconds), 3600);
    }

    private sealed class StatsCapture : IProgress<ContainerStatsResponse>
    {
        public ContainerStatsResponse? Value { get; private set; }

        public void Report(ContainerStatsResponse value) => Value = value;
    }
}
