namespace YieldVault.Ops.Services;

/// <summary>The shell scripts <see cref="Pm2ServiceManager"/> runs on the host around pm2.</summary>
internal static class Pm2Scripts
{
    // Runs jlist only when the daemon of this PM2_HOME is alive (PM2 resolves its home the same way).
    public const string JlistScript =
        "command -v pm2 >/dev/null 2>&1 || { echo " + Pm2ServiceManager.NotInstalledMarker + "; exit 127; }\n" +
        "home=${PM2_HOME:-$HOME/.pm2}\n" +
        "pid=$(cat \"$home/pm2.pid\" 2>/dev/null) || pid=''\n" +
        "case $pid in ''|*[!0-9]*) echo " + Pm2ServiceManager.NoDaemonMarker + "; exit 0;; esac\n" +
        "if kill -0 \"$pid\" 2>/dev/null || [ -d \"/proc/$pid\" ]; then exec pm2 jlist; fi\n" +
        "echo " + Pm2ServiceManager.NoDaemonMarker + "\n";

    // $1 = the target's EntryPoint ("" for package.json's "main", else dist/index.js), $2 = the app directory. Prints the
    // ecosystem files there, the file Node would load for the entry point (as is, with .js, or a directory's index.js),
    // and "npm-start" when package.json has a start script. node reads package.json: it is there wherever PM2 is.
    public const string ProbeAppScript =
        "cd \"$2\" 2>/dev/null || exit 3\n" +
        "for f in ecosystem.config.js ecosystem.config.cjs; do [ -f \"$f\" ] && echo \"$f\"; done\n" +
        "main=''; start=''\n" +
        "if [ -f package.json ] && command -v node >/dev/null 2>&1; then\n" +
        "  info=$(node -e 'try { const p = JSON.parse(require(\"fs\").readFileSync(\"package.json\", \"utf8\")); " +
        "const s = p.scripts && typeof p.scripts.start === \"string\" && p.scripts.start.trim() ? \"start\" : \"\"; " +
        "process.stdout.write((typeof p.main === \"string\" ? p.main.trim() : \"\") + \"\\n\" + s + \"\\n\"); } catch (e) {}' 2>/dev/null)\n" +
        "  main=$(printf '%s\\n' \"$info\" | sed -n 1p); start=$(printf '%s\\n' \"$info\" | sed -n 2p)\n" +
        "fi\n" +
        "e=$1; [ -n \"$e\" ] || e=$main; [ -n \"$e\" ] || e=dist/index.js\n" +
        "for f in \"$e\" \"$e.js\" \"$e/index.js\"; do if [ -f \"$f\" ]; then echo \"$f\"; break; fi; done\n" +
        "[ -z \"$start\" ] || echo npm-start\n" +
        "exit 0\n";

    // pm2 save writes $PM2_HOME/dump.pm2; skip it (exit 10) when that is not ours to write.
    public const string SaveScript =
        "home=${PM2_HOME:-$HOME/.pm2}\n" +
        "[ -w \"$home\" ] || exit 10\n" +
        "exec pm2 save\n";

    // $1 = lines, $2 = marker, $3 = app name, $4... = log files (none: PM2's default paths). Prints the host's
    // UTC offset (PM2's --time prefix is local time), then each file's tail after a marker line.
    public const string LogScript =
        "n=$1; mark=$2; name=$3; shift 3\n" +
        "if [ $# -eq 0 ]; then home=${PM2_HOME:-$HOME/.pm2}; set -- \"$home/logs/$name-out.log\" \"$home/logs/$name-error.log\"; fi\n" +
        "date +%z\n" +
        "for f in \"$@\"; do\n" +
        "  echo \"$mark\"\n" +
        "  if [ -r \"$f\" ]; then tail -n \"$n\" -- \"$f\"; echo; fi\n" +
        "done\n";
}
