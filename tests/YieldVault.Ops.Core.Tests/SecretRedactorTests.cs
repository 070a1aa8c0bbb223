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
