using System.Collections;
using YieldVault.Ops;

namespace YieldVault.Ops.Core.Tests;

public class TargetConfigFileTests
{
    [Fact]
    public void Defaults_apply_to_every_target_and_targets_override_them()
    {
        var document = new Hashtable
        {
            ["Defaults"] = new Hashtable { ["Environment"] = "staging", ["Port"] = 3100 },
            ["Targets"] = new object[]
            {
                new Hashtable { ["Name"] = "a" },
                new Hashtable { ["Name"] = "b", ["Port"] = 3200, ["Environment"] = "production" },
            },
        };
        var targets = TargetConfigFile.Read(document, "/cfg/targets.psd1");
        Assert.Equal(2, targets.Count);
        Assert.Equal(("staging", 3100), (targets[0].Environment, targets[0].Port));
        Assert.Equal(("production", 3200), (targets[1].Environment, targets[1].Port));
    }

    [Fact]
    public void Duplicate_names_are_refused()
    {
        var document = new Hashtable { ["Targets"] = new object[] { new Hashtable { ["Name"] = "a" }, new Hashtable { ["Name"] = "A" } } };
        var ex = Assert.Throws<VaultException>(() => TargetConfigFile.Read(document, "t.psd1"));
        Assert.Contains("more than one target", ex.Message);
    }

    [Fact]
    public void A_file_without_targets_or_with_other_keys_is_refused()
    {
        Assert.Contains("no 'Targets' key", Assert.Throws<VaultException>(() => TargetConfigFile.Read(new Hashtable(), "t.psd1")).Message);
        Assert.Contains("unknown top-level key 'Target'",
            Assert.Throws<VaultException>(() => TargetConfigFile.Read(new Hashtable { ["Target"] = new Hashtable() }, "t.psd1")).Message);
    }

    [Fact]
    public void A_target_that_is_not_a_hashtable_is_named_by_position()
    {
        var ex = Assert.Throws<VaultException>(() => TargetConfigFile.Read(new Hashtable { ["Targets"] = new object[] { new Hashtable { ["Name"] = "a" }, "oops" } }, "t.psd1"));
        Assert.Contains("target #2", ex.Message);
    }

    [Fact]
    public void A_single_hashtable_is_accepted_as_one_target()
    {
        var targets = TargetConfigFile.Read(new Hashtable { ["Targets"] = new Hashtable { ["Name"] = "solo" } }, "t.psd1");
        Assert.Equal("solo", Assert.Single(targets).Name);
    }
}
