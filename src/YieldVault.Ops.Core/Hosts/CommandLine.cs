using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;

namespace YieldVault.Ops.Hosts;

/// <summary>
/// A program and its arguments, kept as separate words until the last moment. Locally the words go to
/// the process as an argument vector; over SSH they are quoted one by one with <see cref="ShellQuote"/>.
/// </summary>
public sealed class CommandLine
{
    public CommandLine(string program, params string[] arguments)
        : this(program, (IEnumerable<string>)arguments)
    {
    }

    public CommandLine(string program, IEnumerable<string> arguments)
    {
        if (string.IsNullOrEmpty(program))
        {
            throw new ArgumentException("A command needs a program.", nameof(program));
        }

        Program = program;
        Arguments = arguments.ToArray();
    }

    public string Program { get; }

    public IReadOnlyList<string> Arguments { get; }

    /// <summary>Directory to run in; null for the shell's default (the login directory over SSH).</summary>
    public string? WorkingDirectory { get; init; }

    /// <summary>Extra environment variables for the program.</summary>
    public IReadOnlyDictionary<string, string>? Environment { get; init; }

    /// <summary>
    /// A fixed shell script with its inputs passed as positional parameters ($1, $2, ...), so a
    /// pipeline can be written once and user values never become shell syntax.
    /// </summary>
    public static CommandLine Script(string script, params string[] arguments) =>
        new("sh", new[] { "-c", script, "sh" }.Concat(arguments));

    /// <summary>The line a POSIX shell runs: <c>cd 'dir' &amp;&amp; env 'K=V' 'prog' 'arg' ...</c>.</summary>
    public string ToShellString()
    {
        var text = new StringBuilder();
        if (WorkingDirectory is not null)
        {
            text.Append("cd ").Append(ShellQuote.Quote(WorkingDirectory)).Append(" && ");
        }

        if (Environment is { Count: > 0 })
        {
            text.Append("env");
            foreach (var pair in Environment)
            {
                if (!EnvironmentFiles.IsValidName(pair.Key))
                {
                    throw new VaultException(ErrorIds.InvalidEnvironmentName, VaultErrorKind.InvalidArgument,
                        $"'{pair.Key}' is not a valid environment variable name.");
                }

                text.Append(' ').Append(ShellQuote.Quote(pair.Key + "=" + pair.Value));
            }

            text.Append(' ');
        }

        text.Append(ShellQuote.Quote(Program));
        foreach (var argument in Arguments)
        {
            text.Append(' ').Append(ShellQuote.Quote(argument));
        }

        return text.ToString();
    }

    /// <summary>What -Verbose shows: the command with environment values hidden.</summary>
    public override string ToString()
    {
        var words = new List<string>();
        if (WorkingDirectory is not null)
        {
            words.Add("(in " + WorkingDirectory + ")");
        }

        if (Environment is { Count: > 0 })
        {
            words.AddRange(Environment.Keys.Select(k => k + "=***"));
        }

        words.Add(ShellQuote.Quote(Program));
        words.AddRange(Arguments.Select(ShellQuote.Quote));
        return string.Join(" ", words);
    }
}
