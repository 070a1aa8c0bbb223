using System;
using System.Globalization;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;

namespace YieldVault.Ops.Probes;

/// <summary>Where a PostgreSQL database is, from a DATABASE_URL. The password is a secret: never shown.</summary>
public sealed class DatabaseEndpoint
{
    public string Host { get; init; } = "";

    public int Port { get; init; } = 5432;

    public string Database { get; init; } = "";

    public string User { get; init; } = "";

    public string Password { get; init; } = "";

    /// <summary>The URL's sslmode (disable, prefer, require, verify-ca, verify-full), or null.</summary>
    public string? SslMode { get; init; }

    /// <summary>"host:port/database" — what messages show.</summary>
    public override string ToString() => $"{Host}:{Port.ToString(CultureInfo.InvariantCulture)}/{Database}";

    /// <summary>Parses postgres:// and postgresql:// URLs. Errors never contain the URL (it holds the password).</summary>
    public static DatabaseEndpoint Parse(string url)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || (uri.Scheme != "postgres" && uri.Scheme != "postgresql"))
        {
            throw new VaultException(ErrorIds.DependencyConfigInvalid, VaultErrorKind.InvalidData,
                "DATABASE_URL is not a postgres:// or postgresql:// URL.", "Fix DATABASE_URL in the env file.");
        }

        var userInfo = uri.UserInfo.Split(new[] { ':' }, 2);
        var query = uri.Query.TrimStart('?').Split('&').Select(p => p.Split(new[] { '=' }, 2)).Where(p => p.Length == 2)
            .ToDictionary(p => Uri.UnescapeDataString(p[0]), p => Uri.UnescapeDataString(p[1]), StringComparer.OrdinalIgnoreCase);
        return new DatabaseEndpoint
        {
            Host = uri.Host.Trim('[', ']'),
            Port = uri.IsDefaultPort || uri.Port <= 0 ? 5432 : uri.Port,
            Database = Uri.UnescapeDataString(uri.AbsolutePath.TrimStart('/')),
            User = Uri.UnescapeDataString(userInfo[0]),
            Password = userInfo.Length > 1 ? Uri.UnescapeDataString(userInfo[1]) : "",
            SslMode = query.TryGetValue("sslmode", out var ssl) ? ssl : null,
        };
    }
}

/// <summary>The outcome of one database check.</summary>
public sealed class DatabaseProbeOutcome
{
    public bool Success { get; init; }

    /// <summary>DependencyAuthFailed, DependencyDnsFailed, DependencyRefused, DependencyTimeout, DependencyFailed.</summary>
    public string? ErrorId { get; init; }

    public string? Reason { get; init; }

    public string? ServerVersion { get; init; }

    public double LatencyMs { get; init; }
}

/// <summary>Checks a PostgreSQL database with SELECT 1 (implemented with Npgsql in YieldVault.Ops.Postgres).</summary>
public interface IDatabaseProbe
{
    /// <param name="connectHost">Where to connect (may be a local SSH forward); <paramref name="endpoint"/> stays the name shown.</param>
    Task<DatabaseProbeOutcome> ProbeAsync(DatabaseEndpoint endpoint, string connectHost, int connectPort, TimeSpan timeout, CancellationToken cancellationToken);
}
