using System;
using System.Collections;
using System.IO;
using YieldVault.Ops.Hosts;

namespace YieldVault.Ops.Core.Tests;

/// <summary>~/.ssh/config read the way ssh reads it for one host: first value wins, patterns, Match, Include, tokens.</summary>
public sealed class SshConfigFileTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "yv-sshconfig-" + Guid.NewGuid().ToString("N").Substring(0, 10));

    public SshConfigFileTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private const string Operators = """
        # the operator's config
        Host prod-app1 app1
            HostName 10.0.4.11
            User deploy
            Port 2222
            IdentityFile ~/.ssh/yv_deploy
            ProxyJump ops@bastion.internal:2200

        Host prod-* !prod-legacy
            User prod-user
            IdentityFile ~/.ssh/prod_%r_%h

        Host bastion.internal
            ProxyJump none

        Host *
            User fallback
            IdentityFile ~/.ssh/id_ed25519
        """;

    private static string Home => SshConfigFile.HomeDirectory();

    [Fact]
    public void A_host_alias_gives_hostname_user_port_identity_files_and_proxyjump()
    {
        var config = SshConfigFile.ResolveText(Operators, "config", "prod-app1");
        Assert.True(config.Matched);
        Assert.Equal("10.0.4.11", config.HostName);
        Assert.Equal("deploy", config.User);
        Assert.Equal(2222, config.Port);
        Assert.Equal("ops@bastion.internal:2200", config.ProxyJump);

        // IdentityFile values add up in order; %r is the user and %h the HostName as decided at the end.
        Assert.Equal(new[] { Home + "/.ssh/yv_deploy", Home + "/.ssh/prod_deploy_10.0.4.11", Home + "/.ssh/id_ed25519" }, config.IdentityFiles);
    }

    [Fact]
    public void The_first_value_of_each_keyword_wins_and_negation_excludes_a_host()
    {
        var other = SshConfigFile.ResolveText(Operators, "config", "prod-db2");
        Assert.Null(other.HostName);
        Assert.Equal("prod-user", other.User);
        Assert.Null(other.Port);

        var legacy = SshConfigFile.ResolveText(Operators, "config", "prod-legacy");
        Assert.Equal("fallback", legacy.User);

        var none = SshConfigFile.ResolveText(Operators, "config", "bastion.internal");
        Assert.Equal("none", none.ProxyJump);
    }

    [Theory]
    [InlineData("app?", "app1", true)]
    [InlineData("app?", "app12", false)]
    [InlineData("*.internal", "db.prod.internal", true)]
    [InlineData("*.internal", "internal", false)]
    [InlineData("10.0.*.1?", "10.0.4.11", true)]
    [InlineData("APP1", "app1", true)]
    [InlineData("a*b*c", "aXXbYYc", true)]
    [InlineData("a*b*c", "aXXbYY", false)]
    public void Patterns_use_star_and_question_mark_ignoring_case(string pattern, string host, bool expected) =>
        Assert.Equal(expected, SshConfigFile.PatternMatches(pattern, host));

    [Fact]
    public void Lines_before_any_host_apply_to_every_host_and_equals_and_quotes_are_read()
    {
        var config = SshConfigFile.ResolveText("User=everyone\nIdentityFile \"/keys/with space\" # trailing comment\nHost x\n  User = nobody\n", "config", "y");
        Assert.Equal("everyone", config.User);
        Assert.Equal(new[] { "/keys/with space" }, config.IdentityFiles);
        Assert.False(config.Matched);
    }

    [Fact]
    public void Hostname_tokens_and_match_blocks()
    {
        var text = "Match host *.corp user deploy\n  Port 2022\nMatch exec \"true\"\n  User exec-ran\nMatch originalhost web* !localuser nobody-at-all\n  HostName %h.corp\nMatch all\n  User deploy\n";
        var config = SshConfigFile.ResolveText(text, "config", "web1");

        // Match exec is never run (it counts as not matching); the Port block was read before HostName was web1.corp.
        Assert.Equal("web1.corp", config.HostName);
        Assert.Equal("deploy", config.User);
        Assert.Null(config.Port);
        Assert.True(config.Matched);

        var explicitUser = SshConfigFile.ResolveText("HostName h.corp\nMatch host *.corp user deploy\n  Port 2022\n", "config", "h", user: "deploy");
        Assert.Equal(2022, explicitUser.Port);
    }

    [Fact]
    public void Agent_and_known_hosts_settings_are_read()
    {
        var config = SshConfigFile.ResolveText("Host a\n  IdentitiesOnly yes\n  IdentityAgent none\n  UserKnownHostsFile ~/.ssh/known_%h other_file\n", "config", "a");
        Assert.True(config.IdentitiesOnly);
        Assert.Equal("none", config.IdentityAgent);
        Assert.Equal(Home + "/.ssh/known_a", config.UserKnownHostsFile);

        var agent = SshConfigFile.ResolveText("IdentityAgent /run/agent.sock\n", "config", "a");
        Assert.Equal("/run/agent.sock", agent.IdentityAgent);
        Assert.Null(SshConfigFile.ResolveText("IdentityAgent SSH_AUTH_SOCK\n", "config", "a").IdentityAgent);
    }

    [Theory]
    [InlineData("Host a\n  Port 0\n", "line 2: Port '0' is not a port number")]
    [InlineData("Host a\n  Port 22x\n", "line 2: Port '22x'")]
    [InlineData("Host a\n  IdentityFile ~/.ssh/%T\n", "line 2: '~/.ssh/%T' uses the token %T")]
    [InlineData("Host a\n  IdentityFile ${YV_SURELY_UNSET_VARIABLE}/k\n", "YV_SURELY_UNSET_VARIABLE, which is not set")]
    [InlineData("Host a\n  IdentitiesOnly maybe\n", "line 2: IdentitiesOnly 'maybe' is not yes or no")]
    [InlineData("Host a\n  User \"unclosed\n", "line 2: a double quote is not closed")]
    [InlineData("Host\n", "line 1: 'Host' needs at least one pattern")]
    public void A_value_that_cannot_be_used_is_SshConfigInvalid_with_file_and_line(string text, string expected)
    {
        var ex = Assert.Throws<VaultException>(() => SshConfigFile.ResolveText(text, "/home/ops/.ssh/config", "a"));
        Assert.Equal(ErrorIds.SshConfigInvalid, ex.ErrorId);
        Assert.Contains(expected.StartsWith("line", StringComparison.Ordinal) ? "/home/ops/.ssh/config, " + expected : expected, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_tokens_ssh_knows_in_file_names_expand()
    {
        var config = SshConfigFile.ResolveText("Host a\n  HostName a.corp\n  User deploy\n  Port 2200\n  ProxyJump b\n  IdentityFile /k/%k-%j-%i-%C\n", "config", "a");
        var name = System.IO.Path.GetFileName(config.IdentityFiles[0]);
        Assert.Matches("^a-b-[0-9]+-[0-9a-f]{40}$", name);
    }

    [Fact]
    public void Blocks_for_other_hosts_are_not_read()
    {
        var config = SshConfigFile.ResolveText("Host other\n  Port nonsense\n  IdentityFile ~/%T\nHost a\n  Port 2200\n", "config", "a");
        Assert.Equal(2200, config.Port);
    }

    [Fact]
    public void Include_follows_files_in_order_inside_the_block_that_holds_it()
    {
        var confd = Path.Combine(_dir, "conf.d");
        Directory.CreateDirectory(confd);
        File.WriteAllText(Path.Combine(confd, "20-web.conf"), "Host web1\n  User from-20\n");
        File.WriteAllText(Path.Combine(confd, "10-web.conf"), "Host web1\n  Port 2010\n  User from-10\n");
        File.WriteAllText(Path.Combine(confd, "ignored.txt"), "Host web1\n  User from-txt\n");
        var main = Path.Combine(_dir, "config");
        File.WriteAllText(main, $"Host db*\n  Include {confd}/*.conf\nHost *\n  Include {confd}/*.conf\n  User last\n");

        var web = SshConfigFile.Resolve(main, "web1");
        Assert.Equal("from-10", web.User);
        Assert.Equal(2010, web.Port);

        var missing = Path.Combine(_dir, "config2");
        File.WriteAllText(missing, $"Include {_dir}/no-such-file\nUser u\n");
        Assert.Equal("u", SshConfigFile.Resolve(missing, "x").User);
    }

    [Fact]
    public void An_include_loop_is_SshConfigInvalid()
    {
        var path = Path.Combine(_dir, "loop");
        File.WriteAllText(path, $"Include {path}\n");
        var ex = Assert.Throws<VaultException>(() => SshConfigFile.Resolve(path, "x"));
        Assert.Equal(ErrorIds.SshConfigInvalid, ex.ErrorId);
        Assert.Contains("nested more than 16 levels", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_target_takes_the_config_under_its_own_settings()
    {
        var config = Path.Combine(_dir, "config");
        var key = Path.Combine(_dir, "yv_deploy");
        File.WriteAllText(key, "not read here");
        File.WriteAllText(config, $"Host prod-app1\n  HostName 10.0.4.11\n  User deploy\n  Port 2222\n  IdentityFile {key}\n  IdentityFile {_dir}/missing\n  ProxyJump jump-alias\nHost jump-alias\n  HostName 10.0.0.2\n  User ops\n  Port 2200\n");

        var target = TargetBuilder.Build(new Hashtable { ["Name"] = "t1", ["HostName"] = "prod-app1", ["SshConfigFile"] = config }, "f.psd1");
        var ssh = target.Ssh!;
        Assert.Equal("10.0.4.11", ssh.HostName);
        Assert.Equal("prod-app1", ssh.Alias);
        Assert.Equal("deploy", ssh.User);
        Assert.Equal(2222, ssh.Port);
        Assert.Null(ssh.KeyFile);
        Assert.Equal(new[] { key }, ssh.IdentityFiles);
        Assert.Equal(config, ssh.SshConfigFile);
        Assert.Equal("ops@10.0.0.2:2200", ssh.JumpHost!.Address);
        Assert.Equal("jump-alias", ssh.JumpHost.Alias);
        Assert.Equal(new[] { key }, ssh.JumpHost.IdentityFiles);
        Assert.Null(ssh.JumpHost.Password);
        Assert.Equal("deploy@10.0.4.11:2222 via ops@10.0.0.2:2200", ssh.ToString());

        var own = TargetBuilder.Build(new Hashtable { ["Name"] = "t1", ["HostName"] = "prod-app1", ["SshConfigFile"] = config, ["User"] = "me", ["SshPort"] = 22, ["JumpHost"] = "none" }, "f.psd1");
        Assert.Equal("me@10.0.4.11", own.Ssh!.ToString());

        var off = TargetBuilder.Build(new Hashtable { ["Name"] = "t1", ["HostName"] = "prod-app1", ["SshConfigFile"] = "none", ["User"] = "me", ["KeyFile"] = key }, "f.psd1");
        Assert.Equal("prod-app1", off.Ssh!.HostName);
        Assert.Null(off.Ssh.SshConfigFile);
    }

    [Fact]
    public void A_chain_of_jump_hosts_is_refused_naming_the_setting()
    {
        var config = Path.Combine(_dir, "config");
        File.WriteAllText(config, "Host app\n  HostName 10.0.4.11\n  User deploy\n  ProxyJump b1\nHost b1\n  ProxyJump b2\n");
        var key = Path.Combine(_dir, "k");
        File.WriteAllText(key, "x");
        var ex = Assert.Throws<VaultException>(() => TargetBuilder.Build(new Hashtable { ["Name"] = "t1", ["HostName"] = "app", ["SshConfigFile"] = config, ["KeyFile"] = key }, "f.psd1"));
        Assert.Contains("key 'SshConfigFile'", ex.Message, StringComparison.Ordinal);
        Assert.Contains("a chain of jump hosts is not supported", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("ops@bastion:2200", "ops", "bastion", 2200)]
    [InlineData("bastion", null, "bastion", null)]
    [InlineData("ssh://ops@10.0.0.2:22/", "ops", "10.0.0.2", 22)]
    [InlineData("ops@[fd00::2]:2200", "ops", "fd00::2", 2200)]
    public void Jump_hosts_are_read_as_ssh_J_writes_them(string text, string? user, string host, int? port)
    {
        Assert.True(JumpHosts.TryParse(text, out var u, out var h, out var p, out var problem), problem);
        Assert.Equal(user, u);
        Assert.Equal(host, h);
        Assert.Equal(port, p);
    }

    [Theory]
    [InlineData("a@b,c@d", "chain")]
    [InlineData("ops@bastion:0", "port '0'")]
    [InlineData("ops@bastion:x", "port 'x'")]
    [InlineData("-oProxyCommand=x", "not a host name")]
    [InlineData("o p@bastion", "not a valid user name")]
    [InlineData("ops@", "not a host name")]
    public void Bad_jump_hosts_are_refused(string text, string expected)
    {
        Assert.False(JumpHosts.TryParse(text, out _, out _, out _, out var problem));
        Assert.Contains(expected, problem, StringComparison.Ordinal);
    }
}
