using System;
using System.IO;
using System.Security.Cryptography;
using System.Text;
using YieldVault.Ops.Hosts;

namespace YieldVault.Ops.Core.Tests;

public class KnownHostsTests
{
    private static readonly byte[] KeyA = Blob("ssh-ed25519", 1);
    private static readonly byte[] KeyB = Blob("ssh-ed25519", 2);
    private static readonly byte[] RsaKey = Blob("ssh-rsa", 3);

    [Fact]
    public void Plain_entry_on_port_22_is_trusted()
    {
        var hosts = KnownHosts.Parse(new[] { $"app1.internal,10.0.0.5 ssh-ed25519 {B64(KeyA)} comment" });
        Assert.Equal(HostKeyVerdict.Trusted, hosts.Verify("app1.internal", 22, KeyA));
        Assert.Equal(HostKeyVerdict.Trusted, hosts.Verify("10.0.0.5", 22, KeyA));
    }

    [Fact]
    public void Other_key_for_a_known_host_is_a_mismatch()
    {
        var hosts = KnownHosts.Parse(new[] { $"app1 ssh-ed25519 {B64(KeyA)}" });
        Assert.Equal(HostKeyVerdict.Mismatch, hosts.Verify("app1", 22, KeyB));
    }

    [Fact]
    public void Unlisted_host_is_unknown()
    {
        var hosts = KnownHosts.Parse(new[] { $"app1 ssh-ed25519 {B64(KeyA)}" });
        Assert.Equal(HostKeyVerdict.Unknown, hosts.Verify("app2", 22, KeyA));
    }

    [Fact]
    public void Non_standard_ports_use_bracket_patterns()
    {
        var hosts = KnownHosts.Parse(new[] { $"[127.0.0.1]:2222 ssh-ed25519 {B64(KeyA)}" });
        Assert.Equal(HostKeyVerdict.Trusted, hosts.Verify("127.0.0.1", 2222, KeyA));
        Assert.Equal(HostKeyVerdict.Unknown, hosts.Verify("127.0.0.1", 22, KeyA));
    }

    [Fact]
    public void Hashed_entries_match()
    {
        var salt = new byte[20];
        new Random(7).NextBytes(salt);
        using var hmac = new HMACSHA1(salt);
        var hash = hmac.ComputeHash(Encoding.ASCII.GetBytes("[db.internal]:2200"));
        var hosts = KnownHosts.Parse(new[] { $"|1|{B64(salt)}|{B64(hash)} ssh-ed25519 {B64(KeyA)}" });
        Assert.Equal(HostKeyVerdict.Trusted, hosts.Verify("db.internal", 2200, KeyA));
        Assert.Equal(HostKeyVerdict.Unknown, hosts.Verify("db.internal", 22, KeyA));
    }

    [Fact]
    public void Wildcards_and_negations()
    {
        var hosts = KnownHosts.Parse(new[] { $"*.prod.internal,!bastion.prod.internal ssh-ed25519 {B64(KeyA)}" });
        Assert.Equal(HostKeyVerdict.Trusted, hosts.Verify("app7.prod.internal", 22, KeyA));
        Assert.Equal(HostKeyVerdict.Unknown, hosts.Verify("bastion.prod.internal", 22, KeyA));
    }

    [Fact]
    public void Revoked_keys_are_refused_even_when_also_listed()
    {
        var hosts = KnownHosts.Parse(new[] { $"app1 ssh-ed25519 {B64(KeyA)}", $"@revoked * ssh-ed25519 {B64(KeyA)}" });
        Assert.Equal(HostKeyVerdict.Revoked, hosts.Verify("app1", 22, KeyA));
    }

    [Fact]
    public void Comments_blank_lines_cert_authorities_and_garbage_are_ignored()
    {
        var hosts = KnownHosts.Parse(new[] { "# comment", "", "@cert-authority * ssh-ed25519 " + B64(KeyB), "broken line", "app1 ssh-ed25519 !!notbase64!!" });
        Assert.Equal(HostKeyVerdict.Unknown, hosts.Verify("app1", 22, KeyB));
    }

    [Fact]
    public void Key_types_for_a_host_are_reported()
    {
        var hosts = KnownHosts.Parse(new[] { $"app1 ssh-rsa {B64(RsaKey)}", $"app1 ssh-ed25519 {B64(KeyA)}", $"other ssh-ed25519 {B64(KeyB)}" });
        Assert.Equal(new[] { "ssh-rsa", "ssh-ed25519" }, hosts.KeyTypesFor("app1", 22));
    }

    [Fact]
    public void Append_writes_an_openssh_line_that_reads_back_as_trusted()
    {
        var dir = Path.Combine(Path.GetTempPath(), "yv-kh-" + Guid.NewGuid().ToString("N"));
        var file = Path.Combine(dir, "sub", "known_hosts");
        try
        {
            KnownHosts.Append(file, "127.0.0.1", 2222, KeyA);
            var line = File.ReadAllText(file).Trim();
            Assert.Equal($"[127.0.0.1]:2222 ssh-ed25519 {B64(KeyA)}", line);
            Assert.Equal(HostKeyVerdict.Trusted, KnownHosts.Load(file).Verify("127.0.0.1", 2222, KeyA));
            if (!OperatingSystem.IsWindows())
            {
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
            }
        }
        finally
        {
            if (Directory.Exists(dir))
            {
                Directory.Delete(dir, true);
            }
        }
    }

    [Fact]
    public void Fingerprint_matches_ssh_keygen_format()
    {
        var expected = "SHA256:" + Convert.ToBase64String(SHA256.HashData(KeyA)).TrimEnd('=');
        Assert.Equal(expected, KnownHosts.Fingerprint(KeyA));
        Assert.Equal("ssh-ed25519", KnownHosts.KeyType(KeyA));
        Assert.Equal("unknown", KnownHosts.KeyType(new byte[] { 0, 0 }));
    }

    [Fact]
    public void Missing_file_knows_nothing()
    {
        Assert.Equal(HostKeyVerdict.Unknown, KnownHosts.Load("/nonexistent/known_hosts").Verify("a", 22, KeyA));
    }

    [Theory]
    [InlineData("app1.internal", 22, "APP1.Internal")]
    [InlineData("app1.internal", 2222, "App1.INTERNAL")]
    [InlineData("10.0.0.5", 2200, "10.0.0.5")]
    public void A_hashed_entry_written_by_ssh_keygen_matches_the_host_name_as_openssh_lowercases_it(string written, int port, string asked)
    {
        // ssh lower-cases the host name before it hashes it or looks it up; ssh-keygen -H hashes the name as written.
        var dir = Directory.CreateTempSubdirectory("yv-kh-hash-").FullName;
        try
        {
            Run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", Path.Combine(dir, "key"));
            var publicKey = File.ReadAllText(Path.Combine(dir, "key.pub")).Split(' ');
            var file = Path.Combine(dir, "known_hosts");
            File.WriteAllText(file, $"{KnownHosts.HostPattern(written, port)} {publicKey[0]} {publicKey[1]}\n");
            Run("ssh-keygen", "-H", "-f", file);
            Assert.StartsWith("|1|", File.ReadAllText(file), StringComparison.Ordinal);

            var key = Convert.FromBase64String(publicKey[1]);
            var hosts = KnownHosts.Load(file);
            Assert.Equal(HostKeyVerdict.Trusted, hosts.Verify(asked, port, key));
            Assert.Equal(new[] { "ssh-ed25519" }, hosts.KeyTypesFor(asked, port));
            Assert.Equal(HostKeyVerdict.Mismatch, hosts.Verify(asked, port, KeyB));
            Assert.Equal(HostKeyVerdict.Unknown, hosts.Verify(asked, port == 22 ? 2222 : 22, key));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Theory]
    [InlineData("@Revoked")]
    [InlineData("@REVOKED")]
    [InlineData("@revoked,")]
    [InlineData("@foo")]
    [InlineData("@cert-Authority")]
    [InlineData("@")]
    public void A_line_with_an_unknown_marker_is_not_a_trust_line(string marker)
    {
        var hosts = KnownHosts.Parse(new[] { $"{marker} app1 ssh-ed25519 {B64(KeyA)}" });
        Assert.Equal(HostKeyVerdict.Unknown, hosts.Verify("app1", 22, KeyA));
        Assert.Empty(hosts.KeyTypesFor("app1", 22));
    }

    [Fact]
    public void A_line_with_an_unknown_marker_is_not_a_revocation_either_as_in_openssh()
    {
        // OpenSSH skips the line (markers are case-sensitive): the plain entry still trusts the key.
        var hosts = KnownHosts.Parse(new[] { $"app1 ssh-ed25519 {B64(KeyA)}", $"@Revoked * ssh-ed25519 {B64(KeyA)}" });
        Assert.Equal(HostKeyVerdict.Trusted, hosts.Verify("app1", 22, KeyA));
    }

    [Fact]
    public void A_plain_entry_matches_the_host_name_in_any_case()
    {
        var hosts = KnownHosts.Parse(new[] { $"[App1.Internal]:2222 ssh-ed25519 {B64(KeyA)}" });
        Assert.Equal(HostKeyVerdict.Trusted, hosts.Verify("app1.INTERNAL", 2222, KeyA));
    }

    private static void Run(string program, params string[] arguments)
    {
        var info = new System.Diagnostics.ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        using var process = System.Diagnostics.Process.Start(info)!;
        var error = process.StandardError.ReadToEndAsync();
        process.StandardOutput.ReadToEnd();
        Assert.True(process.WaitForExit(TimeSpan.FromSeconds(60)), $"{program} did not finish");
        Assert.True(process.ExitCode == 0, $"{program} failed: {error.Result}");
    }

    private static string B64(byte[] bytes) => Convert.ToBase64String(bytes);

    private static byte[] Blob(string type, byte seed)
    {
        var name = Encoding.ASCII.GetBytes(type);
        var body = new byte[32];
        Array.Fill(body, seed);
        var blob = new byte[4 + name.Length + 4 + body.Length];
        blob[3] = (byte)name.Length;
        name.CopyTo(blob, 4);
        blob[4 + name.Length + 3] = (byte)body.Length;
        body.CopyTo(blob, 8 + name.Length);
        return blob;
    }
}
