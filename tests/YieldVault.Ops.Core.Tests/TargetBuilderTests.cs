using System;
using System.Collections;
using System.IO;
using System.Security;
using YieldVault.Ops;

namespace YieldVault.Ops.Core.Tests;

public class TargetBuilderTests
{
    [Fact]
    public void A_local_target_gets_the_runbook_defaults()
    {
        var target = TargetBuilder.Build(new Hashtable { ["Name"] = "local-1" }, "test");
        Assert.Equal(TransportKind.Local, target.Transport);
        Assert.Equal(3000, target.Port);
        Assert.Equal("/app/yieldvault-backend", target.AppPath);
        Assert.Equal("/app/yieldvault-backend/.env", target.EnvFilePath);
        Assert.Equal("/var/log/yieldvault/backend.log", target.LogPath);
        Assert.Equal("/var/backups/yieldvault", target.BackupPath);
        Assert.Equal("yieldvault-backend", target.ServiceName);
        Assert.Equal(ServiceManagerKind.Systemd, target.ServiceManager);
        Assert.Equal(new[] { "STELLAR_RPC_URL", "VAULT_CONTRACT_ID", "DATABASE_URL" }, target.RequiredVariables);
        Assert.Equal("production", target.Environment);
        Assert.Equal("local-1 (local)", target.DisplayName);
    }

    [Fact]
    public void An_ssh_target_reads_every_setting()
    {
        var key = Path.GetTempFileName();
        try
        {
            var target = TargetBuilder.Build(new Hashtable
            {
                ["Name"] = "prod-1", ["Environment"] = "staging", ["HostName"] = "app1.internal", ["SshPort"] = 2222, ["User"] = "deploy",
                ["KeyFile"] = key, ["KnownHostsFile"] = "/tmp/kh", ["ConnectTimeoutSec"] = 5, ["CommandTimeoutSec"] = 60,
                ["ServiceManager"] = "pm2", ["Port"] = 3100, ["PublicUrl"] = "https://api.yieldvault.finance",
                ["RequiredVariables"] = new object[] { "A", "B_2" },
            }, "test");
            Assert.Equal(TransportKind.Ssh, target.Transport);
            Assert.Equal("app1.internal", target.HostName);
            Assert.Equal(2222, target.Ssh!.Port);
            Assert.Equal("deploy", target.Ssh.User);
            Assert.Equal(TimeSpan.FromSeconds(5), target.Ssh.ConnectTimeout);
            Assert.Equal(TimeSpan.FromSeconds(60), target.Ssh.CommandTimeout);
            Assert.Equal(ServiceManagerKind.Pm2, target.ServiceManager);
            Assert.Equal(3100, target.Port);
            Assert.Equal("https://api.yieldvault.finance/", target.PublicUrl!.ToString());
            Assert.Equal(new[] { "A", "B_2" }, target.RequiredVariables);
            Assert.Equal("prod-1 (deploy@app1.internal:2222)", target.DisplayName);
        }
        finally
        {
            File.Delete(key);
        }
    }

    [Theory]
    [InlineData("Pasword", "unknown key")]
    [InlineData("Password", "passwords are not read from files")]
    public void Unknown_keys_are_errors_that_name_the_key(string key, string expected)
    {
        var ex = Assert.Throws<VaultException>(() => TargetBuilder.Build(new Hashtable { ["Name"] = "t1", [key] = "x" }, "/etc/yv/targets.psd1"));
        Assert.Equal("TargetConfigInvalid", ex.ErrorId);
        Assert.Contains("/etc/yv/targets.psd1", ex.Message);
        Assert.Contains("'t1'", ex.Message);
        Assert.Contains($"'{key}'", ex.Message);
        Assert.Contains(expected, ex.Message);
    }

    [Theory]
    [InlineData("Port", "abc", "Port")]
    [InlineData("Port", 70000, "Port")]
    [InlineData("AppPath", "relative/path", "AppPath")]
    [InlineData("AppPath", "/app/../etc", "AppPath")]
    [InlineData("ServiceManager", "upstart", "ServiceManager")]
    [InlineData("ServiceManager", "1", "ServiceManager")]
    [InlineData("ServiceName", "svc; reboot", "ServiceName")]
    [InlineData("PublicUrl", "ftp://x", "PublicUrl")]
    [InlineData("PublicUrl", "https://user:pw@x", "PublicUrl")]
    [InlineData("HealthPath", "health", "HealthPath")]
    [InlineData("RequiredVariables", "BAD-NAME", "RequiredVariables")]
    [InlineData("User", "deploy", "User")]
    [InlineData("Environment", 5, "Environment")]
    public void Bad_values_name_the_key(string key, object value, string expectedKey)
    {
        var ex = Assert.Throws<VaultException>(() => TargetBuilder.Build(new Hashtable { ["Name"] = "t1", [key] = value }, "f.psd1"));
        Assert.Contains($"key '{expectedKey}'", ex.Message);
    }

    [Theory]
    [InlineData("bad name")]
    [InlineData("-leading")]
    [InlineData("a;b")]
    [InlineData("")]
    public void Bad_names_are_refused(string name)
    {
        Assert.Throws<VaultException>(() => TargetBuilder.Build(new Hashtable { ["Name"] = name }, "f.psd1"));
    }

    [Theory]
    [InlineData("bad host!")]
    [InlineData("host;rm")]
    [InlineData("-oProxyCommand=x")]
    public void Bad_host_names_are_refused(string host)
    {
        var ex = Assert.Throws<VaultException>(() => TargetBuilder.Build(new Hashtable { ["Name"] = "t1", ["HostName"] = host, ["User"] = "u", ["KeyFile"] = "/etc/hostname" }, "f.psd1"));
        Assert.Contains("key 'HostName'", ex.Message);
    }

    [Fact]
    public void An_ssh_target_needs_a_key_or_a_credential()
    {
        // Without an agent (a developer's SSH_AUTH_SOCK would count as a way in) and without ~/.ssh keys or config.
        var agent = Environment.GetEnvironmentVariable("SSH_AUTH_SOCK");
        Environment.SetEnvironmentVariable("SSH_AUTH_SOCK", null);
        try
        {
            var ex = Assert.Throws<VaultException>(() => TargetBuilder.Build(new Hashtable { ["Name"] = "t1", ["HostName"] = "h", ["User"] = "u", ["SshConfigFile"] = "none" }, "f.psd1"));
            Assert.Contains("key 'KeyFile'", ex.Message);
        }
        finally
        {
            Environment.SetEnvironmentVariable("SSH_AUTH_SOCK", agent);
        }

        using var password = new SecureString();
        foreach (var c in "secret")
        {
            password.AppendChar(c);
        }

        var target = TargetBuilder.Build(new Hashtable { ["Name"] = "t1", ["HostName"] = "h" }, "New-VaultTarget", null, "u", password, "TargetInvalid");
        Assert.True(target.Ssh!.HasPassword);
        Assert.Equal("u", target.Ssh.User);
    }

    [Fact]
    public void A_missing_key_file_is_reported_with_its_resolved_path()
    {
        var ex = Assert.Throws<VaultException>(() => TargetBuilder.Build(new Hashtable { ["Name"] = "t1", ["HostName"] = "h", ["User"] = "u", ["KeyFile"] = "keys/none" }, "f.psd1", "/srv/config"));
        Assert.Contains("/srv/config/keys/none", ex.Message);
    }

    [Fact]
    public void Ssh_settings_without_a_host_name_are_errors()
    {
        var ex = Assert.Throws<VaultException>(() => TargetBuilder.Build(new Hashtable { ["Name"] = "t1", ["SshPort"] = 2222 }, "f.psd1"));
        Assert.Contains("key 'SshPort'", ex.Message);
        Assert.Contains("only applies to SSH targets", ex.Message);
    }

    [Fact]
    public void A_pinned_fingerprint_must_look_like_ssh_keygen_output()
    {
        var ex = Assert.Throws<VaultException>(() => TargetBuilder.Build(new Hashtable
        {
            ["Name"] = "t1", ["HostName"] = "h", ["User"] = "u", ["KeyFile"] = "/etc/hostname", ["HostKeyFingerprint"] = "MD5:aa:bb",
        }, "f.psd1"));
        Assert.Contains("key 'HostKeyFingerprint'", ex.Message);
    }

    [Fact]
    public void The_error_id_can_be_chosen_by_the_caller()
    {
        var ex = Assert.Throws<VaultException>(() => TargetBuilder.Build(new Hashtable { ["Name"] = "t1", ["Port"] = 0 }, "New-VaultTarget", errorId: "TargetInvalid"));
        Assert.Equal("TargetInvalid", ex.ErrorId);
    }

    [Fact]
    public void Tilde_and_relative_paths_are_expanded()
    {
        var home = Environment.GetEnvironmentVariable("HOME")!;
        Assert.Equal(Path.Combine(home, ".ssh/id"), TargetBuilder.ExpandPath("~/.ssh/id", "/x"));
        Assert.Equal("/x/keys/id", TargetBuilder.ExpandPath("keys/id", "/x"));
    }
}
