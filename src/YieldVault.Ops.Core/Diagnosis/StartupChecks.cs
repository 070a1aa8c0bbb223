using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;
using YieldVault.Ops.Hosts;
using YieldVault.Ops.Probes;
using YieldVault.Ops.Runbook;

namespace YieldVault.Ops.Diagnosis;

/// <summary>
/// The runbook's "Issue: Service Won't Start", its five solutions as checks: the manager's state and the last log lines
/// (1), the required variables (2, by name only), who holds the port (3), npm ls (4) and the app's files (5).
/// </summary>
internal static class StartupChecks
{
    private const VaultSymptom Symptom = VaultSymptom.WontStart;

    // Who listens on the port, each listener's user and command, and its ancestors (to tell the backend from a stranger).
    private const string PortScript = @"port=""$1""
command -v ss >/dev/null 2>&1 || { echo no-ss; exit 0; }
out=$(ss -Hltnp ""sport = :$port"" 2>/dev/null)
printf '%s\n' ""$out"" | while IFS= read -r line; do [ -n ""$line"" ] && printf 'listen %s\n' ""$line""; done
for p in $(printf '%s\n' ""$out"" | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u | head -n 10); do
  printf 'proc %s %s %s\n' ""$p"" ""$(ps -o user= -p ""$p"" 2>/dev/null | tr -d ' ')"" ""$(ps -o args= -p ""$p"" 2>/dev/null | cut -c1-200)""
  a=""$p""; chain=""""; i=0
  while [ -n ""$a"" ] && [ ""$a"" -gt 1 ] 2>/dev/null && [ ""$i"" -lt 30 ]; do chain=""$chain $a""; a=$(awk '/^PPid:/{print $2}' ""/proc/$a/status"" 2>/dev/null); i=$((i+1)); done
  printf 'chain %s%s\n' ""$p"" ""$chain""
done";

    private const string NpmScript = @"cd -- ""$1"" 2>/dev/null || exit 3
[ -f package.json ] || exit 4
command -v npm >/dev/null 2>&1 || exit 5
out=$(npm ls --omit=dev --depth=0 --json 2>/dev/null); code=$?
printf '%s\n==yv-exit %s\n' ""$out"" ""$code""";

    // $1 app path, $2 app directory, $3 env file, $4 log file, $5 entry point ('' = package.json main, else dist/index.js; '-' = not checked).
    private const string FilesScript = @"app=""$1""; dir=""$2""; env=""$3""; log=""$4""; entry=""$5""
printf 'ls %s\n' ""$(ls -ld -- ""$app"" 2>&1 | head -n 1)""
[ -L ""$app"" ] && printf 'link %s\n' ""$(readlink -- ""$app"")""
if [ -d ""$dir"" ]; then if [ -r ""$dir"" ] && [ -x ""$dir"" ]; then echo 'dir ok'; else echo 'dir unreadable'; fi; else echo 'dir missing'; fi
if [ -f ""$env"" ]; then printf 'envls %s\n' ""$(ls -lL -- ""$env"" 2>&1 | head -n 1)""; if [ -r ""$env"" ]; then echo 'env ok'; else echo 'env unreadable'; fi; printf 'envmode %s\n' ""$(stat -L -c %a -- ""$env"" 2>/dev/null)""; else echo 'env missing'; fi
ld=$(dirname -- ""$log""); if [ -d ""$ld"" ]; then if [ -w ""$ld"" ]; then echo 'logdir ok'; else echo 'logdir unwritable'; fi; else echo 'logdir missing'; fi
if [ ""$entry"" != - ] && [ -d ""$dir"" ]; then
  if [ -z ""$entry"" ]; then
    if [ -f ""$dir/ecosystem.config.js"" ]; then entry=-; else entry=$(sed -n 's/.*""main""[[:space:]]*:[[:space:]]*""\([^""]*\)"".*/\1/p' ""$dir/package.json"" 2>/dev/null | head -n 1); [ -n ""$entry"" ] || entry=dist/index.js; fi
  fi
  if [ ""$entry"" != - ]; then if [ -f ""$dir/$entry"" ]; then printf 'entry ok %s\n' ""$entry""; else printf 'entry missing %s\n' ""$entry""; fi; fi
fi";

    public static async Task RunAsync(DiagnosisContext c, Action<string> progress, CancellationToken cancellationToken)
    {
        progress("service state and log");
        var state = await c.StateAsync(cancellationToken).ConfigureAwait(false);
        await ServiceStateAsync(c, state, cancellationToken).ConfigureAwait(false);
        progress("environment variables");
        await EnvironmentAsync(c, cancellationToken).ConfigureAwait(false);
        progress("port " + c.Target.Port.ToString(CultureInfo.InvariantCulture));
        await PortAsync(c, state, cancellationToken).ConfigureAwait(false);
        progress("npm ls");
        await DependenciesAsync(c, cancellationToken).ConfigureAwait(false);
        progress("file permissions");
        await FilesAsync(c, cancellationToken).ConfigureAwait(false);
    }

    private static async Task ServiceStateAsync(DiagnosisContext c, ServiceState? state, CancellationToken cancellationToken)
    {
        const string runbook = "Won't start 1: journalctl -u yieldvault-backend -n 100";
        var t = c.Target;
        if (state is null)
        {
            c.Report(Symptom, "ServiceState", FindingStatus.NotChecked, $"{t.ServiceManager} could not be asked about {t.ServiceName}: {c.StateError}", Array.Empty<string>(),
                "$target | Get-VaultBackendStatus", runbook);
            return;
        }

        var evidence = new List<string>
        {
            $"{t.ServiceManager} {t.ServiceName}: {state.Status}" + (state.Detail is null ? "" : $" ({state.Detail})")
                + (state.Pid is { } pid ? $", pid {pid}" : "") + (state.Restarts is { } r ? $", restarts {r}" : "")
                + (state.Uptime is { } up ? $", up {Math.Floor(up.TotalMinutes)}m {up.Seconds}s" : ""),
        };

        string? firstError = null;
        try
        {
            var (source, entries) = await LogReader.ReadAsync(t, c.Shell, VaultLogSource.Auto, 200, null, cancellationToken).ConfigureAwait(false);
            var notable = entries.Where(e => e.Level is VaultLogLevel.Error or VaultLogLevel.Warning && !e.IsStackTrace).ToList();
            firstError = notable.LastOrDefault(e => e.Level == VaultLogLevel.Error)?.Message;
            var shown = (notable.Count > 0 ? notable : entries.ToList()).Skip(Math.Max(0, (notable.Count > 0 ? notable.Count : entries.Count) - 8));
            evidence.AddRange(shown.Select(e => $"log ({source}): " + (e.Time is { } time ? time.UtcDateTime.ToString("HH:mm:ss", CultureInfo.InvariantCulture) + " " : "") + e.Level.ToString().ToUpperInvariant() + " " + e.Message));
        }
        catch (VaultException ex) when (!ex.IsConnectionFailure)
        {
            evidence.Add("log: " + ex.Message);
        }

        var says = firstError is null ? "" : "; the log says: " + DiagnosisContext.Cut(firstError, 160);
        var (status, summary, next) = state.Status switch
        {
            ServiceStatus.Running => (FindingStatus.Ok, $"{t.ServiceName} runs" + (state.Pid is { } p ? $" (pid {p})" : ""), (string?)null),
            ServiceStatus.CrashLooping => (FindingStatus.Problem, $"{t.ServiceName} crash-loops: it exits and {t.ServiceManager} starts it again" + says, "$target | Get-VaultBackendLog -Level Error -Tail 100"),
            ServiceStatus.Failed => (FindingStatus.Problem, $"{t.ServiceName} failed and is not restarted" + says, "$target | Get-VaultBackendLog -Level Error -Tail 100"),
            ServiceStatus.Stopped => (FindingStatus.Problem, $"{t.ServiceName} is stopped" + says, "$target | Start-VaultBackend"),
            ServiceStatus.NotFound => (FindingStatus.Problem, $"{t.ServiceManager} does not know {t.ServiceName} ({state.Detail})", "$target | Start-VaultBackend"),
            ServiceStatus.Starting or ServiceStatus.Stopping => (FindingStatus.Warning, $"{t.ServiceName} is {state.Status.ToString().ToLowerInvariant()}" + says, "$target | Wait-VaultBackendHealthy"),
            _ => (FindingStatus.NotChecked, $"{t.ServiceManager} says nothing clear about {t.ServiceName} ({state.Detail})", "$target | Get-VaultBackendStatus"),
        };
        c.Report(Symptom, "ServiceState", status, summary, evidence, next, runbook);
    }

    private static async Task EnvironmentAsync(DiagnosisContext c, CancellationToken cancellationToken)
    {
        const string runbook = "Won't start 2: node -e \"require('dotenv').config(); console.log(process.env)\" (names only here: values are never shown)";
        VaultEnvironmentCheck check;
        try
        {
            check = await EnvironmentCheck.CheckAsync(c.Target, c.Shell, c.Redactor, null, cancellationToken).ConfigureAwait(false);
        }
        catch (VaultException ex) when (!ex.IsConnectionFailure)
        {
            c.Report(Symptom, "Environment", FindingStatus.Problem, ex.Message, Array.Empty<string>(), c.OnHost($"ls -l {c.Target.EnvFilePath}"), runbook);
            return;
        }

        var evidence = new List<string> { "env file " + check.EnvFile, "required: " + string.Join(", ", c.Target.RequiredVariables) };
        if (!check.Exists)
        {
            c.Report(Symptom, "Environment", FindingStatus.Problem, $"the env file {check.EnvFile} does not exist: the backend starts without its settings", evidence,
                $"create {check.EnvFile} (mode 600) with {string.Join(", ", c.Target.RequiredVariables)}, then $target | Test-VaultEnvironment", runbook);
            return;
        }

        evidence.Add("missing: " + (check.Missing.Count == 0 ? "none" : string.Join(", ", check.Missing)));
        evidence.Add("empty: " + (check.Empty.Count == 0 ? "none" : string.Join(", ", check.Empty)));
        if (!check.Passed)
        {
            var names = string.Join(", ", check.Missing.Concat(check.Empty));
            c.Report(Symptom, "Environment", FindingStatus.Problem, $"required variables missing or empty in {check.EnvFile}: {names}", evidence,
                $"set {names} in {check.EnvFile}, then $target | Restart-VaultBackend", runbook);
            return;
        }

        c.Report(Symptom, "Environment", FindingStatus.Ok, "every required variable is set", evidence, null, runbook);
    }

    private static async Task PortAsync(DiagnosisContext c, ServiceState? state, CancellationToken cancellationToken)
    {
        var port = c.Target.Port.ToString(CultureInfo.InvariantCulture);
        var runbook = $"Won't start 3: netstat -tuln | grep :{port}";
        var result = await c.Shell.RunAsync(CommandLine.Script(PortScript, port), TimeSpan.FromSeconds(30), cancellationToken).ConfigureAwait(false);
        var lines = result.StandardOutput.Replace("\r", "").Split('\n').Where(l => l.Length > 0).ToList();
        if (lines.Contains("no-ss"))
        {
            c.Report(Symptom, "Port", FindingStatus.NotChecked, "ss (iproute2) is not on the host, so the port cannot be checked", Array.Empty<string>(),
                c.OnHost($"netstat -tlnp | grep :{port}"), runbook);
            return;
        }

        var listens = lines.Where(l => l.StartsWith("listen ", StringComparison.Ordinal)).Select(l => l.Substring(7)).ToList();
        var processes = lines.Where(l => l.StartsWith("proc ", StringComparison.Ordinal)).Select(l => l.Substring(5).Split(new[] { ' ' }, 3)).Where(f => f.Length >= 2)
            .Select(f => (Pid: int.Parse(f[0], CultureInfo.InvariantCulture), User: f[1], Command: f.Length > 2 ? f[2] : "")).ToList();
        var chains = lines.Where(l => l.StartsWith("chain ", StringComparison.Ordinal)).Select(l => l.Substring(6).Split(new[] { ' ' }, StringSplitOptions.RemoveEmptyEntries))
            .Where(f => f.Length > 0).ToDictionary(f => f[0], f => f.Skip(1).ToList(), StringComparer.Ordinal);
        var running = state is { Status: ServiceStatus.Running or ServiceStatus.Starting or ServiceStatus.CrashLooping };
        var evidence = listens.Select(l => "ss: " + l).Concat(processes.Select(p => $"pid {p.Pid} ({p.User}): {p.Command}")).ToList();
        if (listens.Count == 0)
        {
            if (running)
            {
                c.Report(Symptom, "Port", FindingStatus.Warning, $"{c.Target.ServiceName} runs but nothing listens on port {port}: it is still starting, or it listens on another port (PORT in the env file?)",
                    evidence, "$target | Get-VaultBackendLog -Tail 50", runbook);
            }
            else
            {
                c.Report(Symptom, "Port", FindingStatus.Ok, $"port {port} is free for the backend", evidence, null, runbook);
            }

            return;
        }

        if (processes.Count == 0)
        {
            // ss names the processes of other users only to root.
            c.Report(Symptom, "Port", running ? FindingStatus.Warning : FindingStatus.Problem,
                $"port {port} is in use by a process this user cannot see" + (running ? " (it may be the backend)" : ": the backend cannot bind it"),
                evidence, c.OnHost($"sudo ss -ltnp 'sport = :{port}'"), runbook);
            return;
        }

        var servicePid = state?.Pid?.ToString(CultureInfo.InvariantCulture);
        bool Ours((int Pid, string User, string Command) p) =>
            (servicePid is not null && chains.TryGetValue(p.Pid.ToString(CultureInfo.InvariantCulture), out var chain) && chain.Contains(servicePid))
            || (c.Target.ServiceManager == ServiceManagerKind.Docker && running && p.Command.IndexOf("docker-proxy", StringComparison.Ordinal) >= 0);
        if (running && processes.Any(Ours))
        {
            var own = processes.First(Ours);
            c.Report(Symptom, "Port", FindingStatus.Ok, $"the backend (pid {own.Pid}) listens on port {port}", evidence, null, runbook);
            return;
        }

        var stranger = processes.First();
        c.Report(Symptom, "Port", FindingStatus.Problem,
            $"port {port} is taken by another process: pid {stranger.Pid} ({stranger.User}) {DiagnosisContext.Cut(stranger.Command, 120)}" + (running ? "" : "; the backend cannot bind it"),
            evidence, c.OnHost($"ps -fp {stranger.Pid}; stop it (kill {stranger.Pid}) or give the backend another port, then $target | Start-VaultBackend"), runbook);
    }

    private static async Task DependenciesAsync(DiagnosisContext c, CancellationToken cancellationToken)
    {
        const string runbook = "Won't start 4: npm ls";
        var t = c.Target;
        if (t.ServiceManager == ServiceManagerKind.Docker)
        {
            c.Report(Symptom, "Dependencies", FindingStatus.NotChecked, "a Docker image carries its own node_modules: npm ls on the host does not apply", Array.Empty<string>(), null, runbook);
            return;
        }

        var result = await c.Shell.RunAsync(CommandLine.Script(NpmScript, t.AppDirectory), TimeSpan.FromSeconds(90), cancellationToken).ConfigureAwait(false);
        switch (result.ExitCode)
        {
            case 3:
                c.Report(Symptom, "Dependencies", FindingStatus.NotChecked, $"the app directory {t.AppDirectory} cannot be entered", Array.Empty<string>(), c.OnHost($"ls -la {t.AppPath}"), runbook);
                return;
            case 4:
                c.Report(Symptom, "Dependencies", FindingStatus.NotChecked, $"{t.AppDirectory} has no package.json", Array.Empty<string>(), c.OnHost($"ls -la {t.AppDirectory}"), runbook);
                return;
            case 5:
                c.Report(Symptom, "Dependencies", FindingStatus.NotChecked, "npm is not on the host's PATH for this user", Array.Empty<string>(), c.OnHost($"cd {t.AppDirectory} && npm ls"), runbook);
                return;
        }

        var output = result.StandardOutput.Replace("\r", "");
        var at = output.LastIndexOf("==yv-exit ", StringComparison.Ordinal);
        var json = at >= 0 ? output.Substring(0, at) : output;
        JObject? tree = null;
        try
        {
            tree = JsonConvert.DeserializeObject<JObject>(json, new JsonSerializerSettings { MaxDepth = 64 });
        }
        catch (JsonException)
        {
            // Reported below as output npm ls should not print.
        }

        if (tree is null)
        {
            c.Report(Symptom, "Dependencies", FindingStatus.NotChecked, "npm ls printed no JSON: " + DiagnosisContext.Cut(result.Tail(2), 200), Array.Empty<string>(),
                c.OnHost($"cd {t.AppDirectory} && npm ls --omit=dev"), runbook);
            return;
        }

        var problems = (tree["problems"] as JArray)?.Select(p => p.Type == JTokenType.String ? (string)p! : p.ToString(Formatting.None)).ToList() ?? new List<string>();
        var count = (tree["dependencies"] as JObject)?.Count ?? 0;
        var serious = problems.Where(p => !p.StartsWith("extraneous", StringComparison.Ordinal)).ToList();
        var evidence = new List<string> { $"npm ls --omit=dev in {t.AppDirectory}: {count} production dependencies, {problems.Count} problem(s)" };
        evidence.AddRange(problems.Take(8).Select(p => "npm ls: " + p));
        if (serious.Count > 0)
        {
            c.Report(Symptom, "Dependencies", FindingStatus.Problem, $"npm ls finds {serious.Count} broken dependencies: {DiagnosisContext.Cut(serious[0], 160)}", evidence,
                c.OnHost($"cd {t.AppDirectory} && npm ci --omit=dev") + " (or deploy the release again: $target | Invoke-VaultDeployment -Ref <the serving ref>)", runbook);
        }
        else if (problems.Count > 0)
        {
            c.Report(Symptom, "Dependencies", FindingStatus.Warning, $"npm ls finds {problems.Count} extraneous packages (installed, not in package.json)", evidence,
                c.OnHost($"cd {t.AppDirectory} && npm prune --omit=dev"), runbook);
        }
        else
        {
            c.Report(Symptom, "Dependencies", FindingStatus.Ok, $"npm ls: {count} production dependencies, none missing or invalid", evidence, null, runbook);
        }
    }

    private static async Task FilesAsync(DiagnosisContext c, CancellationToken cancellationToken)
    {
        var t = c.Target;
        var runbook = $"Won't start 5: ls -la {t.AppPath}";
        var docker = t.ServiceManager == ServiceManagerKind.Docker;
        var entry = docker ? "-" : t.EntryPoint ?? "";
        var result = await c.Shell.RunAsync(CommandLine.Script(FilesScript, t.AppPath, t.AppDirectory, t.EnvFilePath, t.LogPath, entry), TimeSpan.FromSeconds(30), cancellationToken)
            .ConfigureAwait(false);
        var lines = result.StandardOutput.Replace("\r", "").Split('\n').Where(l => l.Length > 0).ToList();
        bool Has(string line) => lines.Contains(line);
        var evidence = lines.Where(l => l.StartsWith("ls ", StringComparison.Ordinal) || l.StartsWith("link ", StringComparison.Ordinal) || l.StartsWith("envls ", StringComparison.Ordinal))
            .Select(l => l.StartsWith("link ", StringComparison.Ordinal) ? $"{t.AppPath} -> {l.Substring(5)}" : l.Substring(l.IndexOf(' ') + 1)).ToList();
        var problems = new List<(FindingStatus Status, string What, string Next)>();
        if (!docker && Has("dir missing"))
        {
            problems.Add((FindingStatus.Problem, $"the app directory {t.AppDirectory} does not exist", "$target | Invoke-VaultDeployment -Ref <a release>"));
        }
        else if (!docker && Has("dir unreadable"))
        {
            problems.Add((FindingStatus.Problem, $"the app directory {t.AppDirectory} is not readable by {UserOf(t)}", c.OnHost($"ls -la {t.AppPath}; chown/chmod it for the service's user")));
        }

        if (Has("env missing"))
        {
            problems.Add((FindingStatus.Problem, $"the env file {t.EnvFilePath} does not exist", $"create it (mode 600), then $target | Test-VaultEnvironment"));
        }
        else if (Has("env unreadable"))
        {
            problems.Add((FindingStatus.Problem, $"the env file {t.EnvFilePath} is not readable by {UserOf(t)}", c.OnHost($"ls -l {t.EnvFilePath}; chown it to the service's user, chmod 600")));
        }

        if (lines.FirstOrDefault(l => l.StartsWith("entry missing ", StringComparison.Ordinal)) is { } missing)
        {
            problems.Add((FindingStatus.Problem, $"the entry point {missing.Substring(14)} is missing in {t.AppDirectory} (not built?)", c.OnHost($"cd {t.AppDirectory} && npm run build") + " (or deploy again: $target | Invoke-VaultDeployment)"));
        }

        if (lines.FirstOrDefault(l => l.StartsWith("envmode ", StringComparison.Ordinal)) is { } mode && mode.Length > 8 && mode[mode.Length - 1] is '4' or '5' or '6' or '7')
        {
            problems.Add((FindingStatus.Warning, $"the env file {t.EnvFilePath} is readable by every user (mode {mode.Substring(8)}): it holds secrets", c.OnHost($"chmod 600 {t.EnvFilePath}")));
        }

        if (Has("logdir unwritable"))
        {
            problems.Add((FindingStatus.Warning, $"the log directory of {t.LogPath} is not writable by {UserOf(t)}", c.OnHost($"ls -ld {System.IO.Path.GetDirectoryName(t.LogPath)}")));
        }

        evidence.AddRange(lines.Where(l => l.StartsWith("entry ok ", StringComparison.Ordinal)).Select(l => "entry point " + l.Substring(9) + " exists"));
        if (problems.Count == 0)
        {
            c.Report(Symptom, "Files", FindingStatus.Ok, docker ? "the env file is there and readable" : "the app directory, entry point and env file are there and readable", evidence, null, runbook);
            return;
        }

        var worst = problems.OrderBy(p => p.Status == FindingStatus.Problem ? 0 : 1).First();
        evidence.AddRange(problems.Skip(1).Select(p => "also: " + p.What));
        c.Report(Symptom, "Files", worst.Status, worst.What, evidence, worst.Next, runbook);
    }

    private static string UserOf(VaultTarget target) => target.Ssh?.User ?? Environment.UserName;
}
