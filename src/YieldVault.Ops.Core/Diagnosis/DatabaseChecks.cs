using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Net;
using System.Threading;
using System.Threading.Tasks;
using YieldVault.Ops.Hosts;
using YieldVault.Ops.Probes;

namespace YieldVault.Ops.Diagnosis;

/// <summary>
/// The runbook's "Issue: Database Connection Fails", from where the backend runs: DATABASE_URL (1), its host name (4),
/// a TCP connection from the server (4, 5), the login and SELECT 1 (2), and PostgreSQL on the host when the database is
/// local (3). The password is never shown; the URL appears as user@host:port/database.
/// </summary>
internal static class DatabaseChecks
{
    private const VaultSymptom Symptom = VaultSymptom.Database;

    // A TCP connection from the target's host: bash's /dev/tcp under timeout, else nc; 'none' when neither is there.
    private const string TcpScript = @"h=""$1""; p=""$2""
if command -v bash >/dev/null 2>&1 && command -v timeout >/dev/null 2>&1; then
  out=$(timeout 5 bash -c 'exec 3<>""/dev/tcp/$0/$1""' ""$h"" ""$p"" 2>&1); printf 'bash %s %s\n' ""$?"" ""$out""
elif command -v nc >/dev/null 2>&1; then
  out=$(nc -z -w 5 ""$h"" ""$p"" 2>&1); printf 'nc %s %s\n' ""$?"" ""$out""
else echo none; fi";

    private const string ServiceScript = @"p=""$1""
command -v ss >/dev/null 2>&1 || { echo no-ss; exit 0; }
ss -Hltnp ""sport = :$p"" 2>/dev/null | while IFS= read -r line; do printf 'listen %s\n' ""$line""; done
printf 'postgres-processes %s\n' ""$(ps -C postgres -o pid= 2>/dev/null | wc -l)""
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then printf 'systemd %s\n' ""$(systemctl is-active postgresql 2>/dev/null)""; fi";

    public static async Task RunAsync(DiagnosisContext c, Action<string> progress, CancellationToken cancellationToken)
    {
        progress("DATABASE_URL");
        var env = await c.EnvAsync(cancellationToken).ConfigureAwait(false);
        var envFile = c.Target.EnvFilePath;
        string? url = null;
        if (env is null || !env.TryGetValue("DATABASE_URL", out url) || string.IsNullOrWhiteSpace(url))
        {
            var why = c.EnvError ?? (env is null ? $"the env file {envFile} does not exist" : $"DATABASE_URL is not set in {envFile}");
            c.Report(Symptom, "DatabaseUrl", FindingStatus.Problem, why + ": the backend does not know where its database is", Array.Empty<string>(),
                $"set DATABASE_URL=postgres://<user>:<password>@<host>:5432/<database> in {envFile}, then $target | Restart-VaultBackend", "Database 1: echo $DATABASE_URL");
            NotCheckedRest(c, "DATABASE_URL is not set");
            return;
        }

        DatabaseEndpoint endpoint;
        try
        {
            endpoint = DatabaseEndpoint.Parse(url);
        }
        catch (VaultException ex)
        {
            c.Report(Symptom, "DatabaseUrl", FindingStatus.Problem, ex.Message, Array.Empty<string>(), $"fix DATABASE_URL in {envFile} (postgres://user:password@host:port/database)", "Database 1: echo $DATABASE_URL");
            NotCheckedRest(c, "DATABASE_URL is not a PostgreSQL URL");
            return;
        }

        c.Redactor.Add(endpoint.Password);
        var shown = $"{endpoint.User}@{endpoint}";
        c.Report(Symptom, "DatabaseUrl", FindingStatus.Ok, $"DATABASE_URL names {shown}", new[] { $"DATABASE_URL in {envFile}: postgres://{endpoint.User}:***@{endpoint}" + (endpoint.SslMode is null ? "" : "?sslmode=" + endpoint.SslMode) },
            null, "Database 1: echo $DATABASE_URL");

        progress("DNS of " + endpoint.Host);
        var resolved = await DnsAsync(c, endpoint, cancellationToken).ConfigureAwait(false);
        progress("TCP to " + endpoint.Host);
        var connected = resolved && await TcpAsync(c, endpoint, cancellationToken).ConfigureAwait(false);
        progress("login and SELECT 1");
        if (connected)
        {
            await QueryAsync(c, endpoint, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            c.Report(Symptom, "DatabaseQuery", FindingStatus.NotChecked, $"no login tried: {(resolved ? "no TCP connection" : "the host name does not resolve")}", Array.Empty<string>(), null,
                "Database 2: psql $DATABASE_URL -c \"SELECT 1\"");
        }

        progress("PostgreSQL on the host");
        await LocalServiceAsync(c, endpoint, cancellationToken).ConfigureAwait(false);
    }

    private static void NotCheckedRest(DiagnosisContext c, string why)
    {
        c.Report(Symptom, "DatabaseDns", FindingStatus.NotChecked, why, Array.Empty<string>(), null, "Database 4: ping database-host");
        c.Report(Symptom, "DatabaseTcp", FindingStatus.NotChecked, why, Array.Empty<string>(), null, "Database 4-5: network connectivity, firewall rules");
        c.Report(Symptom, "DatabaseQuery", FindingStatus.NotChecked, why, Array.Empty<string>(), null, "Database 2: psql $DATABASE_URL -c \"SELECT 1\"");
        c.Report(Symptom, "PostgresService", FindingStatus.NotChecked, why, Array.Empty<string>(), null, "Database 3: systemctl status postgresql");
    }

    private static async Task<bool> DnsAsync(DiagnosisContext c, DatabaseEndpoint endpoint, CancellationToken cancellationToken)
    {
        const string runbook = "Database 4: ping database-host";
        if (IPAddress.TryParse(endpoint.Host, out _))
        {
            c.Report(Symptom, "DatabaseDns", FindingStatus.Ok, $"{endpoint.Host} is an address: no name to resolve", Array.Empty<string>(), null, runbook);
            return true;
        }

        var lookup = await c.Shell.RunAsync(CommandLine.Script("getent hosts \"$1\"", endpoint.Host), TimeSpan.FromSeconds(15), cancellationToken).ConfigureAwait(false);
        if (lookup.Succeeded)
        {
            c.Report(Symptom, "DatabaseDns", FindingStatus.Ok, $"{endpoint.Host} resolves on {c.Shell.Description}", new[] { "getent hosts: " + lookup.StandardOutput.Trim() }, null, runbook);
            return true;
        }

        if (lookup.ExitCode == 2)
        {
            c.Report(Symptom, "DatabaseDns", FindingStatus.Problem, $"the database host name {endpoint.Host} does not resolve on {c.Shell.Description}", Array.Empty<string>(),
                c.OnHost($"getent hosts {endpoint.Host}; check /etc/hosts and the resolver, or put the database's address in DATABASE_URL"), runbook);
            return false;
        }

        c.Report(Symptom, "DatabaseDns", FindingStatus.NotChecked, $"getent could not be asked (exit code {lookup.ExitCode})", new[] { lookup.Tail(2) }, c.OnHost($"ping -c 1 {endpoint.Host}"), runbook);
        return true;
    }

    private static async Task<bool> TcpAsync(DiagnosisContext c, DatabaseEndpoint endpoint, CancellationToken cancellationToken)
    {
        const string runbook = "Database 4-5: network connectivity, firewall rules";
        var port = endpoint.Port.ToString(CultureInfo.InvariantCulture);
        var result = await c.Shell.RunAsync(CommandLine.Script(TcpScript, endpoint.Host, port), TimeSpan.FromSeconds(30), cancellationToken).ConfigureAwait(false);
        var line = result.StandardOutput.Replace("\r", "").Split('\n').FirstOrDefault(l => l.Length > 0) ?? "";
        var fields = line.Split(new[] { ' ' }, 3);
        if (fields.Length < 2)
        {
            c.Report(Symptom, "DatabaseTcp", FindingStatus.NotChecked, "neither bash nor nc is on the host to try a TCP connection", Array.Empty<string>(), c.OnHost($"nc -zv {endpoint.Host} {port}"), runbook);
            return true;
        }

        var said = fields.Length > 2 ? fields[2].Trim() : "";
        var evidence = new[] { $"{fields[0]} connect to {endpoint.Host}:{port} from {c.Shell.Description}: exit {fields[1]}" + (said.Length > 0 ? ", " + said : "") };
        if (fields[1] == "0")
        {
            c.Report(Symptom, "DatabaseTcp", FindingStatus.Ok, $"{endpoint.Host}:{port} accepts TCP connections from the backend's host", evidence, null, runbook);
            return true;
        }

        if (fields[1] == "124" || said.IndexOf("timed out", StringComparison.OrdinalIgnoreCase) >= 0)
        {
            c.Report(Symptom, "DatabaseTcp", FindingStatus.Problem, $"no answer from {endpoint.Host}:{port} within 5 s: a firewall drops the connection, or the host is down", evidence,
                c.OnHost($"nc -zv -w 5 {endpoint.Host} {port}; check the firewall rules between the backend and the database"), runbook);
            return false;
        }

        c.Report(Symptom, "DatabaseTcp", FindingStatus.Problem,
            said.IndexOf("refused", StringComparison.OrdinalIgnoreCase) >= 0 || fields[0] == "nc"
                ? $"{endpoint.Host}:{port} refuses connections: nothing listens there (PostgreSQL stopped, or another port)"
                : $"cannot connect to {endpoint.Host}:{port}: {DiagnosisContext.Cut(said, 160)}",
            evidence, c.OnHost("systemctl status postgresql"), runbook);
        return false;
    }

    private static async Task QueryAsync(DiagnosisContext c, DatabaseEndpoint endpoint, CancellationToken cancellationToken)
    {
        const string runbook = "Database 2: psql $DATABASE_URL -c \"SELECT 1\"";
        VaultDependencyResult result;
        try
        {
            result = (await DependencyProbe.CheckAsync(c.Target, c.Shell, c.Redactor, new[] { DependencyProbe.Database }, TimeSpan.FromSeconds(10), cancellationToken).ConfigureAwait(false))[0];
        }
        catch (VaultException ex) when (!ex.IsConnectionFailure)
        {
            c.Report(Symptom, "DatabaseQuery", FindingStatus.NotChecked, ex.Message, Array.Empty<string>(), c.OnHost("psql \"$DATABASE_URL\" -c 'SELECT 1'"), runbook);
            return;
        }

        var evidence = new List<string> { $"SELECT 1 as {endpoint.User} on {endpoint}: " + (result.Healthy ? "ok" : result.ErrorId ?? "failed") + (result.LatencyMs is { } ms ? $" in {ms:0} ms" : "") };
        if (result.Detail is not null)
        {
            evidence.Add(result.Detail);
        }

        if (result.Healthy)
        {
            c.Report(Symptom, "DatabaseQuery", FindingStatus.Ok, $"the backend's login works: SELECT 1 in {result.LatencyMs:0} ms", evidence, null, runbook);
            return;
        }

        var next = result.ErrorId == ErrorIds.DependencyAuthFailed
            ? $"check the user and password in DATABASE_URL of {c.Target.EnvFilePath} against the database's role (and pg_hba.conf); " + c.OnHost("psql \"$DATABASE_URL\" -c 'SELECT 1'")
            : c.OnHost("psql \"$DATABASE_URL\" -c 'SELECT 1'");
        c.Report(Symptom, "DatabaseQuery", FindingStatus.Problem, result.Reason ?? "SELECT 1 failed", evidence, next, runbook);
    }

    private static async Task LocalServiceAsync(DiagnosisContext c, DatabaseEndpoint endpoint, CancellationToken cancellationToken)
    {
        const string runbook = "Database 3: systemctl status postgresql";
        var local = endpoint.Host is "localhost" or "127.0.0.1" or "::1" || (IPAddress.TryParse(endpoint.Host, out var address) && IPAddress.IsLoopback(address))
            || (c.Target.Ssh is { } ssh && string.Equals(ssh.HostName, endpoint.Host, StringComparison.OrdinalIgnoreCase));
        if (!local)
        {
            c.Report(Symptom, "PostgresService", FindingStatus.NotChecked, $"the database runs on {endpoint.Host}, not on the backend's host: check it there", Array.Empty<string>(),
                $"on {endpoint.Host}: systemctl status postgresql", runbook);
            return;
        }

        var port = endpoint.Port.ToString(CultureInfo.InvariantCulture);
        var result = await c.Shell.RunAsync(CommandLine.Script(ServiceScript, port), TimeSpan.FromSeconds(30), cancellationToken).ConfigureAwait(false);
        var lines = result.StandardOutput.Replace("\r", "").Split('\n').Where(l => l.Length > 0).ToList();
        if (lines.Contains("no-ss"))
        {
            c.Report(Symptom, "PostgresService", FindingStatus.NotChecked, "ss (iproute2) is not on the host", Array.Empty<string>(), c.OnHost("systemctl status postgresql"), runbook);
            return;
        }

        var listens = lines.Where(l => l.StartsWith("listen ", StringComparison.Ordinal)).Select(l => l.Substring(7)).ToList();
        var evidence = listens.Select(l => "ss: " + l).ToList();
        evidence.AddRange(lines.Where(l => l.StartsWith("postgres-processes ", StringComparison.Ordinal)).Select(l => $"postgres processes on the host (any cluster): {l.Substring(19)}"));
        evidence.AddRange(lines.Where(l => l.StartsWith("systemd ", StringComparison.Ordinal)).Select(l => "systemctl is-active postgresql: " + l.Substring(8)));
        if (listens.Count > 0)
        {
            c.Report(Symptom, "PostgresService", FindingStatus.Ok, $"PostgreSQL listens on port {port} on the host", evidence, null, runbook);
            return;
        }

        c.Report(Symptom, "PostgresService", FindingStatus.Problem, $"nothing listens on port {port} on the backend's host: the local PostgreSQL is not running (or listens on another port)", evidence,
            c.OnHost("sudo systemctl start postgresql; systemctl status postgresql"), runbook);
    }
}
