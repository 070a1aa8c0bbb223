using System;
using System.Linq;
using YieldVault.Ops;
using YieldVault.Ops.Probes;

namespace YieldVault.Ops.Core.Tests;

public class HealthWaiterScheduleTests
{
    [Fact]
    public void Polls_at_most_100_ms_apart_for_the_first_two_seconds_then_back_off_to_the_interval()
    {
        var interval = TimeSpan.FromSeconds(2);
        var elapsed = TimeSpan.Zero;
        var delay = HealthWaiter.FirstDelay;
        var gaps = new System.Collections.Generic.List<(TimeSpan At, TimeSpan Gap)>();
        while (elapsed < TimeSpan.FromSeconds(30))
        {
            delay = HealthWaiter.NextDelay(elapsed, delay, interval);
            gaps.Add((elapsed, delay));
            elapsed += delay;
        }

        Assert.All(gaps.Where(g => g.At < TimeSpan.FromSeconds(2)), g => Assert.True(g.Gap <= TimeSpan.FromMilliseconds(100), $"gap {g.Gap} at {g.At}"));
        Assert.Equal(TimeSpan.FromMilliseconds(25), gaps[0].Gap);
        Assert.Equal(interval, gaps[^1].Gap);
        Assert.True(gaps.Count < 60, $"{gaps.Count} polls in 30 s is too many");
    }

    [Fact]
    public void Never_waits_longer_than_a_short_interval()
    {
        Assert.Equal(TimeSpan.FromMilliseconds(10), HealthWaiter.NextDelay(TimeSpan.Zero, HealthWaiter.FirstDelay, TimeSpan.FromMilliseconds(10)));
        Assert.Equal(TimeSpan.FromMilliseconds(50), HealthWaiter.NextDelay(TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(1), TimeSpan.FromMilliseconds(50)));
    }

    [Fact]
    public void Describe_names_the_failing_checks()
    {
        var result = new VaultHealthResult
        {
            StatusCode = 503, Status = "unhealthy", Ready = false,
            Checks = new System.Collections.Generic.Dictionary<string, string> { ["database"] = "up", ["stellarRpc"] = "down" },
        };
        Assert.Equal("HTTP 503 unhealthy (database=up stellarRpc=down), not ready", HealthWaiter.Describe(result));
        Assert.Equal("no answer", HealthWaiter.Describe(new VaultHealthResult()));
    }
}

public class LogParserTests
{
    private static readonly VaultTarget Target = new() { Name = "t", Port = 3000 };

    [Theory]
    [InlineData("2026-11-26T04:00:00.123Z INFO Server started on port 3000", VaultLogLevel.Info, "Server started on port 3000", "2026-11-26T04:00:00.1230000+00:00")]
    [InlineData("2026-11-26T04:00:01.000Z ERROR Database connection failed (db:5432/x): connect ECONNREFUSED", VaultLogLevel.Error, "Database connection failed (db:5432/x): connect ECONNREFUSED", "2026-11-26T04:00:01.0000000+00:00")]
    [InlineData("2026-11-26T04:00:02.000Z WARN Drain timeout after 1000 ms", VaultLogLevel.Warning, "Drain timeout after 1000 ms", "2026-11-26T04:00:02.0000000+00:00")]
    [InlineData("2026-11-26T04:00:00+0000 app1 node[812]: 2026-11-26T04:00:00.500Z INFO Database connected", VaultLogLevel.Info, "Database connected", "2026-11-26T04:00:00.5000000+00:00")]
    [InlineData("2026-11-26T04:00:03.123456789Z 2026-11-26T04:00:03.100Z ERROR boom", VaultLogLevel.Error, "boom", "2026-11-26T04:00:03.1000000+00:00")]
    [InlineData("2026-11-26T04:00:04: plain line from pm2", VaultLogLevel.Info, "plain line from pm2", "2026-11-26T04:00:04.0000000+00:00")]
    [InlineData("Error: listen EADDRINUSE: address already in use :::3000", VaultLogLevel.Error, "Error: listen EADDRINUSE: address already in use :::3000", null)]
    [InlineData("(node:12) Warning: something deprecated", VaultLogLevel.Warning, "(node:12) Warning: something deprecated", null)]
    public void Parses_every_source_format(string line, VaultLogLevel level, string message, string? time)
    {
        var entry = LogParser.Parse(line, "file", Target);
        Assert.Equal(level, entry.Level);
        Assert.Equal(message, entry.Message);
        Assert.Equal(time, entry.Time?.ToString("O", System.Globalization.CultureInfo.InvariantCulture));
        Assert.Same(Target, entry.Target);
    }

    [Theory]
    [InlineData("    at Server.<anonymous> (/app/dist/server.js:41:13)")]
    [InlineData("2026-11-26T04:00:00.000Z ERROR Unhandled error: TypeError: x is undefined | at handle (/app/dist/server.js:10:5) | at process")]
    public void Recognises_stack_traces(string line)
    {
        var entry = LogParser.Parse(line, "file", Target);
        Assert.True(entry.IsStackTrace);
        Assert.Equal(VaultLogLevel.Error, entry.Level);
    }

    [Fact]
    public void Verify_judges_only_the_last_start()
    {
        var lines = new[]
        {
            "2026-11-26T03:00:00.000Z INFO Starting yieldvault-backend 1.2.2",
            "2026-11-26T03:00:01.000Z ERROR Database connection failed: old problem",
            "2026-11-26T04:00:00.000Z INFO Starting yieldvault-backend 1.2.3",
            "2026-11-26T04:00:00.100Z INFO Database connected",
            "2026-11-26T04:00:00.200Z INFO Stellar RPC connected",
            "2026-11-26T04:00:00.300Z INFO Server started on port 3000",
        };
        var entries = lines.Select(l => LogParser.Parse(l, "file", Target)).ToList();
        var verification = LogParser.Verify(entries, LogParser.DefaultMarkers(Target), Target, "file");
        Assert.True(verification.Passed);
        Assert.Equal(3, verification.MarkersFound.Count);
        Assert.Equal(4, verification.LinesExamined);
    }

    [Fact]
    public void Verify_reports_missing_markers_errors_and_stack_traces()
    {
        var lines = new[]
        {
            "2026-11-26T04:00:00.000Z INFO Starting yieldvault-backend 1.3.1",
            "2026-11-26T04:00:00.100Z ERROR Stellar RPC connection failed: timed out",
            "    at Timeout._onTimeout (/app/dist/stellar.js:20:9)",
            "2026-11-26T04:00:00.300Z INFO Server started on port 3000",
        };
        var verification = LogParser.Verify(lines.Select(l => LogParser.Parse(l, "file", Target)).ToList(), LogParser.DefaultMarkers(Target), Target, "file");
        Assert.False(verification.Passed);
        Assert.Equal(new[] { "Database connected", "Stellar RPC connected" }, verification.MarkersMissing);
        Assert.Equal(2, verification.ErrorCount);
        Assert.Equal(1, verification.StackTraceCount);
        Assert.Equal("Stellar RPC connection failed: timed out", verification.FirstError);
    }
}

public class EnvironmentFileTests
{
    [Fact]
    public void Parses_dotenv_syntax()
    {
        var text = "# comment\nexport A=1\nB = two words # trailing\nC=\"quoted # not a comment\"\nD='single'\nE=\"multi\nline\"\n  F=x=y\nnot an assignment\n9BAD=x\nG=\n";
        var values = EnvironmentFiles.Parse(text);
        Assert.Equal("1", values["A"]);
        Assert.Equal("two words", values["B"]);
        Assert.Equal("quoted # not a comment", values["C"]);
        Assert.Equal("single", values["D"]);
        Assert.Equal("multi\nline", values["E"]);
        Assert.Equal("x=y", values["F"]);
        Assert.Equal("", values["G"]);
        // dotenv's keys are [\w.-]+: a leading digit is a key too (EnvironmentFilesDotenvTests compares with dotenv itself).
        Assert.Equal("x", values["9BAD"]);
        Assert.Equal(8, values.Count);
    }
}

public class DatabaseEndpointTests
{
    [Fact]
    public void Parses_a_database_url_and_shows_it_without_credentials()
    {
        var endpoint = DatabaseEndpoint.Parse("postgresql://yv:p%40ss%3Aword@db.internal:6432/vault?sslmode=require");
        Assert.Equal(("db.internal", 6432, "vault", "yv", "p@ss:word", "require"),
            (endpoint.Host, endpoint.Port, endpoint.Database, endpoint.User, endpoint.Password, endpoint.SslMode));
        Assert.Equal("db.internal:6432/vault", endpoint.ToString());
    }

    [Fact]
    public void Defaults_the_port_and_refuses_other_schemes_without_echoing_the_url()
    {
        Assert.Equal(5432, DatabaseEndpoint.Parse("postgres://u:p@h/d").Port);
        var ex = Assert.Throws<VaultException>(() => DatabaseEndpoint.Parse("mysql://u:s3cret@h/d"));
        Assert.Equal("DependencyConfigInvalid", ex.ErrorId);
        Assert.DoesNotContain("s3cret", ex.Message);
    }
}

public class EnvironmentSecretTests
{
    [Theory]
    [InlineData("DATABASE_URL", "postgres://u:p@h/d", true)]
    [InlineData("ADMIN_API_KEY", "k3y-value", true)]
    [InlineData("VAULT_CONTRACT_ID", "CABCDEF", true)]
    [InlineData("PORT", "3000", false)]
    [InlineData("NODE_ENV", "production", false)]
    [InlineData("FEATURE_X", "true", false)]
    [InlineData("RETRIES", "5", false)]
    public void Only_plain_settings_are_not_secrets(string key, string value, bool secret)
    {
        Assert.Equal(secret, EnvironmentFiles.IsSecret(key, value));
    }
}
