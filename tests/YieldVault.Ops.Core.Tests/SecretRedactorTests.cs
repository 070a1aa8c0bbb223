using YieldVault.Ops;

namespace YieldVault.Ops.Core.Tests;

public class SecretRedactorTests
{
    [Fact]
    public void Registered_values_are_masked_longest_first()
    {
        var redactor = new SecretRedactor();
        redactor.Add("hunter2");
        redactor.Add("hunter2-extended");
        Assert.Equal("key=*** other=***", redactor.Redact("key=hunter2-extended other=hunter2"));
    }

    [Fact]
    public void Passwords_in_urls_are_masked_without_registration()
    {
        var redactor = new SecretRedactor();
        Assert.Equal("could not connect to postgres://yv:***@127.0.0.1:5432/db",
            redactor.Redact("could not connect to postgres://yv:s3cr3t@127.0.0.1:5432/db"));
        Assert.Equal("https://api.example/health", redactor.Redact("https://api.example/health"));
    }

    [Fact]
    public void Very_short_values_are_not_registered()
    {
        var redactor = new SecretRedactor();
        redactor.Add("ab");
        redactor.Add(null);
        redactor.Add("");
        Assert.Equal(0, redactor.Count);
        Assert.Equal("abc", redactor.Redact("abc"));
    }
}

public class SecretRedactorUrlTests
{
    [Theory]
    [InlineData("postgres://u:p@h:5432/d and redis://:pw2@cache:6379", "postgres://u:***@h:5432/d and redis://:***@cache:6379")]
    [InlineData("https://example.com:8443/path?x=1", "https://example.com:8443/path?x=1")]
    [InlineData("git@github.com:org/repo.git", "git@github.com:org/repo.git")]
    [InlineData("\"postgres://a:b@c/d\"", "\"postgres://a:***@c/d\"")]
    [InlineData("ssh://deploy@host:22", "ssh://deploy@host:22")]
    public void Masks_only_url_passwords(string input, string expected)
    {
        Assert.Equal(expected, new YieldVault.Ops.SecretRedactor().Redact(input));
    }

    [Fact]
    public void Stays_linear_on_long_text_without_spaces()
    {
        // The former regex gave up here with a RegexMatchTimeoutException (a failed redaction).
        var text = new string('a', 200_000) + "://" + new string('b', 200_000) + ":" + new string('c', 1000);
        Assert.Equal(text, new YieldVault.Ops.SecretRedactor().Redact(text));
    }
}
