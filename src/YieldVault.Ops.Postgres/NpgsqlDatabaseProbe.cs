using System;
using System.Diagnostics;
using System.Net.Sockets;
using System.Threading;
using System.Threading.Tasks;
using Npgsql;
using YieldVault.Ops.Probes;

namespace YieldVault.Ops.Postgres;

/// <summary>Runbook troubleshooting "psql $DATABASE_URL -c 'SELECT 1'", with Npgsql and a clear reason on failure.</summary>
public sealed class NpgsqlDatabaseProbe : IDatabaseProbe
{
    public async Task<DatabaseProbeOutcome> ProbeAsync(DatabaseEndpoint endpoint, string connectHost, int connectPort, TimeSpan timeout, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        var builder = new NpgsqlConnectionStringBuilder
        {
            Host = connectHost,
            Port = connectPort,
            Database = endpoint.Database,
            Username = endpoint.User,
            Password = endpoint.Password,
            Timeout = Math.Max(1, (int)Math.Ceiling(timeout.TotalSeconds)),
            CommandTimeout = Math.Max(1, (int)Math.Ceiling(timeout.TotalSeconds)),
            Pooling = false,
            ApplicationName = "YieldVault.Ops",
        };
        if (endpoint.SslMode is { } mode && Enum.TryParse<SslMode>(mode.Replace("-", "", StringComparison.Ordinal), ignoreCase: true, out var sslMode))
        {
            builder.SslMode = sslMode;
        }

        var watch = Stopwatch.StartNew();
        using var timeoutSource = new CancellationTokenSource(timeout);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeoutSource.Token);
        try
        {
            await using var connection = new NpgsqlConnection(builder.ConnectionString);
            await connection.OpenAsync(linked.Token).ConfigureAwait(false);
            await using var command = new NpgsqlCommand("SELECT 1", connection);
            await command.ExecuteScalarAsync(linked.Token).ConfigureAwait(false);
            return new DatabaseProbeOutcome { Success = true, LatencyMs = watch.Elapsed.TotalMilliseconds, ServerVersion = connection.PostgreSqlVersion.ToString() };
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return Fail(ErrorIds.DependencyTimeout, $"no answer from {endpoint} within {timeout.TotalSeconds:0.#} s", watch);
        }
        catch (PostgresException ex) when (ex.SqlState is "28P01" or "28000")
        {
            return Fail(ErrorIds.DependencyAuthFailed, $"{endpoint} refused the login of user '{endpoint.User}' ({ex.SqlState}: password or pg_hba.conf)", watch);
        }
        catch (PostgresException ex) when (ex.SqlState == "3D000")
        {
            return Fail(ErrorIds.DependencyFailed, $"the database '{endpoint.Database}' does not exist on {endpoint.Host}:{endpoint.Port}", watch);
        }
        catch (PostgresException ex)
        {
            return Fail(ErrorIds.DependencyFailed, $"{endpoint} answered {ex.SqlState}: {ex.MessageText}", watch);
        }
        catch (NpgsqlException ex) when (Find<SocketException>(ex) is { } socket)
        {
            return socket.SocketErrorCode switch
            {
                SocketError.ConnectionRefused => Fail(ErrorIds.DependencyRefused, $"{endpoint.Host}:{endpoint.Port} refused the connection (is PostgreSQL running?)", watch),
                SocketError.HostNotFound or SocketError.TryAgain or SocketError.NoData => Fail(ErrorIds.DependencyDnsFailed, $"the host name '{endpoint.Host}' could not be resolved", watch),
                SocketError.TimedOut => Fail(ErrorIds.DependencyTimeout, $"connecting to {endpoint.Host}:{endpoint.Port} timed out", watch),
                _ => Fail(ErrorIds.DependencyFailed, $"could not connect to {endpoint.Host}:{endpoint.Port}: {socket.SocketErrorCode}", watch),
            };
        }
        catch (NpgsqlException ex) when (ex.InnerException is TimeoutException || ex.Message.Contains("Timeout", StringComparison.OrdinalIgnoreCase))
        {
            return Fail(ErrorIds.DependencyTimeout, $"no answer from {endpoint} within {timeout.TotalSeconds:0.#} s", watch);
        }
        catch (NpgsqlException ex)
        {
            // Through an SSH forward a refused far end shows up as a closed stream, not a SocketException.
            return Fail(ErrorIds.DependencyRefused, $"could not talk to {endpoint.Host}:{endpoint.Port}: {ex.Message}", watch);
        }
    }

    private static DatabaseProbeOutcome Fail(string errorId, string reason, Stopwatch watch) =>
        new() { Success = false, ErrorId = errorId, Reason = reason, LatencyMs = watch.Elapsed.TotalMilliseconds };

    private static T? Find<T>(Exception? ex)
        where T : Exception
    {
        while (ex is not null)
        {
            if (ex is T match)
            {
                return match;
            }

            ex = ex.InnerException;
        }

        return null;
    }
}
