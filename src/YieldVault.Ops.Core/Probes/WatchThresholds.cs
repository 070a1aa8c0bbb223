using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;

namespace YieldVault.Ops.Probes;

/// <summary>
/// When a watch fails (Watch-VaultBackend -FailOn, a deployment's -WatchSec): each threshold is the most the watch
/// tolerates; a reading above any of them is a breach. Unset thresholds are not checked.
/// </summary>
public sealed class WatchThresholds
{
    /// <summary>The names -FailOn accepts.</summary>
    public static readonly IReadOnlyList<string> Names = new[] { "FailedHealthChecks", "Errors", "ErrorsPerMinute", "Restarts", "MemoryMB", "LatencyMs" };

    /// <summary>A deployment's watch: any failed health check, any restart and any error line rolls back.</summary>
    public static WatchThresholds Deployment { get; } = new() { FailedHealthChecks = 0, Restarts = 0, Errors = 0 };

    public double? FailedHealthChecks { get; init; }

    public double? Errors { get; init; }

    public double? ErrorsPerMinute { get; init; }

    public double? Restarts { get; init; }

    public double? MemoryMB { get; init; }

    public double? LatencyMs { get; init; }

    public bool Any => Names.Any(n => Get(n) is not null);

    /// <summary>From -FailOn's names and values; an unknown name or a negative value is <see cref="ErrorIds.InvalidThreshold"/>.</summary>
    public static WatchThresholds From(IEnumerable<KeyValuePair<string, double>> values)
    {
        var map = new Dictionary<string, double>(StringComparer.OrdinalIgnoreCase);
        foreach (var pair in values)
        {
            var name = Names.FirstOrDefault(n => string.Equals(n, pair.Key, StringComparison.OrdinalIgnoreCase))
                ?? throw new VaultException(ErrorIds.InvalidThreshold, VaultErrorKind.InvalidArgument,
                    $"-FailOn names '{pair.Key}', which is not a measure of the watch: use {string.Join(", ", Names)}.");
            if (double.IsNaN(pair.Value) || pair.Value < 0)
            {
                throw new VaultException(ErrorIds.InvalidThreshold, VaultErrorKind.InvalidArgument, $"-FailOn {name} must be a number of 0 or more.");
            }

            map[name] = pair.Value;
        }

        double? Of(string name) => map.TryGetValue(name, out var v) ? v : null;
        return new WatchThresholds
        {
            FailedHealthChecks = Of("FailedHealthChecks"), Errors = Of("Errors"), ErrorsPerMinute = Of("ErrorsPerMinute"),
            Restarts = Of("Restarts"), MemoryMB = Of("MemoryMB"), LatencyMs = Of("LatencyMs"),
        };
    }

    /// <summary>The thresholds <paramref name="sample"/> crosses ("Restarts 1 > 0").</summary>
    public IReadOnlyList<string> Breaches(VaultWatchSample sample)
    {
        var found = new List<string>();
        void Check(string name, double? value, double? limit)
        {
            if (limit is { } max && value is { } v && v > max)
            {
                found.Add(string.Format(CultureInfo.InvariantCulture, "{0} {1:0.##} > {2:0.##}", name, v, max));
            }
        }

        Check("FailedHealthChecks", sample.FailedHealthChecks, FailedHealthChecks);
        Check("Errors", sample.Errors, Errors);
        Check("ErrorsPerMinute", sample.ErrorsPerMinute, ErrorsPerMinute);
        Check("Restarts", sample.Restarts, Restarts);
        Check("MemoryMB", sample.MemoryMB, MemoryMB);
        Check("LatencyMs", sample.StatusCode is null ? null : sample.LatencyMs, LatencyMs);
        return found;
    }

    /// <summary>"FailedHealthChecks > 0, Restarts > 0".</summary>
    public override string ToString() =>
        string.Join(", ", Names.Where(n => Get(n) is not null).Select(n => string.Format(CultureInfo.InvariantCulture, "{0} > {1:0.##}", n, Get(n))));

    private double? Get(string name) => name switch
    {
        "FailedHealthChecks" => FailedHealthChecks,
        "Errors" => Errors,
        "ErrorsPerMinute" => ErrorsPerMinute,
        "Restarts" => Restarts,
        "MemoryMB" => MemoryMB,
        _ => LatencyMs,
    };
}
