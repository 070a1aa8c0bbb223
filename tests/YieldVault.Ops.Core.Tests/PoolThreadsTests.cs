using Xunit;

namespace YieldVault.Ops.Core.Tests;

public class PoolThreadsTests
{
    [Theory]
    [InlineData(8, 2, 2, 18)]
    [InlineData(1, 2, 2, 4)]
    [InlineData(8, 2, 40, 40)]
    [InlineData(64, 2, 2, 130)]
    [InlineData(500, 2, 2, 256)]
    public void The_minimum_covers_the_targets_in_flight_and_is_never_lowered(int targets, int processors, int current, int expected) =>
        Assert.Equal(expected, YieldVault.Ops.Hosts.PoolThreads.MinimumFor(targets, processors, current));
}
