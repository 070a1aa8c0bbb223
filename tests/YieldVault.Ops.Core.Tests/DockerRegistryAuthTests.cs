using System;
using System.Text;
using YieldVault.Ops;
using YieldVault.Ops.Services;

namespace YieldVault.Ops.Core.Tests;

public class DockerRegistryAuthTests
{
    private const string Secret = "Planted-Registry-Password-1";

    [Theory]
    [InlineData("127.0.0.1:5000/yv/plain-backend:v2.1.0", "127.0.0.1:5000")]
    [InlineData("ghcr.io/yieldvault/backend:v1.3.0", "ghcr.io")]
    [InlineData("localhost/backend", "localhost")]
    [InlineData("yieldvault/backend:v1", "docker.io")]
    [InlineData("backend", "docker.io")]
    public void The_registry_is_the_first_part_when_it_looks_like_a_host(string image, string registry)
    {
        Assert.Equal(registry, DockerRegistryAuth.RegistryOf(image));
    }

    [Theory]
    [InlineData("https://index.docker.io/v1/", "docker.io")]
    [InlineData("http://127.0.0.1:5000", "127.0.0.1:5000")]
    [InlineData("GHCR.io", "ghcr.io")]
    public void Config_keys_are_compared_as_registry_names(string key, string registry)
    {
        Assert.Equal(registry, DockerRegistryAuth.Normalize(key));
    }

    [Fact]
    public void The_auth_of_docker_login_is_found_decoded_and_registered_as_a_secret()
    {
        var encoded = Convert.ToBase64String(Encoding.UTF8.GetBytes("deploy:" + Secret));
        var config = "{\"auths\":{\"other.example\":{\"auth\":\"eDp5\"},\"http://127.0.0.1:5000\":{\"auth\":\"" + encoded + "\"}}}";
        var redactor = new SecretRedactor();
        var (auth, note) = DockerRegistryAuth.FromConfig(config, "127.0.0.1:5000", redactor);
        Assert.Null(note);
        Assert.Equal("deploy", auth!.Username);
        Assert.Equal(Secret, auth.Password);
        Assert.Equal("127.0.0.1:5000", auth.ServerAddress);
        Assert.Equal("pw *** and ***", redactor.Redact($"pw {Secret} and {encoded}"));
    }

    [Fact]
    public void Username_and_password_fields_and_identity_tokens_are_read_too()
    {
        var redactor = new SecretRedactor();
        var (plain, _) = DockerRegistryAuth.FromConfig("{\"auths\":{\"ghcr.io\":{\"username\":\"bot\",\"password\":\"" + Secret + "\"}}}", "ghcr.io", redactor);
        Assert.Equal("bot", plain!.Username);
        var (token, _) = DockerRegistryAuth.FromConfig("{\"auths\":{\"https://index.docker.io/v1/\":{\"identitytoken\":\"Planted-Token-xyz\"}}}", "docker.io", redactor);
        Assert.Equal("Planted-Token-xyz", token!.IdentityToken);
        Assert.DoesNotContain("Planted-Token-xyz", redactor.Redact("Planted-Token-xyz"), StringComparison.Ordinal);
    }

    [Fact]
    public void A_credential_helper_or_nothing_for_the_registry_gives_no_auth()
    {
        var (auth, note) = DockerRegistryAuth.FromConfig("{\"credsStore\":\"desktop\"}", "ghcr.io", new SecretRedactor());
        Assert.Null(auth);
        Assert.Contains("docker-credential-desktop", note, StringComparison.Ordinal);
        Assert.Equal((null, null), DockerRegistryAuth.FromConfig("{\"auths\":{}}", "ghcr.io", new SecretRedactor()));
        Assert.Null(DockerRegistryAuth.FromConfig("{not json", "ghcr.io", new SecretRedactor()).Auth);
    }

    [Theory]
    [InlineData("Head \"http://127.0.0.1:5000/v2/x/manifests/v1\": no basic auth credentials", true)]
    [InlineData("unauthorized: authentication required", true)]
    [InlineData("pull access denied for x, repository does not exist or may require 'docker login': denied: requested access to the resource is denied", true)]
    [InlineData("manifest for 127.0.0.1:5000/x:v9 not found: manifest unknown: manifest unknown", false)]
    [InlineData("Get \"https://registry-1.docker.io/v2/\": dial tcp: lookup registry-1.docker.io: no such host", false)]
    public void A_refusal_for_want_of_credentials_is_told_from_other_failures(string reason, bool refused)
    {
        var target = new VaultTarget { Name = "d-1", ServiceManager = ServiceManagerKind.Docker };
        var error = DockerRegistryAuth.Refused(target, "unix:///var/run/docker.sock", "127.0.0.1:5000/x:v1", reason, null);
        Assert.Equal(refused, error is not null);
        if (error is not null)
        {
            Assert.Equal("ImagePullUnauthorized", error.ErrorId);
            Assert.Contains("Nothing was changed", error.Message, StringComparison.Ordinal);
            Assert.Contains("-RegistryCredential", error.RecommendedAction, StringComparison.Ordinal);
            Assert.Contains("docker login 127.0.0.1:5000", error.RecommendedAction, StringComparison.Ordinal);
        }
    }
}
