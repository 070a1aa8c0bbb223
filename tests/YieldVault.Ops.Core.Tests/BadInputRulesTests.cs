using System;
using System.Collections;
using System.IO;
using System.Threading;
using System.Threading.Tasks;
using YieldVault.Ops;
using YieldVault.Ops.Hosts;
using YieldVault.Ops.Releases;
using YieldVault.Ops.Runbook;

namespace YieldVault.Ops.Core.Tests;

/// <summary>The pure-logic side of tests/pester/BadInput.Tests.ps1: hostile values refused early, or kept as data.</summary>
public class BadInputRulesTests
{
    private static readonly string Hex = string.Concat(System.Linq.Enumerable.Repeat("ab", 32));

    [Theory]
    [InlineData("v1.3.0\n")]
    [InlineData("main\n")]
    [InlineData("v1.3.0\r\n")]
    public void A_ref_with_a_trailing_newline_is_not_a_ref(string value)
    {
        // .NET's $ matches before a final newline; the rules end in \z.
        Assert.False(GitRefs.IsValid(value));
        Assert.True(GitRefs.IsValid(value.TrimEnd()));
    }

    [Theory]
    [InlineData("Name", "prod-1\n")]
    [InlineData("ServiceName", "yieldvault-backend\n")]
    [InlineData("User", "yvops\n")]
    [InlineData("HostName", "app1.internal\n")]
    [InlineData("HostName", "-oProxyCommand=touch /tmp/x")]
    [InlineData("User", "-oProxyCommand=x")]
    [InlineData("AppPath", "/app/../etc")]
    [InlineData("EnvFile", ".env\ntouch /tmp/x")]
    [InlineData("HostKeyFingerprint", "SHA256:;touch /tmp/x")]
    public void Hostile_target_settings_are_refused(string key, string value)
    {
        var settings = new Hashtable(StringComparer.OrdinalIgnoreCase) { ["Name"] = "t1", ["HostName"] = "app1.internal", ["User"] = "deploy", ["HostKeyFingerprint"] = "SHA256:" + new string('A', 43) };
        settings[key] = value;
        var ex = Assert.Throws<VaultException>(() => TargetBuilder.Build(settings, "test"));
        Assert.Equal("TargetConfigInvalid", ex.ErrorId);
    }

    [Theory]
    [InlineData(-5)]
    [InlineData(0)]
    [InlineData(86401)]
    public void A_command_timeout_out_of_range_is_refused_for_local_targets_too(int seconds)
    {
        var settings = new Hashtable { ["Name"] = "t1", ["CommandTimeoutSec"] = seconds };
        var ex = Assert.Throws<VaultException>(() => TargetBuilder.Build(settings, "test"));
        Assert.Contains("'CommandTimeoutSec'", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_checksum_with_a_trailing_newline_is_refused()
    {
        var ex = Assert.Throws<VaultException>(() => ArtifactReleaseSource.Validate("/tmp/a.tar.gz", Hex + "\n"));
        Assert.Equal("InvalidChecksum", ex.ErrorId);
    }

    [Fact]
    public void An_artifact_url_with_credentials_is_refused_without_repeating_them()
    {
        var ex = Assert.Throws<VaultException>(() => ArtifactReleaseSource.Validate("https://deploy:Hunter2-Secret@artifacts.example.invalid/a.tgz", Hex));
        Assert.Equal("InvalidArtifact", ex.ErrorId);
        Assert.DoesNotContain("Hunter2", ex.Message, StringComparison.Ordinal);
        Assert.Contains("***@artifacts.example.invalid/a.tgz", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/srv/app/../../etc")]
    [InlineData("app")]
    [InlineData("/srv/app\ntouch /tmp/x")]
    public void A_migration_directory_must_be_absolute_without_dot_dot(string directory)
    {
        var ex = Assert.Throws<VaultException>(() => Migrations.ValidateDirectory(directory));
        Assert.Equal("InvalidPath", ex.ErrorId);
    }

    [Fact]
    public void A_known_hosts_file_that_never_ends_is_refused()
    {
        var ex = Assert.Throws<VaultException>(() => KnownHosts.Load("/dev/zero"));
        Assert.Equal("KnownHostsInvalid", ex.ErrorId);
    }

    [Fact]
    public async Task A_migration_reads_the_env_file_as_data_without_dotenv()
    {
        var dir = Directory.CreateTempSubdirectory("yv-badinput-env-").FullName;
        var marker = Path.Combine(dir, "pwned");
        try
        {
            File.WriteAllText(Path.Combine(dir, ".env"), string.Join("\n",
                $"A=$(touch {marker}-a)", $"B=`touch {marker}-b`", $"export C=$(touch {marker}-c)", $"MY-KEY=$(touch {marker}-d)", $"touch {marker}-e",
                $"D='$(touch {marker}-f)'", "  E = \"quoted # kept\"  ", "F=plain # comment", "G=a=b"));
            using var shell = new LocalShell();
            var result = await Migrations.RunAsync(new VaultTarget { Name = "t1" }, shell, new SecretRedactor(), MigrationAction.Deploy, dir,
                new[] { "sh", "-c", "printf '%s|' \"$A\" \"$B\" \"$C\" \"$D\" \"$E\" \"$F\" \"$G\"" }, CancellationToken.None);
            Assert.NotNull(result);
            Assert.Equal(0, result!.ExitCode);
            Assert.Equal($"$(touch {marker}-a)|touch {marker}-b|$(touch {marker}-c)|$(touch {marker}-f)|quoted # kept|plain|a=b|", result.Output);
            Assert.Empty(Directory.GetFiles(dir, "pwned*"));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
