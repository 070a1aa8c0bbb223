using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Net.Http;
using System.Net.Sockets;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;
using YieldVault.Ops.Hosts;

namespace YieldVault.Ops.Probes;

/// <summary>
/// Checks the backend's dependencies named in its env file: PostgreSQL (DATABASE_URL, SELECT 1) and the
/// Stellar RPC (STELLAR_RPC_URL, JSON-RPC getHealth). For SSH targets the checks go through the server
/// (SSH port forwards), so they see what the backend sees. A failure is a result naming the dependency,
/// never an exception dump; values from the env file never appear.
/// </summary>
public static class DependencyProbe
{
    public const string Database = "database";
    public const string StellarRpc = "stellarRpc";

    private static readonly HttpClient Client = new(new HttpClientHandler { AllowAutoRedirect = false, UseProxy = false })
    {
        Timeout = Timeout.InfiniteTimeSpan,
    };

    public static async Task<IReadOnlyList<VaultDependencyResult>> CheckAsync(
        VaultTarget target, IHostShell shell, SecretRedactor redactor, IReadOnlyCollection<string> which, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var env = await EnvironmentFiles.ReadAsync(target, shell, redactor, cancellationToken).ConfigureAwait(false);
        var results = new List<VaultDependencyResult>();
        foreach (var dependency in new[] { Database, StellarRpc })
        {
            if (!System.Linq.Enumerable.Contains(which, dependency))
            {
                continue;
            }

            var variable = dependency == Database ? "DATABASE_URL" : "STELLAR_RPC_URL";
            if (env is null || !env.TryGetValue(variable, out var url) || string.IsNullOrWhiteSpace(url))
            {
                results.Add(new VaultDependencyResult
                {
                    Target = target, Dependency = dependency, ErrorId = env is null ? ErrorIds.EnvFileMissing : ErrorIds.DependencyConfigMissing,
                    Reason = env is null ? $"the env file {target.EnvFilePath} does not exist" : $"{variable} is not set in {target.EnvFilePath}",
                });
                continue;
            }

            try
            {
                results.Add(dependency == Database
                    ? await CheckDatabaseAsync(target, shell, url, timeout, cancellationToken).ConfigureAwait(false)
                    : await CheckRpcAsync(target, shell, url, timeout, cancellationToken).ConfigureAwait(false));
            }
            catch (VaultException ex) when (ex.Kind is VaultErrorKind.InvalidData or VaultErrorKind.NotInstalled)
            {
                results.Add(new VaultDependencyResult { Target = target, Dependency = dependency, ErrorId = ex.ErrorId, Reason = redactor.Redact(ex.Message) });
            }
        }

        return results;
    }

    private static async Task<VaultDependencyResult> CheckDatabaseAsync(VaultTarget target, IHostShell shell, string url, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var endpoint = DatabaseEndpoint.Parse(url);
        var (host, port) = await shell.ForwardTcpAsync(endpoint.Host, endpoint.Port, cancellationToken).ConfigureAwait(false);
        var outcome = await LoadDatabaseProbe().ProbeAsync(endpoint, host, port, timeout, cancellationToken).ConfigureAwait(false);
        var (errorId, reason) = await RefineThroughServerAsync(shell, endpoint.Host, outcome.ErrorId, outcome.Reason, cancellationToken).ConfigureAwait(false);
        return new VaultDependencyResult
        {
            Target = target,
            Dependency = Database,
            Endpoint = endpoint.ToString(),
            Healthy = outcome.Success,
            LatencyMs = outcome.LatencyMs,
            ErrorId = errorId,
            Reason = reason,
            Detail = outcome.ServerVersion is null ? null : "PostgreSQL " + outcome.ServerVersion,
        };
    }

    private static async Task<VaultDependencyResult> CheckRpcAsync(VaultTarget target, IHostShell shell, string url, TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            throw new VaultException(ErrorIds.DependencyConfigInvalid, VaultErrorKind.InvalidData, "STELLAR_RPC_URL is not an http:// or https:// URL.", "Fix STELLAR_RPC_URL in the env file.");
        }

        var shown = new UriBuilder(uri) { UserName = "", Password = "", Query = "" }.Uri.GetLeftPart(UriPartial.Path);
        var requestUri = uri;
        if (uri.Scheme == Uri.UriSchemeHttp)
        {
            // Plain HTTP goes through the server (what the backend sees). HTTPS is checked from here: a
            // forwarded TLS connection would not match the certificate's name.
            var (host, port) = await shell.ForwardTcpAsync(uri.Host, uri.Port, cancellationToken).ConfigureAwait(false);
            requestUri = new UriBuilder(uri) { Host = host, Port = port }.Uri;
        }

        var watch = Stopwatch.StartNew();
        using var timeoutSource = new CancellationTokenSource(timeout);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeoutSource.Token);
        VaultDependencyResult Result(bool healthy, string? errorId, string? reason, string? detail = null) => new()
        {
            Target = target, Dependency = StellarRpc, Endpoint = shown, Healthy = healthy, LatencyMs = watch.Elapsed.TotalMilliseconds,
            ErrorId = errorId, Reason = reason, Detail = detail,
        };

        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, requestUri)
            {
                Content = new StringContent("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"getHealth\"}", Encoding.UTF8, "application/json"),
            };
            if (requestUri != uri)
            {
                request.Headers.Host = uri.IsDefaultPort ? uri.Host : uri.Authority;
            }

            using var response = await Client.SendAsync(request, linked.Token).ConfigureAwait(false);
            var body = await response.Content.ReadAsStringAsync().ConfigureAwait(false);
            if ((int)response.StatusCode != 200)
            {
                return Result(false, ErrorIds.DependencyFailed, $"the Stellar RPC answered HTTP {(int)response.StatusCode}");
            }

            JObject json;
            try
            {
                json = JObject.Parse(body);
            }
            catch (JsonException)
            {
                return Result(false, ErrorIds.DependencyFailed, "the Stellar RPC did not answer with JSON-RPC");
            }

            if (json["error"] is JObject error)
            {
                return Result(false, ErrorIds.DependencyFailed, $"getHealth returned error {error["code"]}: {error["message"]}");
            }

            var status = (string?)json["result"]?["status"];
            var detail = $"status {status}, latest ledger {json["result"]?["latestLedger"]}";
            return string.Equals(status, "healthy", StringComparison.OrdinalIgnoreCase)
                ? Result(true, null, null, detail)
                : Result(false, ErrorIds.DependencyUnhealthy, $"getHealth says '{status}'", detail);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return Result(false, ErrorIds.DependencyTimeout, $"no answer from the Stellar RPC within {timeout.TotalSeconds:0.#} s");
        }
        catch (HttpRequestException ex)
        {
            var socket = ex.InnerException as SocketException ?? ex.InnerException?.InnerException as SocketException;
            if (socket is null && requestUri != uri)
            {
                var (errorId, reason) = await RefineThroughServerAsync(shell, uri.Host, ErrorIds.DependencyRefused,
                    $"could not reach the Stellar RPC at {uri.Host}:{uri.Port} (connection refused or closed)", cancellationToken).ConfigureAwait(false);
                return Result(false, errorId, reason);
            }

            return socket?.SocketErrorCode switch
            {
                SocketError.ConnectionRefused => Result(false, ErrorIds.DependencyRefused, $"{uri.Host}:{uri.Port} refused the connection"),
                SocketError.HostNotFound or SocketError.TryAgain or SocketError.NoData => Result(false, ErrorIds.DependencyDnsFailed, $"the host name '{uri.Host}' could not be resolved"),
                _ => Result(false, ErrorIds.DependencyRefused, $"could not reach the Stellar RPC at {uri.Host}:{uri.Port} (connection refused or closed)"),
            };
        }
    }

    /// <summary>
    /// Through an SSH forward every failure of the far end looks like a closed connection. Ask the server
    /// whether it can resolve the name, so a DNS problem is reported as one.
    /// </summary>
    private static async Task<(string? ErrorId, string? Reason)> RefineThroughServerAsync(IHostShell shell, string host, string? errorId, string? reason, CancellationToken cancellationToken)
    {
        if (errorId != ErrorIds.DependencyRefused || CoalescingShell.Unwrap(shell) is LocalShell || System.Net.IPAddress.TryParse(host, out _))
        {
            return (errorId, reason);
        }

        var lookup = await shell.RunAsync(CommandLine.Script("getent hosts \"$1\" >/dev/null", host), TimeSpan.FromSeconds(15), cancellationToken).ConfigureAwait(false);
        return lookup.ExitCode == 2
            ? (ErrorIds.DependencyDnsFailed, $"the host name '{host}' could not be resolved on {shell.Description}")
            : (errorId, reason);
    }

    private static IDatabaseProbe LoadDatabaseProbe()
    {
        // Lives in YieldVault.Ops.Postgres (Npgsql needs .NET 8); found in the module's bin/ through its load context.
        var type = Type.GetType("YieldVault.Ops.Postgres.NpgsqlDatabaseProbe, YieldVault.Ops.Postgres", throwOnError: false);
        return type is null
            ? throw new VaultException(ErrorIds.DatabaseProbeUnavailable, VaultErrorKind.NotInstalled,
                "The PostgreSQL check needs YieldVault.Ops.Postgres.dll (Npgsql), which runs on PowerShell 7.4 or later.",
                "Use PowerShell 7.4+ and a complete module folder.")
            : (IDatabaseProbe)Activator.CreateInstance(type)!;
    }
}
