using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;

namespace YieldVault.Ops.Runbook;

/// <summary>One -BatchSize value: a count of targets, or a percentage of all the roll's targets.</summary>
public readonly struct RollBatchSize : IEquatable<RollBatchSize>
{
    public RollBatchSize(int value, bool isPercent)
    {
        Value = value;
        IsPercent = isPercent;
    }

    public int Value { get; }

    public bool IsPercent { get; }

    /// <summary>The number of targets this size means in a roll of <paramref name="total"/> targets: a percentage rounded up, at least 1.</summary>
    public int For(int total) => IsPercent ? Math.Max(1, (int)Math.Ceiling(total * Value / 100.0)) : Value;

    public override string ToString() => Value.ToString(CultureInfo.InvariantCulture) + (IsPercent ? "%" : "");

    public bool Equals(RollBatchSize other) => Value == other.Value && IsPercent == other.IsPercent;

    public override bool Equals(object? obj) => obj is RollBatchSize other && Equals(other);

    public override int GetHashCode() => (Value * 397) ^ (IsPercent ? 1 : 0);

    public static bool operator ==(RollBatchSize left, RollBatchSize right) => left.Equals(right);

    public static bool operator !=(RollBatchSize left, RollBatchSize right) => !left.Equals(right);
}

/// <summary>
/// How a roll's targets are cut into batches. -BatchSize is a list: each value is a count ("2") or a percentage of all
/// the targets ("25%"); the values are the first batches in order and the last one repeats ("1,25%": a canary of one,
/// then a quarter at a time). -CanaryFirst puts a batch of one in front. Targets keep their pipeline order.
/// </summary>
public static class RollBatches
{
    /// <summary>Parses -BatchSize values ("3", "25%", also "1,25%" in one string); throws <c>InvalidBatchSize</c>.</summary>
    public static IReadOnlyList<RollBatchSize> Parse(IEnumerable<string>? values)
    {
        var sizes = new List<RollBatchSize>();
        foreach (var raw in (values ?? Array.Empty<string>()).SelectMany(v => (v ?? "").Split(',')))
        {
            var text = raw.Trim();
            var percent = text.EndsWith("%", StringComparison.Ordinal);
            var number = percent ? text.Substring(0, text.Length - 1).Trim() : text;
            if (!int.TryParse(number, NumberStyles.None, CultureInfo.InvariantCulture, out var value) || value < 1 || (percent && value > 100) || value > 100000)
            {
                throw new VaultException(ErrorIds.InvalidBatchSize, VaultErrorKind.InvalidArgument,
                    $"-BatchSize '{raw.Trim()}' is neither a count of targets (1 or more) nor a percentage of them (1%-100%). Nothing was changed.",
                    "Give -BatchSize 2, -BatchSize 25%, or a canary first and then a size: -BatchSize 1,25%.");
            }

            sizes.Add(new RollBatchSize(value, percent));
        }

        return sizes;
    }

    /// <summary>
    /// The lengths of the batches of a roll over <paramref name="total"/> targets (they add up to it). No size at all
    /// means one target at a time.
    /// </summary>
    public static IReadOnlyList<int> Lengths(int total, IReadOnlyList<RollBatchSize> sizes, bool canaryFirst)
    {
        if (total < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(total), total, "A roll has no negative number of targets.");
        }

        var plan = new List<RollBatchSize>();
        if (canaryFirst)
        {
            plan.Add(new RollBatchSize(1, isPercent: false));
        }

        plan.AddRange(sizes);
        if (plan.Count == 0 || (canaryFirst && sizes.Count == 0))
        {
            plan.Add(new RollBatchSize(1, isPercent: false));
        }

        var lengths = new List<int>();
        var left = total;
        for (var i = 0; left > 0; i++)
        {
            var length = Math.Min(left, plan[Math.Min(i, plan.Count - 1)].For(total));
            lengths.Add(length);
            left -= length;
        }

        return lengths;
    }

    /// <summary>The targets cut into batches of <see cref="Lengths"/>, in their order.</summary>
    public static IReadOnlyList<IReadOnlyList<T>> Split<T>(IReadOnlyList<T> items, IReadOnlyList<RollBatchSize> sizes, bool canaryFirst)
    {
        var batches = new List<IReadOnlyList<T>>();
        var at = 0;
        foreach (var length in Lengths(items.Count, sizes, canaryFirst))
        {
            batches.Add(items.Skip(at).Take(length).ToList());
            at += length;
        }

        return batches;
    }
}
