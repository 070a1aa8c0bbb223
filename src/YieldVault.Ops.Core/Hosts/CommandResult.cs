using System;

namespace YieldVault.Ops.Hosts;

/// <summary>What a finished command left behind.</summary>
public sealed class CommandResult
{
    public CommandResult(string command, int exitCode, string standardOutput, string standardError, TimeSpan duration)
    {
        Command = command;
        ExitCode = exitCode;
        StandardOutput = standardOutput;
        StandardError = standardError;
        Duration = duration;
    }

    /// <summary>The command as shown to users (secrets hidden).</summary>
    public string Command { get; }

    public int ExitCode { get; }

    public string StandardOutput { get; }

    public string StandardError { get; }

    public TimeSpan Duration { get; }

    public bool Succeeded => ExitCode == 0;

    /// <summary>The last lines of stderr (or stdout when stderr is empty), for error messages.</summary>
    public string Tail(int lines = 5)
    {
        var text = string.IsNullOrWhiteSpace(StandardError) ? StandardOutput : StandardError;
        var all = text.Replace("\r", "").TrimEnd('\n').Split('\n');
        return string.Join(Environment.NewLine, all, Math.Max(0, all.Length - lines), Math.Min(lines, all.Length));
    }
}
