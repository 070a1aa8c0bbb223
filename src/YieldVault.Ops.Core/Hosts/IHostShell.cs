using System;
using System.Threading;
using System.Threading.Tasks;

namespace YieldVault.Ops.Hosts;

/// <summary>The host a target lives on: runs commands and reaches the backend's HTTP port.</summary>
public interface IHostShell : IDisposable
{
    /// <summary>"local" or "deploy@app1:22", for messages.</summary>
    string Description { get; }

    /// <summary>Runs a command to completion. A non-zero exit code is a result, not an exception.</summary>
    Task<CommandResult> RunAsync(CommandLine command, TimeSpan? timeout, CancellationToken cancellationToken);

    /// <summary>
    /// A base URI on this machine that reaches <c>localhost:&lt;port&gt;</c> on the host (for SSH, a local
    /// port forward; nothing has to be installed on the server).
    /// </summary>
    Task<Uri> GetHttpBaseAsync(int port, CancellationToken cancellationToken);

    /// <summary>
    /// An address on this machine that reaches <paramref name="host"/>:<paramref name="port"/> as the host
    /// sees it (for SSH, a local port forward through the server; locally, the address itself). Used to
    /// check the backend's dependencies from where the backend runs.
    /// </summary>
    Task<(string Host, int Port)> ForwardTcpAsync(string host, int port, CancellationToken cancellationToken);
}
