using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Net;
using System.Net.Http;
using System.Net.Sockets;
using System.Threading;
using System.Threading.Tasks;
using Docker.DotNet;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;
using Renci.SshNet;
using Renci.SshNet.Common;
using YieldVault.Ops.Hosts;
using ManagedHandler = Microsoft.Net.Http.Client.ManagedHandler;
using StreamOpener = Microsoft.Net.Http.Client.ManagedHandler.StreamOpener;

namespace YieldVault.Ops.Services;

/// <summary>
/// A connection to a target's Docker engine (Docker.DotNet) over a Unix socket, plain TCP, or SSH with
/// <c>docker system dial-stdio</c>. Opening it does no I/O; every call goes through <see cref="CallAsync{T}"/>,
/// which bounds it in time and turns failures into <see cref="VaultException"/>s. Docker.DotNet types never
/// leave the Services namespace.
/// </summary>
internal sealed class DockerEngine : IDisposable
{
    private readonly DockerClientConfiguration _configuration;
    private readonly DockerClient _client;
    private readonly SshShell? _ownShell;
    private readonly List<Stream> _channels;

    private DockerEngine(DockerEngineAddress address, DockerClientConfiguration configuration, SshShell? ownShell, List<Stream>? channels = null)
    {
        Address = address;
        _configuration = configuration;
        _client = configuration.CreateClient();
        _ownShell = ownShell;
        _channels = channels ?? new List<Stream>();
    }

    public DockerEngineAddress Address { get; }

    /// <summary>For messages: "unix:///var/run/docker.sock", "ssh://deploy@app1", "ssh://deploy@app1 (unix:///run/user/1000/docker.sock)".</summary>
    public string Description => Address.Display;

    /// <summary>
    /// The engine of <paramref name="target"/>. For an SSH target the target's own connection (<paramref name="shell"/>)
    /// carries the engine's traffic; an ssh:// DockerHost for another login gets a connection of its own.
    /// </summary>
    public static DockerEngine Open(VaultTarget target, IHostShell shell)
    {
        var address = DockerEngineAddress.For(target);
        switch (address.Transport)
        {
            case DockerEngineTransport.UnixSocket:
                return new DockerEngine(address, Configure(new Uri("unix://" + address.SocketPath), new DockerEngineCredentials(null)), null);
            case DockerEngineTransport.Tcp:
                return new DockerEngine(address, Configure(new Uri($"tcp://{address.Host}:{address.Port.ToString(CultureInfo.InvariantCulture)}"), new DockerEngineCredentials(null)), null);
        }

        SshShell? own = null;
        SshShell sshShell;
        if (address.UsesTargetConnection)
        {
            sshShell = CoalescingShell.Unwrap(shell) as SshShell ?? throw new VaultException(ErrorIds.DockerHostUnsupported, VaultErrorKind.InvalidOperation,
                $"Target '{target.Name}' reaches its host through {shell.Description}, which cannot carry a Docker engine connection.",
                "Set DockerHost to unix:///..., tcp://... or ssh://user@host for this target.");
        }
        else
        {
            own = new SshShell(SeparateEndpoint(target, address));
            sshShell = own;
        }

        var where = $"ssh://{address.User}@{address.Host}" + (address.Port == RunbookDefaults.SshPort ? "" : ":" + address.Port.ToString(CultureInfo.InvariantCulture));
        var dialCommand = address.DialCommand;
        var channels = new List<Stream>();
        StreamOpener opener = async (_, _, cancellationToken) =>
        {
            var client = await sshShell.GetClientAsync(cancellationToken).ConfigureAwait(false);
            var stream = await DockerEngineSshStream.OpenAsync(client, dialCommand, where, cancellationToken).ConfigureAwait(false);
            lock (channels)
            {
                channels.Add(stream);
            }

            return stream;
        };

        // The host name is only a placeholder for the Host header; the opener decides where bytes go.
        return new DockerEngine(address, Configure(new Uri("http://docker-engine"), new DockerEngineCredentials(opener)), own, channels);
    }

    /// <summary>
    /// Runs one engine call, bounded by <paramref name="timeout"/> (even when a transport does not watch its token),
    /// and maps failures: no engine -> <c>DockerUnreachable</c>, too slow -> <c>DockerTimeout</c>, unknown
    /// container -> <c>ContainerNotFound</c>, an engine refusal -> <c>DockerRequestFailed</c>. Failures of the
    /// target's SSH connection keep their own ids (HostKeyMismatch, TargetUnreachable...).
    /// </summary>
    public async Task<T> CallAsync<T>(string what, string? container, TimeSpan timeout, Func<IDockerClient, CancellationToken, Task<T>> call, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        using var timeoutSource = new CancellationTokenSource(timeout);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeoutSource.Token);
        using var guard = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        try
        {
            var task = call(_client, linked.Token);

            // A little later than the token (the call itself should notice first and clean up after itself), or
            // as soon as the caller cancels, for a transport that does not watch its token.
            var backstop = Task.Delay(timeout + TimeSpan.FromSeconds(2), guard.Token);
            if (await Task.WhenAny(task, backstop).ConfigureAwait(false) != task)
            {
                Observe(task);
                cancellationToken.ThrowIfCancellationRequested();
                throw TimedOut(what, timeout, null);
            }

            return await task.ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (OperationCanceledException ex) when (timeoutSource.IsCancellationRequested)
        {
            throw TimedOut(what, timeout, ex);
        }
        catch (Exception ex) when (ex is not VaultException && Translate(ex, what, container) is { } translated)
        {
            throw translated;
        }
        finally
        {
            guard.Cancel();
        }
    }

    public Task CallAsync(string what, string? container, TimeSpan timeout, Func<IDockerClient, CancellationToken, Task> call, CancellationToken cancellationToken) =>
        CallAsync<bool>(what, container, timeout, async (client, token) =>
        {
            await call(client, token).ConfigureAwait(false);
            return true;
        }, cancellationToken);

    public void Dispose()
    {
        // Docker.DotNet reads some response bodies without a token: a channel a stalled call left open (after
        // CallAsync gave up on it) is closed here, which also ends the read blocked on it.
        lock (_channels)
        {
            foreach (var channel in _channels)
            {
                channel.Dispose();
            }

            _channels.Clear();
        }

        _client.Dispose();
        _configuration.Dispose();
        _ownShell?.Dispose();
    }

    /// <summary>The message of an engine error body ({"message":"..."}), or the body itself.</summary>
    internal static string EngineMessage(string? body)
    {
        var text = (body ?? "").Trim();
        if (text.StartsWith("{", StringComparison.Ordinal))
        {
            try
            {
                if (JObject.Parse(text)["message"] is JValue { Value: string message })
                {
                    text = message.Trim();
                }
            }
            catch (JsonException)
            {
                // Not JSON after all; show it as it is.
            }
        }

        text = text.Replace("\r", "").Replace('\n', ' ');
        return text.Length > 500 ? text.Substring(0, 500) + "..." : text;
    }

    // No timeout of Docker.DotNet's own (its default of 100 s would cut a long stop short): CallAsync bounds every call.
    private static DockerClientConfiguration Configure(Uri endpoint, Credentials credentials) =>
        new(endpoint, credentials, Timeout.InfiniteTimeSpan, TimeSpan.FromSeconds(10), new Dictionary<string, string>());

    private static SshEndpoint SeparateEndpoint(VaultTarget target, DockerEngineAddress address)
    {
        // A second login (another user or host than the target's): only the key and known_hosts carry over; a
        // password or pinned host key belongs to the target's own host and is never offered elsewhere.
        var keyFile = target.Ssh?.KeyFile ?? DefaultKeyFile();
        var identityFiles = target.Ssh?.IdentityFiles ?? Array.Empty<string>();
        var agentSocket = target.Ssh is { } ssh ? ssh.EffectiveAgentSocket : Hosts.SshAgent.EnvironmentSocket();
        if (keyFile is null && identityFiles.Count == 0 && agentSocket is null)
        {
            throw new VaultException(ErrorIds.DockerHostUnsupported, VaultErrorKind.InvalidOperation,
                $"DockerHost {address.Display} of target '{target.Name}' needs an SSH key, and the target has no KeyFile, ~/.ssh has no id_ed25519, id_ecdsa or id_rsa, and no ssh-agent runs (SSH_AUTH_SOCK).",
                "Give the target a KeyFile, or leave DockerHost empty to use the target's own SSH connection.");
        }

        // The keys carry over (the key files and the agent); a jump host does not: DockerHost names the engine's host itself.
        return new SshEndpoint
        {
            HostName = address.Host!,
            Port = address.Port,
            User = address.User!,
            KeyFile = keyFile,
            IdentityFiles = identityFiles,
            UseAgent = target.Ssh?.UseAgent ?? true,
            AgentSocket = target.Ssh?.AgentSocket,
            KnownHostsFile = target.Ssh?.KnownHostsFile ?? SshEndpoint.DefaultKnownHostsFile(),
            ConnectTimeout = target.Ssh?.ConnectTimeout ?? TimeSpan.FromSeconds(RunbookDefaults.ConnectTimeoutSec),
            CommandTimeout = target.Ssh?.CommandTimeout ?? TimeSpan.FromSeconds(RunbookDefaults.CommandTimeoutSec),
        };
    }

    private static string? DefaultKeyFile()
    {
        var home = Environment.GetEnvironmentVariable("HOME") ?? Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        foreach (var name in new[] { "id_ed25519", "id_ecdsa", "id_rsa" })
        {
            var path = Path.Combine(home, ".ssh", name);
            if (File.Exists(path))
            {
                return path;
            }
        }

        return null;
    }

    private static void Observe(Task task) =>
        _ = task.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);

    private VaultException TimedOut(string what, TimeSpan timeout, Exception? inner) =>
        new(ErrorIds.DockerTimeout, VaultErrorKind.OperationTimeout,
            $"The Docker engine at {Description} did not {what} within {timeout.TotalSeconds.ToString("0.#", CultureInfo.InvariantCulture)} s.",
            "Check that the engine is responsive (docker info on the host); a busy host may need a longer timeout.", inner);

    private VaultException? Translate(Exception ex, string what, string? container)
    {
        // Failures of the target's own SSH connection keep their precise ids (HostKeyMismatch, TargetUnreachable...).
        if (Find<VaultException>(ex) is { } vault)
        {
            return vault;
        }

        if (ex is DockerContainerNotFoundException && container is not null)
        {
            return new VaultException(ErrorIds.ContainerNotFound, VaultErrorKind.ObjectNotFound,
                $"There is no container named '{container}' on the Docker engine at {Description}.",
                "Check the target's ServiceName against 'docker ps -a' on the host.", ex);
        }

        if (ex is DockerApiException api)
        {
            var code = ((int)api.StatusCode).ToString(CultureInfo.InvariantCulture);
            return new VaultException(ErrorIds.DockerRequestFailed, api.StatusCode == HttpStatusCode.Conflict ? VaultErrorKind.ResourceBusy : VaultErrorKind.InvalidOperation,
                new SecretRedactor().Redact($"The Docker engine at {Description} refused to {what} (HTTP {code}): {EngineMessage(api.ResponseBody)}"),
                null, ex);
        }

        if (Find<DockerEngineDialException>(ex) is { } dial)
        {
            var action = dial.CliMissing
                ? $"Install the docker CLI on the server (apt-get install docker.io); the connection runs '{Address.DialCommand}' there."
                : dial.PermissionDenied
                    ? $"Let the SSH user use the engine's socket on the server (e.g. usermod -aG docker {Address.User}, then log in again)."
                    : "Check that the Docker engine runs on the server ('docker info' as the SSH user).";
            return Unreachable(new SecretRedactor().Redact(dial.Message), action, ex);
        }

        if (Find<SocketException>(ex) is { } socket)
        {
            return Address.Transport == DockerEngineTransport.UnixSocket
                ? Unreachable($"Could not connect to the Docker engine at {Description}: {SocketReason(socket)}.",
                    socket.SocketErrorCode == SocketError.AccessDenied
                        ? "Run as root or as a member of the docker group."
                        : "Check that dockerd runs on this machine and that the socket path is right.", ex)
                : Unreachable($"Could not connect to the Docker engine at {Description}: {SocketReason(socket)}.",
                    "Check that the engine listens there and that the network path is open.", ex);
        }

        if (ex is HttpRequestException or IOException or SshException or ObjectDisposedException or InvalidOperationException)
        {
            return Unreachable($"The connection to the Docker engine at {Description} failed while trying to {what}: {Innermost(ex).Message}",
                "Check that the engine runs and is reachable; retry.", ex);
        }

        return null;
    }

    private VaultException Unreachable(string message, string action, Exception inner) =>
        new(ErrorIds.DockerUnreachable, VaultErrorKind.ConnectionError, message, action, inner);

    private static string SocketReason(SocketException socket) => socket.SocketErrorCode switch
    {
        SocketError.AddressNotAvailable or SocketError.HostNotFound => "it does not exist",
        SocketError.ConnectionRefused => "connection refused",
        SocketError.AccessDenied => "permission denied",
        SocketError.TimedOut => "timed out",
        _ => socket.Message,
    };

    private static TException? Find<TException>(Exception ex)
        where TException : Exception
    {
        for (Exception? current = ex; current is not null; current = current.InnerException)
        {
            if (current is TException found)
            {
                return found;
            }
        }

        return null;
    }

    private static Exception Innermost(Exception ex)
    {
        var current = ex;
        while (current.InnerException is not null)
        {
            current = current.InnerException;
        }

        return current;
    }

    /// <summary>
    /// Plugs the transport into Docker.DotNet: its own handler for sockets and TCP (without a proxy: DOCKER_HOST traffic
    /// must never go to an HTTP proxy), or a handler whose connections are SSH channels.
    /// </summary>
    private sealed class DockerEngineCredentials : Credentials
    {
        private readonly StreamOpener? _opener;

        public DockerEngineCredentials(StreamOpener? opener)
        {
            _opener = opener;
        }

        public override bool IsTlsCredentials() => false;

        public override HttpMessageHandler GetHandler(HttpMessageHandler handler)
        {
            if (_opener is null)
            {
                if (handler is ManagedHandler managed)
                {
                    managed.UseProxy = false;
                }

                return handler;
            }

            handler.Dispose();
            return new ManagedHandler(_opener) { UseProxy = false };
        }

        public override void Dispose()
        {
        }
    }
}
