using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text.RegularExpressions;
using System.Threading;
using System.Threading.Tasks;
using YieldVault.Ops.Hosts;
using YieldVault.Ops.Probes;

namespace YieldVault.Ops.Runbook;

/// <summary>The pre-deployment checklist of the runbook, as checks with reasons.</summary>
public static class DeploymentReadiness
{
    /// <summary>The deployment lock of a target (held while Invoke-VaultDeployment runs).</summary>
    public static string LockPath(VaultTarget target) => target.StatePath.TrimEnd('/') + "/" + target.ServiceName + "/deploy.lock";

    // One round trip for the host-side checks; inputs are positional parameters.
    private const string HostScript = @"backup=""$1""; app=""$2""; envfile=""$3""; lock=""$4""
p=""$backup""; while [ ! -e ""$p"" ] && [ ""$p"" != / ]; do p=$(dirname ""$p""); done
if [ -d ""$p"" ] && [ -w ""$p"" ]; then echo ""backup=writable:$p""; else echo ""backup=notwritable:$p""; fi
p=""$app""; while [ ! -e ""$p"" ] && [ ""$p"" != / ]; do p=$(dirname ""$p""); done
echo ""diskkb=$(df -Pk ""$p"" 2>/dev/null | awk 'NR==2{print $4}')""
if [ -f ""$envfile"" ]; then echo envfile=present; else echo envfile=missing; fi
if [ -e ""$lock"" ]; then echo ""lock=held:$(head -c 300 ""$lock"" | tr '\n' ' ')""; else echo lock=free; fi
for t in git node npm docker; do if command -v ""$t"" >/dev/null 2>&1; then echo ""tool.$t=$($t --version 2>/dev/null | head -n 1)""; else echo ""tool.$t=""; fi; done";

    public static async Task<IReadOnlyList<VaultReadinessCheck>> CheckAsync(VaultTarget target, IHostShell shell, SecretRedactor redactor,
        double minimumFreeMB, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var checks = new List<VaultReadinessCheck>();
        VaultReadinessCheck Check(string name, bool passed, string reason) => new() { Target = target, Check = name, Passed = passed, Reason = reason };

        var result = await shell.RunAsync(CommandLine.Script(HostScript, target.BackupPath, target.AppPath, target.EnvFilePath, LockPath(target)),
            timeout, cancellationToken).ConfigureAwait(false);
        var facts = result.StandardOutput.Replace("\r", "").Split('\n').Where(l => l.Contains('='))
            .Select(l => l.Split(new[] { '=' }, 2)).GroupBy(p => p[0]).ToDictionary(g => g.Key, g => g.First()[1], StringComparer.Ordinal);
        string Fact(string key) => facts.TryGetValue(key, out var v) ? v : "";

        var backup = Fact("backup");
        checks.Add(backup.StartsWith("writable:", StringComparison.Ordinal)
            ? Check("BackupDirectoryWritable", true, backup.Substring(9) == target.BackupPath ? $"{target.BackupPath} is writable" : $"{target.BackupPath} can be created in {backup.Substring(9)}")
            : Check("BackupDirectoryWritable", false, $"{target.BackupPath} is not writable by {UserOf(target)} (nearest existing: {backup.Split(new[] { ':' }, 2).Last()})"));

        var env = await EnvironmentFiles.ReadAsync(target, shell, redactor, cancellationToken).ConfigureAwait(false);
        if (env is null)
        {
            checks.Add(Check("EnvFile", false, $"{target.EnvFilePath} does not exist"));
        }
        else
        {
            var missing = target.RequiredVariables.Where(v => !env.TryGetValue(v, out var value) || string.IsNullOrWhiteSpace(value)).ToList();
            checks.Add(missing.Count == 0
                ? Check("EnvFile", true, $"{target.EnvFilePath} sets all {target.RequiredVariables.Count} required variables")
                : Check("EnvFile", false, $"{target.EnvFilePath} lacks {string.Join(", ", missing)}"));
        }

        foreach (var dependency in await DependencyProbe.CheckAsync(target, shell, redactor, new[] { DependencyProbe.Database, DependencyProbe.StellarRpc }, timeout, cancellationToken).ConfigureAwait(false))
        {
            var name = dependency.Dependency == DependencyProbe.Database ? "DatabaseHealthy" : "StellarRpcHealthy";
            checks.Add(dependency.Healthy
                ? Check(name, true, $"{dependency.Endpoint} answered in {dependency.LatencyMs:0} ms")
                : Check(name, false, $"{dependency.ErrorId}: {dependency.Reason}"));
        }

        var freeMB = double.TryParse(Fact("diskkb"), NumberStyles.Float, CultureInfo.InvariantCulture, out var kb) ? kb / 1024 : (double?)null;
        checks.Add(freeMB is null
            ? Check("DiskSpace", false, $"could not read the free space at {target.AppPath}")
            : Check("DiskSpace", freeMB >= minimumFreeMB, string.Format(CultureInfo.InvariantCulture, "{0:0} MB free at {1} (needs {2:0} MB)", freeMB, target.AppPath, minimumFreeMB)));

        checks.Add(ToolCheck(target, Fact));

        var lockState = Fact("lock");
        checks.Add(lockState == "free"
            ? Check("NoDeploymentLock", true, "no deployment is running")
            : Check("NoDeploymentLock", false, $"{LockPath(target)} is held: {lockState.Substring(Math.Min(5, lockState.Length)).Trim()}"));
        return checks;
    }

    private static VaultReadinessCheck ToolCheck(VaultTarget target, Func<string, string> fact)
    {
        var problems = new List<string>();
        var found = new List<string>();
        if (target.ServiceManager is ServiceManagerKind.Docker or ServiceManagerKind.Swarm)
        {
            Require("docker", fact("tool.docker"));
        }
        else
        {
            Require("git", fact("tool.git"));
            Require("npm", fact("tool.npm"));
            var node = fact("tool.node");
            var major = Regex.Match(node, @"v(\d+)\.", RegexOptions.None, TimeSpan.FromSeconds(1));
            if (node.Length == 0)
            {
                problems.Add("node is not installed");
            }
            else if (!major.Success || int.Parse(major.Groups[1].Value, CultureInfo.InvariantCulture) < 20)
            {
                problems.Add($"node {node} is older than 20");
            }
            else
            {
                found.Add("node " + node);
            }
        }

        return new VaultReadinessCheck
        {
            Target = target,
            Check = "Tools",
            Passed = problems.Count == 0,
            Reason = problems.Count == 0 ? string.Join(", ", found) : string.Join("; ", problems),
        };

        void Require(string tool, string version)
        {
            if (version.Length == 0)
            {
                problems.Add($"{tool} is not installed");
            }
            else
            {
                found.Add(version);
            }
        }
    }

    private static string UserOf(VaultTarget target) => target.Ssh?.User ?? Environment.UserName;
}
