using System;

namespace YieldVault.Ops.Hosts;

/// <summary>
/// The process group of one command run over SSH, recorded on the server so the command can be ended there. When a
/// command outlives its timeout (or is cancelled), SSH.NET closes the channel and OpenSSH passes a SIGTERM to the
/// session's group; a process that handles or ignores SIGTERM (a migration finishing its batch, a trap) survives that and
/// would go on running while the rollback starts the old version. So every command runs under a wrapper that writes its
/// process group to a file only its user can read, and on a timeout or cancel <see cref="KillScript"/> (over the same
/// connection) sends the group SIGTERM, then SIGKILL after a grace. Linux servers: the group is read from /proc, so
/// no program beyond sh is needed; without /proc the command still runs, only unkillable as before.
/// </summary>
public sealed class RemoteProcessGroup
{
    /// <summary>How long the group gets between SIGTERM and SIGKILL.</summary>
    public static readonly TimeSpan Grace = TimeSpan.FromSeconds(5);

    // $1: the file's name (in ${TMPDIR:-/tmp}), $2: the command as a shell line. sshd makes each session its own session
    // and process group, and the login shell runs this sh in it, so the group read here holds the command and everything
    // it starts (daemons that leave it, like PM2's, are not touched). Recorded only when the group leads its session (so
    // never a group shared with anything else). The command runs in this shell (eval), so the wrapper never changes its
    // environment, working directory, output or exit code.
    private const string WrapperScript = @"f=""${TMPDIR:-/tmp}/$1""; c=$2
if read -r s 2>/dev/null < /proc/$$/stat; then s=${s##*) }; set -- $s; if [ ""$3"" = ""$4"" ]; then (umask 077; printf '%s\n' ""$3"" > ""$f"") 2>/dev/null; fi; fi
eval ""$c""
rc=$?; rm -f -- ""$f""; exit ""$rc""";

    // $1: the file's name, $2: how many 0.2 s waits after SIGTERM. Prints what happened: none (no group recorded, or
    // the command ended), ended (the group was gone), terminated (it ended on SIGTERM), killed (SIGKILL was needed).
    // Never the killer's own group.
    private const string KillerScript = @"f=""${TMPDIR:-/tmp}/$1""; n=$2
[ -f ""$f"" ] || { echo none; exit 0; }
read -r g < ""$f""; rm -f -- ""$f""
case ""$g"" in ''|*[!0-9]*) echo none; exit 0;; esac
[ ""$g"" -gt 1 ] || { echo none; exit 0; }
if read -r s 2>/dev/null < /proc/$$/stat; then s=${s##*) }; set -- $s; [ ""$3"" != ""$g"" ] || { echo none; exit 0; }; fi
kill -0 ""-$g"" 2>/dev/null || { echo ended; exit 0; }
kill -TERM ""-$g"" 2>/dev/null
i=0; while [ ""$i"" -lt ""$n"" ] && kill -0 ""-$g"" 2>/dev/null; do sleep 0.2 2>/dev/null || sleep 1; i=$((i+1)); done
if kill -0 ""-$g"" 2>/dev/null; then kill -KILL ""-$g"" 2>/dev/null; echo killed; else echo terminated; fi";

    public RemoteProcessGroup()
    {
        FileName = "yv-cmd-" + Guid.NewGuid().ToString("N") + ".pgid";
    }

    /// <summary>The file (in the server's ${TMPDIR:-/tmp}) that holds the group while the command runs.</summary>
    public string FileName { get; }

    /// <summary>The line sent to the server: <paramref name="commandLine"/> under the wrapper.</summary>
    public string Wrap(string commandLine) =>
        "sh -c " + ShellQuote.Quote(WrapperScript) + " yv-run " + ShellQuote.Quote(FileName) + " " + ShellQuote.Quote(commandLine);

    /// <summary>The line that ends the recorded group: SIGTERM, then SIGKILL when it is still there after <see cref="Grace"/>.</summary>
    public string KillScript() =>
        "sh -c " + ShellQuote.Quote(KillerScript) + " yv-kill " + ShellQuote.Quote(FileName) + " " +
        ((int)(Grace.TotalMilliseconds / 200)).ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>What the kill script's answer means, for the error message.</summary>
    public static string Describe(string answer) => answer.Trim() switch
    {
        "killed" => $"its process group on the server was killed (SIGKILL, after SIGTERM was not enough for {Grace.TotalSeconds:0} s)",
        "terminated" => "its process group on the server ended on SIGTERM",
        "ended" => "its process group on the server had ended",
        _ => "no process group of it was left on the server",
    };
}
