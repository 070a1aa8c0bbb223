using System;
using System.Collections;
using System.IO;
using System.Net;
using System.Net.Sockets;
using System.Threading;
using System.Threading.Tasks;
using YieldVault.Ops;
using YieldVault.Ops.Hosts;
using YieldVault.Ops.Probes;
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
    [InlineData("HealthPath", "//evil.example/h")]
    [InlineData("HealthPath", "/\\evil.example/h")]
    [InlineData("HealthPath", "/health#/\\evil.example")]
    [InlineData("ReadyPath", "/\\evil.example/r")]
    [InlineData("ReadyPath", "//evil.example/r")]
    [InlineData("VersionPath", "/\\evil.example/v")]
    [InlineData("VersionPath", "/version\\..\\x")]
    public void Hostile_target_settings_are_refused(string key, string value)
    {
        // A valid SSH target but for the one key (the key file exists), so the refusal is the key's own.
        var keyFile = Path.GetTempFileName();
        var settings = new Hashtable(StringComparer.OrdinalIgnoreCase)
        {
            ["Name"] = "t1", ["HostName"] = "app1.internal", ["User"] = "deploy", ["KeyFile"] = keyFile, ["HostKeyFingerprint"] = "SHA256:" + new string('A', 43),
        };
        settings[key] = value;
        try
        {
            var ex = Assert.Throws<VaultException>(() => TargetBuilder.Build(settings, "test"));
            Assert.Equal("TargetConfigInvalid", ex.ErrorId);
            Assert.Contains($"key '{key}'", ex.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(keyFile);
        }
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

    [Theory]
    [InlineData("config/prod.env", "config/prod.env")]
    [InlineData("production.env", "production.env")]
    [InlineData("ABSOLUTE", "elsewhere/backend.env")]
    public async Task A_migration_loads_the_targets_EnvFile_not_dot_env(string envFile, string whereItIs)
    {
        var dir = Directory.CreateTempSubdirectory("yv-migration-envfile-").FullName;
        try
        {
            var path = Path.Combine(dir, whereItIs);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllText(path, "YV_FROM=the target's EnvFile\nexport YV_DOTTED.KEY=kept\nYV_HASH=a#b\n");
            File.WriteAllText(Path.Combine(dir, ".env"), "YV_FROM=./.env\n");
            var target = new VaultTarget { Name = "t1", AppPath = dir, EnvFile = envFile == "ABSOLUTE" ? path : envFile };
            using var shell = new LocalShell();
            var result = await Migrations.RunAsync(target, shell, new SecretRedactor(), MigrationAction.Deploy, dir,
                new[] { "sh", "-c", "printf '%s|%s' \"$YV_FROM\" \"$YV_HASH\"" }, CancellationToken.None);
            Assert.Equal(0, result!.ExitCode);
            Assert.Equal("the target's EnvFile|a", result.Output);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Theory]
    [InlineData("//{0}/h")]
    [InlineData("/\\{0}/h")]
    [InlineData("/\\/{0}/h")]
    [InlineData("http://{0}/h")]
    [InlineData("\\\\{0}/h")]
    public async Task A_probe_path_that_names_another_host_is_refused_before_any_request(string template)
    {
        // The "other host" listens on loopback: a probe that followed the path would connect to it.
        var other = new TcpListener(IPAddress.Loopback, 0);
        other.Start();
        try
        {
            var path = string.Format(System.Globalization.CultureInfo.InvariantCulture, template, "localhost:" + ((IPEndPoint)other.LocalEndpoint).Port);
            var tunnel = new Uri("http://127.0.0.1:9/");
            var ex = await Assert.ThrowsAsync<VaultException>(() => HealthProbe.GetAsync(tunnel, path, TimeSpan.FromSeconds(2), CancellationToken.None));
            Assert.Equal("TargetInvalid", ex.ErrorId);
            Assert.Throws<VaultException>(() => DowntimeMonitor.Start(tunnel, path, TimeSpan.FromMilliseconds(25), CancellationToken.None));
            Assert.False(other.Pending(), "the probe connected to the other host");
        }
        finally
        {
            other.Stop();
        }
    }

    [Theory]
    [InlineData("HealthPath")]
    [InlineData("ReadyPath")]
    [InlineData("VersionPath")]
    public async Task A_target_object_whose_probe_path_names_another_host_is_refused_by_the_probes(string key)
    {
        // A VaultTarget built in code skips the settings check; the probes check again.
        var other = new TcpListener(IPAddress.Loopback, 0);
        other.Start();
        try
        {
            var path = "/\\localhost:" + ((IPEndPoint)other.LocalEndpoint).Port + "/x";
            var target = key switch
            {
                "HealthPath" => new VaultTarget { Name = "t1", Port = 9, HealthPath = path },
                "ReadyPath" => new VaultTarget { Name = "t1", Port = 9, ReadyPath = path },
                _ => new VaultTarget { Name = "t1", Port = 9, VersionPath = path },
            };
            using var shell = new LocalShell();
            var ex = await Assert.ThrowsAsync<VaultException>(async () =>
            {
                if (key == "VersionPath")
                {
                    await VersionProbe.GetAsync(target, shell, TimeSpan.FromSeconds(2), CancellationToken.None);
                }
                else
                {
                    await HealthProbe.CheckAsync(target, shell, checkReady: true, TimeSpan.FromSeconds(2), CancellationToken.None);
                }
            });
            Assert.Equal("TargetInvalid", ex.ErrorId);
            Assert.False(other.Pending(), "the probe connected to the other host");
        }
        finally
        {
            other.Stop();
        }
    }
}
