using System;
using System.Collections.ObjectModel;
using System.Diagnostics;
using System.Reflection;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

namespace YieldVault.Ops.Hosts;

/// <summary>
/// Runs commands on this machine as child processes, with an argument vector (no shell) and a minimal environment
/// (<see cref="ChildEnvironment"/>).
/// </summary>
public sealed class LocalShell : IHostShell
{
    // ProcessStartInfo.ArgumentList exists on every .NET that PowerShell 7 runs on, but not in
    // netstandard2.0's surface; using it keeps each argument one argv word with no re-parsing.
    private static readonly PropertyInfo? ArgumentListProperty = typeof(ProcessStartInfo).GetProperty("ArgumentList");
    private static readonly MethodInfo? KillTreeMethod = typeof(Process).GetMethod("Kill", new[] { typeof(bool) });

    public string Description => "local";

    public Task<Uri> GetHttpBaseAsync(int port, CancellationToken cancellationToken) =>
        Task.FromResult(new Uri($"http://127.0.0.1:{port}/"));

    public Task<(string Host, int Port)> ForwardTcpAsync(string host, int port, CancellationToken cancellationToken) =>
        Task.FromResult((host, port));

    public async Task<CommandResult> RunAsync(CommandLine command, TimeSpan? timeout, CancellationToken cancellationToken)
    {
        var info = new ProcessStartInfo(command.Program)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            CreateNoWindow = true,
            WorkingDirectory = command.WorkingDirectory ?? "",
        };
        SetArguments(info, command);
        // A minimal environment, not the operator's (webhook URLs, cloud credentials): see ChildEnvironment.
        info.Environment.Clear();
        foreach (var pair in ChildEnvironment.For(command, Environment.GetEnvironmentVariables()))
        {
            info.Environment[pair.Key] = pair.Value;
        }

        if (command.Environment is not null)
        {
            foreach (var pair in command.Environment)
            {
                info.Environment[pair.Key] = pair.Value;
            }
        }

        var watch = Stopwatch.StartNew();
        using var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var exited = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        process.Exited += (_, _) => exited.TrySetResult(true);
        try
        {
            process.Start();
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new VaultException(ErrorIds.CommandNotFound, VaultErrorKind.NotInstalled,
                $"Could not start '{command.Program}' on this machine: {ex.Message}.",
                $"Install '{command.Program}' or put it on PATH.", ex);
        }

        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();

        using var timeoutSource = new CancellationTokenSource();
        if (timeout is { } limit)
        {
            timeoutSource.CancelAfter(limit);
        }

        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeoutSource.Token);
        var cancelled = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        using (linked.Token.Register(() => cancelled.TrySetResult(true)))
        {
            await Task.WhenAny(exited.Task, cancelled.Task).ConfigureAwait(false);
        }

        if (!process.HasExited)
        {
            Kill(process);
            await Task.WhenAny(exited.Task, Task.Delay(TimeSpan.FromSeconds(5), CancellationToken.None)).ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
            throw new VaultException(ErrorIds.CommandTimeout, VaultErrorKind.OperationTimeout,
                $"'{command}' did not finish within {timeout?.TotalSeconds:0.#} s on this machine and was stopped.",
                "Raise the command timeout, or find out why the command hangs.");
        }

        // Exited can fire before the output pipes are drained; wait for both readers.
        process.WaitForExit();
        var output = await stdout.ConfigureAwait(false);
        var error = await stderr.ConfigureAwait(false);
        return new CommandResult(command.ToString(), process.ExitCode, output, error, watch.Elapsed);
    }

    public void Dispose()
    {
    }

    private static void SetArguments(ProcessStartInfo info, CommandLine command)
    {
        if (ArgumentListProperty?.GetValue(info) is Collection<string> list)
        {
            foreach (var argument in command.Arguments)
            {
                list.Add(argument);
            }

            return;
        }

        info.Arguments = PasteArguments(command.Arguments);
    }

    private static void Kill(Process process)
    {
        try
        {
            if (KillTreeMethod is not null)
            {
                KillTreeMethod.Invoke(process, new object[] { true });
            }
            else
            {
                process.Kill();
            }
        }
        catch (InvalidOperationException)
        {
            // Already exited.
        }
        catch (TargetInvocationException)
        {
            // Already exited, or a child could not be signalled; the main process is what matters.
        }
    }

    /// <summary>Windows command-line quoting (CommandLineToArgvW rules), for runtimes without ArgumentList.</summary>
    internal static string PasteArguments(System.Collections.Generic.IEnumerable<string> arguments)
    {
        var text = new StringBuilder();
        foreach (var argument in arguments)
        {
            if (text.Length > 0)
            {
                text.Append(' ');
            }

            if (argument.Length > 0 && argument.IndexOfAny(new[] { ' ', '\t', '\n', '\v', '"' }) < 0)
            {
                text.Append(argument);
                continue;
            }

            text.Append('"');
            var backslashes = 0;
            foreach (var c in argument)
            {
                if (c == '\\')
                {
                    backslashes++;
                    continue;
                }

                text.Append('\\', c == '"' ? (backslashes * 2) + 1 : backslashes);
                backslashes = 0;
                text.Append(c);
            }

            text.Append('\\', backslashes * 2).Append('"');
        }

        return text.ToString();
    }
}
