using System;
using System.Collections.Generic;
using System.Linq;
using YieldVault.Ops;
using YieldVault.Ops.Runbook;

namespace YieldVault.Ops.Core.Tests;

/// <summary>How a roll's targets are cut into batches, and how the progress of parallel runs is kept apart.</summary>
public sealed class RollBatchesTests
{
    [Theory]
    [InlineData(10, new[] { "3" }, false, new[] { 3, 3, 3, 1 })]
    [InlineData(10, new[] { "25%" }, false, new[] { 3, 3, 3, 1 })]
    [InlineData(4, new[] { "50%" }, false, new[] { 2, 2 })]
    [InlineData(4, new[] { "1", "25%" }, false, new[] { 1, 1, 1, 1 })]
    [InlineData(8, new[] { "1,50%" }, false, new[] { 1, 4, 3 })]
    [InlineData(4, new[] { "2" }, true, new[] { 1, 2, 1 })]
    [InlineData(4, new string[0], true, new[] { 1, 1, 1, 1 })]
    [InlineData(3, new string[0], false, new[] { 1, 1, 1 })]
    [InlineData(3, new[] { "100%" }, false, new[] { 3 })]
    [InlineData(3, new[] { "1%" }, false, new[] { 1, 1, 1 })]
    [InlineData(2, new[] { "5" }, false, new[] { 2 })]
    [InlineData(0, new[] { "5" }, false, new int[0])]
    public void Cuts_the_targets_into_batches_the_last_size_repeating(int total, string[] sizes, bool canary, int[] expected)
    {
        Assert.Equal(expected, RollBatches.Lengths(total, RollBatches.Parse(sizes), canary));
    }

    [Theory]
    [InlineData("0")]
    [InlineData("-1")]
    [InlineData("0%")]
    [InlineData("101%")]
    [InlineData("abc")]
    [InlineData("2.5")]
    [InlineData("")]
    [InlineData("1,,2")]
    public void Refuses_what_is_neither_a_count_nor_a_percentage(string size)
    {
        var ex = Assert.Throws<VaultException>(() => RollBatches.Parse(new[] { size }));
        Assert.Equal(ErrorIds.InvalidBatchSize, ex.ErrorId);
        Assert.Contains("Nothing was changed", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Keeps_the_targets_in_their_order()
    {
        var batches = RollBatches.Split(new[] { "a", "b", "c", "d", "e" }, RollBatches.Parse(new[] { "2" }), canaryFirst: true);
        Assert.Equal(new[] { "a|", "b|c|", "d|e|" }, batches.Select(b => string.Concat(b.Select(x => x + "|"))));
    }

    [Fact]
    public void Gives_each_run_of_a_roll_its_own_progress_ids_under_the_roll()
    {
        var seen = new List<(int Id, int Parent)>();
        var outer = new Recorder(seen);
        var first = new NestedReporter(outer, 0, 5000);
        var second = new NestedReporter(outer, 1, 5000);
        first.Progress(3100, "Deploying", "Step 1/10", 0);
        second.Progress(3100, "Deploying", "Step 1/10", 0);
        first.Progress(3101, "Waiting", "healthy?", 10, parentActivityId: 3100);
        Assert.Equal(5000, seen[0].Parent);
        Assert.Equal(5000, seen[1].Parent);
        Assert.NotEqual(seen[0].Id, seen[1].Id);
        Assert.Equal(seen[0].Id, seen[2].Parent);
        Assert.NotEqual(seen[0].Id, seen[2].Id);
    }

    private sealed class Recorder : IVaultReporter
    {
        private readonly List<(int Id, int Parent)> _seen;

        public Recorder(List<(int Id, int Parent)> seen) => _seen = seen;

        public void Verbose(string message)
        {
        }

        public void Warning(string message)
        {
        }

        public void Progress(int activityId, string activity, string status, int percent, int parentActivityId = -1, bool completed = false) =>
            _seen.Add((activityId, parentActivityId));
    }
}
