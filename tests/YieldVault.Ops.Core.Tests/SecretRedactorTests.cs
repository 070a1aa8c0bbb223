using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using Newtonsoft.Json.Linq;
using YieldVault.Ops;
using YieldVault.Ops.Runbook;

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

/// <summary>Secrets the redactor used to miss (issue 13): URL tokens without a password, presigned URLs, escaped and short or numeric secrets.</summary>
public class SecretRedactorLeakTests
{
    [Theory]
    [InlineData("git fetch https://ghp_Planted0123456789abcdef@github.com/org/repo.git failed", "git fetch https://***@github.com/org/repo.git failed")]
    [InlineData("https://ghp_Planted0123456789abcdef:x-oauth-basic@github.com/org/repo", "https://***@github.com/org/repo")]
    [InlineData("https://x-access-token:ghs_Planted0123456789@github.com/o/r.git", "https://***@github.com/o/r.git")]
    [InlineData("'git+https://glpat-Planted0123@gitlab.example/o/r.git'", "'git+https://***@gitlab.example/o/r.git'")]
    [InlineData("HTTP://TOKENPLANTED1@host.example", "HTTP://***@host.example")]
    [InlineData("ssh://deploy@host:22 and git@github.com:org/repo.git", "ssh://deploy@host:22 and git@github.com:org/repo.git")]
    [InlineData("postgres://yv:s3cr3t@db/yv", "postgres://yv:***@db/yv")]
    public void A_user_part_of_an_http_url_is_a_credential(string input, string expected)
    {
        Assert.Equal(expected, new SecretRedactor().Redact(input));
    }

    [Theory]
    [InlineData(
        "curl: (22) https://b.s3.amazonaws.com/a.tgz?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAPLANTED%2F20260101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20260101T000000Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host&X-Amz-Signature=9f8e7dPlanted returned 403",
        "curl: (22) https://b.s3.amazonaws.com/a.tgz?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=***&X-Amz-Date=20260101T000000Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host&X-Amz-Signature=*** returned 403")]
    [InlineData("https://acct.blob.core.windows.net/c/a.tgz?sv=2022-11-02&sp=r&se=2026-01-01&sig=PlantedSig%2Babc%3D", "https://acct.blob.core.windows.net/c/a.tgz?sv=2022-11-02&sp=r&se=2026-01-01&sig=***")]
    [InlineData("\"https://x.example/a.tgz?token=PlantedTok&v=1\"", "\"https://x.example/a.tgz?token=***&v=1\"")]
    [InlineData("https://storage.googleapis.com/b/a.tgz?X-Goog-Credential=svc%40p&X-Goog-Signature=abcPlanted#frag", "https://storage.googleapis.com/b/a.tgz?X-Goog-Credential=***&X-Goog-Signature=***#frag")]
    [InlineData("https://d.cloudfront.net/a.tgz?Policy=eyJQlanted&Signature=PlantedCF~x&Key-Pair-Id=K2JCJMDEHXQW5F", "https://d.cloudfront.net/a.tgz?Policy=***&Signature=***&Key-Pair-Id=K2JCJMDEHXQW5F")]
    [InlineData("https://hooks.example/fn?code=PlantedFunctionKey&access_token=PlantedAT&x-amz-security-token=PlantedST", "https://hooks.example/fn?code=***&access_token=***&x-amz-security-token=***")]
    [InlineData("/api/v1/transactions?limit=1&offset=20", "/api/v1/transactions?limit=1&offset=20")]
    public void Signatures_and_tokens_in_query_strings_are_masked(string input, string expected)
    {
        Assert.Equal(expected, new SecretRedactor().Redact(input));
    }

    [Theory]
    [InlineData("pa\"ss-Planted")]
    [InlineData("back\\slash-Planted")]
    [InlineData("both\\\"-Planted")]
    [InlineData("tab\tnew\nline-Planted")]
    public void A_secret_with_quotes_or_backslashes_is_hidden_in_its_json_form_too(string secret)
    {
        var redactor = new SecretRedactor();
        redactor.Add(secret);
        var json = Newtonsoft.Json.JsonConvert.SerializeObject(new { error = "failed with " + secret });
        Assert.DoesNotContain("Planted", redactor.Redact(json), StringComparison.Ordinal);
        Assert.DoesNotContain("Planted", redactor.Redact("failed with " + secret), StringComparison.Ordinal);
    }

    [Fact]
    public void A_secret_is_hidden_in_its_url_encoded_form_too()
    {
        var redactor = new SecretRedactor();
        redactor.Add("p@ss word/Planted");
        Assert.Equal("GET /x?q=***", redactor.Redact("GET /x?q=" + Uri.EscapeDataString("p@ss word/Planted")));
        Assert.Equal("value ***", redactor.Redact("value " + Uri.EscapeDataString("p@ss word/Planted")));
    }

    [Fact]
    public async Task Journal_data_with_a_secret_holding_quotes_and_backslashes_is_written_without_it()
    {
        var redactor = new SecretRedactor();
        redactor.Add("pa\"ss\\word-Planted");
        var lines = new List<string>();
        using var shell = new CannedShell("", command => lines.Add(command.Arguments[^1]));
        var journal = new DeploymentJournal(new VaultTarget { Name = "t1" }, shell, redactor, "run-1");
        await journal.WriteAsync("Migrate", "end", "Failed", detail: "exit 1: pa\"ss\\word-Planted",
            data: new JObject { ["output"] = "DATABASE_URL has pa\"ss\\word-Planted", ["pa\"ss\\word-Planted"] = 1, ["list"] = new JArray("pa\"ss\\word-Planted") });
        var line = Assert.Single(lines);
        Assert.DoesNotContain("Planted", line, StringComparison.Ordinal);
        Assert.Equal("DATABASE_URL has ***", (string?)JObject.Parse(line)["data"]!["output"]);
    }

    [Fact]
    public async Task Journal_data_stays_json_whatever_a_secret_holds()
    {
        // Replacing inside the serialized text could cut an escape in two and make the line unreadable.
        var redactor = new SecretRedactor();
        redactor.Add("\\\"}],\"x");
        var lines = new List<string>();
        using var shell = new CannedShell("", command => lines.Add(command.Arguments[^1]));
        var journal = new DeploymentJournal(new VaultTarget { Name = "t1" }, shell, redactor, "run-1");
        await journal.WriteAsync("Migrate", "end", data: new JObject { ["output"] = "a \\\"}],\"x b", ["n"] = 3 });
        Assert.Equal("a *** b", (string?)JObject.Parse(Assert.Single(lines))["data"]!["output"]);
    }

    [Fact]
    public void A_secret_of_four_characters_or_more_is_hidden_numbers_too()
    {
        var redactor = new SecretRedactor();
        redactor.Add("4821");
        redactor.Add("93847261");
        Assert.Equal("pin *** code ***", redactor.Redact("pin 4821 code 93847261"));
    }

    [Fact]
    public void A_secret_too_short_to_hide_warns_once_without_showing_it()
    {
        var warnings = new Warnings();
        Reporting.Use(warnings);
        var redactor = new SecretRedactor();
        redactor.Add("x9", "DB_PIN");
        redactor.Add("y7", "OTHER_PIN");
        Assert.Single(warnings.Messages);
        Assert.Contains("DB_PIN", warnings.Messages[0], StringComparison.Ordinal);
        Assert.Contains("4 characters", warnings.Messages[0], StringComparison.Ordinal);
        Assert.DoesNotContain("x9", warnings.Messages[0], StringComparison.Ordinal);
        Assert.Equal(0, redactor.Count);
    }

    [Theory]
    [InlineData("DB_PASSWORD", "12345678", true)]
    [InlineData("ADMIN_PIN", "4821", true)]
    [InlineData("API_KEY", "true", false)]
    [InlineData("PASSWORD_MIN_LENGTH", "12", false)]
    [InlineData("TOKEN_TTL", "3600", false)]
    [InlineData("GITHUB_ACCESSTOKEN", "1234", true)]
    [InlineData("STRIPE_SECRET", "sk_live_x", true)]
    [InlineData("signing.key", "0099", true)]
    [InlineData("JWT_SECRET", "abc", true)]
    [InlineData("VAULT_CONTRACT_ID", "CDLZ", true)]
    [InlineData("PORT", "3000", false)]
    [InlineData("CACHE_TTL", "3600", false)]
    [InlineData("FEATURE_X", "true", false)]
    [InlineData("LOG_LEVEL", "debug", false)]
    public void Env_values_that_are_secrets(string key, string value, bool secret)
    {
        Assert.Equal(secret, EnvironmentFiles.IsSecret(key, value));
    }

    [Fact]
    public async Task A_numeric_or_short_secret_from_an_env_file_is_registered_or_warned_about()
    {
        var warnings = new Warnings();
        Reporting.Use(warnings);
        using var shell = new CannedShell("DB_PASSWORD=12345678\nADMIN_PIN=4821\nOTP_SEED=ab\nPORT=3000\nRATE=10\n");
        var redactor = new SecretRedactor();
        await EnvironmentFiles.ReadAsync(new VaultTarget { Name = "t1" }, shell, redactor, CancellationToken.None);
        Assert.Equal("*** *** 3000 10", redactor.Redact("12345678 4821 3000 10"));
        Assert.Single(warnings.Messages);
        Assert.Contains("OTP_SEED", warnings.Messages[0], StringComparison.Ordinal);
    }

    private sealed class Warnings : IVaultReporter
    {
        public List<string> Messages { get; } = new();

        public void Verbose(string message)
        {
        }

        public void Warning(string message) => Messages.Add(message);

        public void Progress(int activityId, string activity, string status, int percent, int parentActivityId = -1, bool completed = false)
        {
        }
    }

    private sealed class CannedShell : YieldVault.Ops.Hosts.IHostShell
    {
        private readonly string _output;
        private readonly Action<YieldVault.Ops.Hosts.CommandLine>? _seen;

        public CannedShell(string output, Action<YieldVault.Ops.Hosts.CommandLine>? seen = null)
        {
            _output = output;
            _seen = seen;
        }

        public string Description => "canned";

        public Task<YieldVault.Ops.Hosts.CommandResult> RunAsync(YieldVault.Ops.Hosts.CommandLine command, TimeSpan? timeout, CancellationToken cancellationToken)
        {
            _seen?.Invoke(command);
            return Task.FromResult(new YieldVault.Ops.Hosts.CommandResult(command.ToString(), 0, _output, "", TimeSpan.Zero));
        }

        public Task<Uri> GetHttpBaseAsync(int port, CancellationToken cancellationToken) => throw new NotSupportedException();

        public Task<(string Host, int Port)> ForwardTcpAsync(string host, int port, CancellationToken cancellationToken) => throw new NotSupportedException();

        public void Dispose()
        {
        }
    }
}
