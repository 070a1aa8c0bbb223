using System;
using System.IO;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Net.Http.Client;
using Renci.SshNet;
using Renci.SshNet.Common;

namespace YieldVault.Ops.Services;

/// <summary>
/// One connection to a remote Docker engine: an SSH exec channel running <c>docker system dial-stdio</c>,
/// which relays its stdin/stdout to the engine's socket (what the docker CLI does for ssh:// hosts).
/// Writes go to the command's stdin, reads come from its stdout. Each HTTP request opens its own stream
/// (Docker.DotNet's handler sends "Connection: close"), so each request is one short-lived channel on the
/// shared SSH connection.
/// </summary>
internal sealed class DockerEngineSshStream : WriteClosableStream
{
    // How long to wait for the exit status of a dial-stdio that ended before saying anything.
    private static readonly TimeSpan ExitStatusWait = TimeSpan.FromSeconds(2);

    private readonly SshCommand _command;
    private readonly Task _execution;
    private readonly Stream _input;
    private readonly Stream _output;
    private readonly string _dialCommand;
    private readonly string _where;
    private int _inputClosed;
    private int _disposed;
    private bool _receivedAny;

    private DockerEngineSshStream(SshCommand command, Task execution, Stream input, string dialCommand, string where)
    {
        _dialCommand = dialCommand;
        _command = command;
        _execution = execution;
        _input = input;
        _output = command.OutputStream;
        _where = where;

        // The execution faults when the channel is torn down by Dispose; nobody awaits it then.
        _ = execution.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override bool CanCloseWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    /// <summary>Opens a channel on <paramref name="client"/> and starts <paramref name="dialCommand"/> (<c>docker system dial-stdio</c>) in it.</summary>
    public static async Task<Stream> OpenAsync(SshClient client, string dialCommand, string where, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var command = client.CreateCommand(dialCommand);
        try
        {
            // ExecuteAsync opens the channel and sends the exec request before it returns: a blocking round trip,
            // bounded by the connection's own timeout, so it runs off the caller's thread.
            var (execution, input) = await Task.Run(
                () =>
                {
                    var started = command.ExecuteAsync(CancellationToken.None);
                    return (started, command.CreateInputStream());
                },
                cancellationToken).ConfigureAwait(false);
            var stream = new DockerEngineSshStream(command, execution, input, dialCommand, where);
            if (cancellationToken.IsCancellationRequested)
            {
                stream.Dispose();
                cancellationToken.ThrowIfCancellationRequested();
            }

            return stream;
        }
        catch
        {
            command.Dispose();
            throw;
        }
    }

    public override int Read(byte[] buffer, int offset, int count) => Received(_output.Read(buffer, offset, count));

    public override async Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();

        // SSH.NET's output pipe only has a blocking Read; tearing the channel down on cancellation ends it (it then returns 0).
        int read;
        using (cancellationToken.Register(static state => ((DockerEngineSshStream)state!).Dispose(), this))
        {
            read = await Task.Run(() => _output.Read(buffer, offset, count), CancellationToken.None).ConfigureAwait(false);
        }

        cancellationToken.ThrowIfCancellationRequested();
        return await ReceivedAsync(read).ConfigureAwait(false);
    }

    public override void Write(byte[] buffer, int offset, int count)
    {
        ThrowIfDisposed();
        _input.Write(buffer, offset, count);
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();

        // Requests are small and the channel window is large: sending is a buffer copy, not a wait on the network.
        try
        {
            Write(buffer, offset, count);
            return Task.CompletedTask;
        }
        catch (Exception ex) when (ex is SshException or ObjectDisposedException or IOException or InvalidOperationException)
        {
            return Task.FromException(ex);
        }
    }

    public override void Flush()
    {
        if (Volatile.Read(ref _inputClosed) == 0 && Volatile.Read(ref _disposed) == 0)
        {
            _input.Flush();
        }
    }

    public override Task FlushAsync(CancellationToken cancellationToken)
    {
        Flush();
        return Task.CompletedTask;
    }

    /// <summary>Sends EOF on stdin: dial-stdio then half-closes its connection to the engine.</summary>
    public override void CloseWrite()
    {
        if (Interlocked.Exchange(ref _inputClosed, 1) == 0)
        {
            _input.Dispose();
        }
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing && Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            // No EOF before the close: the engine answers "Connection: close" requests and dial-stdio exits, so the
            // server's CLOSE often arrives just as we dispose, and SSH.NET checks "open" outside the lock it sends
            // under. An EOF that loses that race goes out after our CLOSE; OpenSSH then drops the whole connection
            // ("ieof packet referred to nonexistent channel"), and every probe and command riding on it with it.
            // SshCommand.Dispose closes the channel first and then its input stream, which sends nothing on a
            // closed channel; the remote dial-stdio still sees its stdin end and exits.
            Interlocked.Exchange(ref _inputClosed, 1);
            _command.Dispose();
        }

        base.Dispose(disposing);
    }

    private int Received(int read)
    {
        if (read > 0)
        {
            _receivedAny = true;
            return read;
        }

        if (!_receivedAny && Volatile.Read(ref _disposed) == 0)
        {
            throw DialFailed();
        }

        return 0;
    }

    private async Task<int> ReceivedAsync(int read)
    {
        if (read == 0 && !_receivedAny && Volatile.Read(ref _disposed) == 0)
        {
            // The command ended before the engine said anything: wait (briefly) for its exit status and stderr.
            using var delay = new CancellationTokenSource();
            await Task.WhenAny(_execution, Task.Delay(ExitStatusWait, delay.Token)).ConfigureAwait(false);
            delay.Cancel();
        }

        return Received(read);
    }

    private DockerEngineDialException DialFailed()
    {
        int? exitStatus = null;
        string error = "";
        if (_execution.IsCompleted)
        {
            exitStatus = _command.ExitStatus;
            error = _command.Error ?? "";
        }

        return new DockerEngineDialException(_dialCommand, _where, exitStatus, error);
    }

    private void ThrowIfDisposed()
    {
        if (Volatile.Read(ref _disposed) != 0)
        {
            throw new ObjectDisposedException(nameof(DockerEngineSshStream));
        }
    }
}

/// <summary><c>docker system dial-stdio</c> ended before the engine answered (no docker CLI, no access to the socket...).</summary>
internal sealed class DockerEngineDialException : IOException
{
    public DockerEngineDialException(string dialCommand, string where, int? exitStatus, string error)
        : base(Describe(dialCommand, where, exitStatus, error))
    {
        ExitStatus = exitStatus;
        RemoteError = error.Trim();
    }

    public DockerEngineDialException()
    {
        RemoteError = "";
    }

    public DockerEngineDialException(string message)
        : base(message)
    {
        RemoteError = "";
    }

    public DockerEngineDialException(string message, Exception innerException)
        : base(message, innerException)
    {
        RemoteError = "";
    }

    public int? ExitStatus { get; }

    /// <summary>What the remote command wrote on stderr (trimmed, at most a few hundred characters).</summary>
    public string RemoteError { get; }

    /// <summary>The shell could not find the docker CLI.</summary>
    public bool CliMissing => ExitStatus == 127 || RemoteError.IndexOf("command not found", StringComparison.OrdinalIgnoreCase) >= 0;

    /// <summary>The docker CLI could not open the engine's socket.</summary>
    public bool PermissionDenied => RemoteError.IndexOf("permission denied", StringComparison.OrdinalIgnoreCase) >= 0;

    private static string Describe(string dialCommand, string where, int? exitStatus, string error)
    {
        var text = error.Trim().Replace("\r", "").Replace('\n', ' ');
        if (text.Length > 400)
        {
            text = text.Substring(0, 400) + "...";
        }

        var status = exitStatus is { } code ? $"exited with status {code.ToString(System.Globalization.CultureInfo.InvariantCulture)}" : "ended";
        return $"'{dialCommand}' on {where} {status} before the Docker engine answered" + (text.Length > 0 ? $": {text}" : ".");
    }
}
