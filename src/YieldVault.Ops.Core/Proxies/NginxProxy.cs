using System;
using System.Globalization;
using System.Linq;
using System.Text.RegularExpressions;
using System.Threading;
using System.Threading.Tasks;
using YieldVault.Ops.Hosts;

namespace YieldVault.Ops.Proxies;

/// <summary>What the upstream file on the host says now.</summary>
internal sealed record UpstreamView(bool Exists, int? Port, string? Slot);

/// <summary>How a switch went: how long nginx's test and reload took, and how long the old workers took to finish.</summary>
internal sealed record SwitchReport(double SwitchMs, double WorkersGoneMs, bool WorkersGone, string? WorkersLeft, double? HandoverMs = null);

/// <summary>
/// nginx in front of a blue-green target: the upstream file YieldVault.Ops owns (one block, one server: the live
/// slot's port), written atomically, tested with nginx -t (a failed test puts the previous file back and reloads
/// nothing), then a reload; and the wait until the workers that served before the reload have exited, so no request
/// still goes to the slot that is about to stop. All of it is one command on the host, so a switch is one round trip.
/// </summary>
internal sealed class NginxProxy
{
    private const string Marker = "# yieldvault-ops upstream";
    private static readonly Regex ServerLine = new(@"(?:^|[{;])\s*server\s+(?:127\.0\.0\.1|localhost|\[::1\]):(\d{1,5})\b", RegexOptions.Multiline | RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));
    private static readonly Regex SlotLine = new(@"^# slot=(blue|green)\b", RegexOptions.Multiline | RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));

    // $1 file, $2 new content, $3 nginx's main configuration (empty: nginx's default), $4 reload mode (signal or
    // systemctl), $5 seconds to wait for the old workers, $6 "sudo" or "". Prints "switched <ms>", then
    // "workersgone <ms>" or "workersleft <pids>"; exit 3-7 name what failed (see SwitchAsync).
    private const string SwitchScript = @"file=$1; content=$2; conf=$3; mode=$4; limit=$5; sudo=$6
# nginx lives in sbin, which a plain user's PATH over SSH often lacks.
bin=$(command -v nginx 2>/dev/null) || bin=''
for d in /usr/sbin /usr/local/sbin /sbin /usr/local/nginx/sbin; do [ -n ""$bin"" ] || { [ -x ""$d/nginx"" ] && bin=$d/nginx; }; done
[ -n ""$bin"" ] || { echo ""nonginx""; exit 8; }
ngx() { if [ -n ""$conf"" ]; then $sudo ""$bin"" -c ""$conf"" ""$@""; else $sudo ""$bin"" ""$@""; fi; }
ms() { date +%s%3N; }
start=$(ms)
dir=$(dirname -- ""$file"")
[ -d ""$dir"" ] || { echo ""nodir $dir""; exit 4; }
tmp=""$file.yv-new.$$""
printf '%s\n' ""$content"" > ""$tmp"" || { echo ""unwritable $dir""; exit 5; }
had=0; if [ -f ""$file"" ]; then cp -p -- ""$file"" ""$file.yv-previous"" && had=1; fi
mv -f -- ""$tmp"" ""$file"" || { rm -f -- ""$tmp""; echo ""unwritable $file""; exit 5; }
if ! out=$(ngx -t -q 2>&1); then
  if [ $had = 1 ]; then mv -f -- ""$file.yv-previous"" ""$file""; else rm -f -- ""$file""; fi
  printf 'testfailed %s\n' ""$(printf '%s' ""$out"" | tr '\n' ' ' | head -c 1500)""; exit 3
fi
pidfile=''
[ -n ""$conf"" ] && pidfile=$(sed -n 's/^[[:space:]]*pid[[:space:]][[:space:]]*\([^;[:space:]]*\)[[:space:]]*;.*/\1/p' ""$conf"" 2>/dev/null | head -n 1)
[ -n ""$pidfile"" ] || pidfile=/run/nginx.pid
master=$(cat -- ""$pidfile"" 2>/dev/null)
case $master in ''|*[!0-9]*) echo ""nomaster $pidfile""; exit 6;; esac
[ -d ""/proc/$master"" ] || { echo ""nomaster $pidfile""; exit 6; }
# The master's children (its workers), without a ps where the kernel lists them.
kids() { k=''; if [ -r ""/proc/$master/task/$master/children"" ]; then read -r k < ""/proc/$master/task/$master/children"" || :; else k=$(ps -o pid= --ppid ""$master"" 2>/dev/null | tr -s ' \n' '  '); fi; }
kids; old=$k
comm=''; read -r comm 2>/dev/null < ""/proc/$master/comm"" || :
rc=0
if [ ""$mode"" = systemctl ]; then out=$($sudo systemctl reload nginx 2>&1) || rc=$?
# The same SIGHUP nginx -s reload sends, without parsing the whole configuration a second time (nginx -t just did).
elif [ -z ""$sudo"" ] && [ ""$comm"" = nginx ] && kill -HUP ""$master"" 2>/dev/null; then out=''
else out=$(ngx -s reload 2>&1) || rc=$?; fi
[ $rc = 0 ] || { printf 'reloadfailed %s\n' ""$(printf '%s' ""$out"" | tr '\n' ' ' | head -c 1500)""; exit 7; }
switched=$(ms)
echo ""switched $((switched - start))""
# The master starts the new workers, then sleeps 100 ms before it tells the old ones to stop; meanwhile an idle old
# worker still accepts new connections and sends them to the slot traffic leaves. Once a new worker runs, the old ones
# get that same graceful QUIT now (nginx documents it per worker): they finish what they serve, and new connections
# wait in the listen queue for the new workers. Where the user may not signal them (sudo), the master's 100 ms stand.
if [ -n ""$old"" ]; then
  i=0
  while [ $i -lt 200 ]; do
    kids; new=''; for p in $k; do case "" $old "" in *"" $p ""*) ;; *) new=$p;; esac; done
    if [ -n ""$new"" ]; then kill -QUIT $old 2>/dev/null; echo ""handover $(($(ms) - switched))""; break; fi
    i=$((i + 1)); sleep 0.003
  done
fi
deadline=$((switched + limit * 1000))
while :; do
  # An exited worker stays a zombie until the master reaps it (after its 100 ms sleep): gone for users.
  left=''; for p in $old; do st=''; { read -r st || :; } 2>/dev/null < ""/proc/$p/stat""; case $st in ''|*"") Z ""*) ;; *) left=""$left $p"";; esac; done
  [ -z ""$left"" ] && { echo ""workersgone $(($(ms) - switched))""; exit 0; }
  [ $(ms) -ge $deadline ] && { echo ""workersleft$left""; exit 0; }
  sleep 0.02
done";

    private readonly VaultTarget _target;
    private readonly IHostShell _shell;

    public NginxProxy(VaultTarget target, IHostShell shell)
    {
        _target = target;
        _shell = shell;
    }

    /// <summary>The upstream block for <paramref name="port"/>, with who wrote it and which slot it is, for people reading the file.</summary>
    public static string Render(VaultTarget target, TrafficSlot slot, int port, string? release, DateTimeOffset when) => string.Join("\n",
        $"{Marker} for {target.Name} ({target.ServiceName}): written by Switch-VaultTraffic/Invoke-VaultDeployment; the next switch replaces it.",
        $"# slot={slot.ToString().ToLowerInvariant()} port={port.ToString(CultureInfo.InvariantCulture)} release={release ?? "-"} at={when.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture)}",
        // One server, no upstream keep-alive: each proxied request has its own connection, so nothing idle is cut when
        // the workers that held it exit after a reload, and Node's 5 s keepAliveTimeout never races nginx's.
        $"upstream {target.UpstreamBlockName} {{",
        $"    server 127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)};",
        "}");

    /// <summary>The live port and slot from the upstream file's text; null where it names none.</summary>
    public static UpstreamView Parse(string? text)
    {
        if (text is null)
        {
            return new UpstreamView(false, null, null);
        }

        var server = ServerLine.Match(text);
        var slot = SlotLine.Match(text);
        return new UpstreamView(true, server.Success ? int.Parse(server.Groups[1].Value, CultureInfo.InvariantCulture) : null, slot.Success ? slot.Groups[1].Value : null);
    }

    /// <summary>The upstream file and the target's traffic record in one command (a switch back waits for it).</summary>
    public static async Task<(UpstreamView Upstream, TrafficRecord Record)> ReadWithRecordAsync(VaultTarget target, IHostShell shell, CancellationToken cancellationToken)
    {
        const string script = @"if [ -f ""$1"" ]; then echo yv-upstream; cat -- ""$1"" || exit 4; else echo yv-no-upstream; fi
echo; echo yv-record
if [ -f ""$2"" ]; then head -c 65536 -- ""$2"" || exit 5; fi";
        var result = await shell.RunAsync(CommandLine.Script(script, target.UpstreamFilePath, TrafficRecord.PathOf(target)), TimeSpan.FromSeconds(30), cancellationToken)
            .ConfigureAwait(false);
        if (!result.Succeeded)
        {
            throw result.ExitCode == 5
                ? new VaultException(ErrorIds.TrafficStateUnreadable, VaultErrorKind.ResourceUnavailable,
                    $"{target.DisplayName}: {TrafficRecord.PathOf(target)} cannot be read: {result.Tail(3)}", "Check the permissions of the target's StatePath.")
                : new VaultException(ErrorIds.UpstreamUnreadable, VaultErrorKind.ResourceUnavailable,
                    $"{target.DisplayName}: the upstream file {target.UpstreamFilePath} cannot be read: {result.Tail(3)}",
                    "Make the file readable by the target's user (it is YieldVault.Ops's own; nginx includes it).");
        }

        var text = result.StandardOutput.Replace("\r", "");
        var split = text.IndexOf("\nyv-record\n", StringComparison.Ordinal);
        var upstreamPart = split < 0 ? text : text.Substring(0, split);
        var recordPart = split < 0 ? "" : text.Substring(split + "\nyv-record\n".Length);
        var upstream = upstreamPart.StartsWith("yv-upstream\n", StringComparison.Ordinal) ? Parse(upstreamPart.Substring("yv-upstream\n".Length)) : new UpstreamView(false, null, null);
        var record = recordPart.Trim().Length == 0 ? TrafficRecord.Empty : TrafficRecord.Parse(target, recordPart);
        return (upstream, record);
    }

    public async Task<UpstreamView> ReadAsync(CancellationToken cancellationToken)
    {
        var result = await _shell.RunAsync(CommandLine.Script("[ -f \"$1\" ] || exit 3; cat -- \"$1\"", _target.UpstreamFilePath), TimeSpan.FromSeconds(30), cancellationToken)
            .ConfigureAwait(false);
        if (result.ExitCode == 3)
        {
            return new UpstreamView(false, null, null);
        }

        if (!result.Succeeded)
        {
            throw new VaultException(ErrorIds.UpstreamUnreadable, VaultErrorKind.ResourceUnavailable,
                $"{_target.DisplayName}: the upstream file {_target.UpstreamFilePath} cannot be read: {result.Tail(3)}",
                "Make the file readable by the target's user (it is YieldVault.Ops's own; nginx includes it).");
        }

        return Parse(result.StandardOutput);
    }

    /// <summary>
    /// Sends nginx's traffic to <paramref name="slot"/>: the upstream file written atomically, nginx -t, reload, and a
    /// wait of up to <paramref name="workerTimeout"/> for the workers that served before it to exit.
    /// </summary>
    public async Task<SwitchReport> SwitchAsync(TrafficSlot slot, string? release, TimeSpan workerTimeout, CancellationToken cancellationToken)
    {
        var port = _target.SlotPort(slot);
        var content = Render(_target, slot, port, release, DateTimeOffset.UtcNow);
        var seconds = Math.Max(1, (int)Math.Ceiling(workerTimeout.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
        var result = await _shell.RunAsync(
            CommandLine.Script(SwitchScript, _target.UpstreamFilePath, content, _target.NginxConfig ?? "", _target.ProxyReload == ProxyReload.Systemctl ? "systemctl" : "signal", seconds,
                _target.NeedsSudo ? "sudo -n" : ""),
            workerTimeout + TimeSpan.FromSeconds(60), cancellationToken).ConfigureAwait(false);
        var lines = result.StandardOutput.Replace("\r", "").Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0).ToList();
        var last = lines.LastOrDefault() ?? "";
        switch (result.ExitCode)
        {
            case 0:
                var switched = Number(lines.FirstOrDefault(l => l.StartsWith("switched ", StringComparison.Ordinal)));
                var handover = lines.FirstOrDefault(l => l.StartsWith("handover ", StringComparison.Ordinal)) is { } h ? Number(h) : (double?)null;
                return last.StartsWith("workersgone ", StringComparison.Ordinal)
                    ? new SwitchReport(switched, Number(last), true, null, handover)
                    : new SwitchReport(switched, workerTimeout.TotalMilliseconds, false, last.Substring("workersleft".Length).Trim(), handover);
            case 3:
                throw new VaultException(ErrorIds.ProxyConfigInvalid, VaultErrorKind.InvalidData,
                    $"{_target.DisplayName}: nginx -t refused the configuration with the new upstream ({Tail(last, "testfailed")}). The previous upstream file is back; nginx was not reloaded and still sends traffic where it did.",
                    $"Fix nginx's configuration so that it includes {_target.UpstreamFilePath} inside http {{}} and proxy_passes to http://{_target.UpstreamBlockName}.");
            case 4:
            case 5:
                throw new VaultException(ErrorIds.UpstreamUnwritable, VaultErrorKind.SecurityError,
                    $"{_target.DisplayName}: cannot write the upstream file {_target.UpstreamFilePath} ({last}). Nothing was changed.",
                    $"Give the target's user write access to {System.IO.Path.GetDirectoryName(_target.UpstreamFilePath)} (YieldVault.Ops writes only its own file there).");
            case 6:
                throw new VaultException(ErrorIds.ProxyNotRunning, VaultErrorKind.ResourceUnavailable,
                    $"{_target.DisplayName}: nginx is not running (no live master in {Tail(last, "nomaster")}). The new upstream is in place and tested but nothing serves it.",
                    "Start nginx, then run Switch-VaultTraffic again.");
            case 7:
                throw new VaultException(ErrorIds.ProxyReloadFailed, VaultErrorKind.InvalidOperation,
                    $"{_target.DisplayName}: reloading nginx failed ({Tail(last, "reloadfailed")}).",
                    _target.NeedsSudo ? "Allow the target's user 'sudo -n nginx -s reload' (or systemctl reload nginx) without a password." : "Check nginx's error log.");
            case 8:
                throw new VaultException(ErrorIds.ProxyNotInstalled, VaultErrorKind.NotInstalled,
                    $"{_target.DisplayName}: there is no nginx on the host (not on the PATH, nor in /usr/sbin, /usr/local/sbin or /sbin). Nothing was changed.",
                    "Install nginx (apt-get install nginx), or set the target's Proxy to None and deploy in place.");
            default:
                throw new VaultException(ErrorIds.ProxySwitchFailed, VaultErrorKind.InvalidOperation,
                    $"{_target.DisplayName}: switching nginx's upstream failed (exit code {result.ExitCode}): {result.Tail(5)}");
        }
    }

    private static double Number(string? line) =>
        line is not null && double.TryParse(line.Substring(line.IndexOf(' ') + 1), NumberStyles.Float, CultureInfo.InvariantCulture, out var value) ? value : 0;

    private static string Tail(string line, string prefix) => line.StartsWith(prefix, StringComparison.Ordinal) ? line.Substring(prefix.Length).Trim() : line;
}
