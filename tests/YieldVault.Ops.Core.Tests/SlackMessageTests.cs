using System;
using Newtonsoft.Json.Linq;
using YieldVault.Ops;
using YieldVault.Ops.Notifications;

namespace YieldVault.Ops.Core.Tests;

public class SlackMessageTests
{
    private static VaultDeploymentResult Result(DeploymentStatus status, string kind = "deploy") => new()
    {
        Target = new VaultTarget { Name = "prod-1", Environment = "production" },
        Status = status,
        Kind = kind,
        Source = "v1.3.0",
        VersionBefore = "1.2.3",
        VersionAfter = status == DeploymentStatus.Succeeded ? "1.3.0" : "1.2.3",
        DowntimeMs = 1234,
        Probes = 40,
        FailedProbes = 3,
        Duration = TimeSpan.FromSeconds(90),
        Incident = "INCIDENT-123",
        Error = status == DeploymentStatus.Succeeded ? null : "/health did not answer 200 within 60 s.\nlast answer: 503",
        ErrorId = status == DeploymentStatus.Succeeded ? null : "HealthCheckTimeout",
    };

    private static (string Text, string Section) Parse(SlackMessage message)
    {
        var json = JObject.Parse(message.ToJson());
        var blocks = (JArray)json["blocks"]!;
        Assert.Single(blocks);
        Assert.Equal("section", (string?)blocks[0]["type"]);
        Assert.Equal("mrkdwn", (string?)blocks[0]["text"]!["type"]);
        return ((string)json["text"]!, (string)blocks[0]["text"]!["text"]!);
    }

    [Fact]
    public void Succeeded_deployment_is_the_runbooks_message()
    {
        var (text, section) = Parse(SlackMessage.ForDeployment(Result(DeploymentStatus.Succeeded), new SecretRedactor()));
        Assert.Equal("✅ Backend deployment completed successfully", text);
        Assert.StartsWith("*Backend Deployment Complete*\n• Version: v1.3.0 (from v1.2.3)\n• Downtime: 1.2 s\n• Status: All systems operational\n", section);
        Assert.Contains("• Target: prod-1 (production)", section);
        Assert.Contains("• Incident: INCIDENT-123", section);
        Assert.Contains("• Duration: 1.5 min", section);
        Assert.DoesNotContain("Error", section);
        Assert.DoesNotContain("Attempted", section);
    }

    [Fact]
    public void Rolled_back_deployment_warns_and_says_what_serves_and_why()
    {
        var (text, section) = Parse(SlackMessage.ForDeployment(Result(DeploymentStatus.RolledBack), new SecretRedactor()));
        Assert.Equal("⚠️ Backend deployment rolled back", text);
        Assert.StartsWith("*Backend Deployment Rolled Back*\n• Version: v1.2.3 serves again\n", section);
        Assert.Contains("• Status: Rolled back: the previous version serves again", section);
        Assert.Contains("• Target: prod-1 (production)", section);
        Assert.Contains("• Attempted: v1.3.0", section);
        Assert.Contains("• Incident: INCIDENT-123", section);
        // First line of the error only, after its id.
        Assert.Contains("• Error: HealthCheckTimeout: /health did not answer 200 within 60 s.", section);
        Assert.DoesNotContain("last answer", section);
    }

    [Fact]
    public void Failed_deployment_is_an_error_message()
    {
        var (text, section) = Parse(SlackMessage.ForDeployment(Result(DeploymentStatus.Failed), new SecretRedactor()));
        Assert.Equal("❌ Backend deployment failed", text);
        Assert.StartsWith("*Backend Deployment Failed*\n• Version: v1.2.3\n", section);
        Assert.Contains("• Status: Deployment failed: needs attention", section);
        Assert.Contains("• Error: HealthCheckTimeout:", section);
    }

    [Theory]
    [InlineData(DeploymentStatus.Succeeded, "✅ Backend rollback completed successfully", "*Backend Rollback Complete*")]
    [InlineData(DeploymentStatus.Failed, "❌ Backend rollback failed", "*Backend Rollback Failed*")]
    public void Rollbacks_are_named_rollbacks(DeploymentStatus status, string expectedText, string expectedHeading)
    {
        var (text, section) = Parse(SlackMessage.ForDeployment(Result(status, "rollback"), new SecretRedactor()));
        Assert.Equal(expectedText, text);
        Assert.StartsWith(expectedHeading + "\n", section);
    }

    [Theory]
    [InlineData(0, 0, "not measured")]
    [InlineData(0, 12, "none")]
    [InlineData(400, 12, "0.4 s")]
    [InlineData(42_000, 12, "42.0 s")]
    [InlineData(300_000, 12, "5.0 min")]
    public void Downtime_reads_like_the_runbook(double downtimeMs, int probes, string expected)
    {
        Assert.Equal(expected, SlackMessage.Downtime(new VaultDeploymentResult { DowntimeMs = downtimeMs, Probes = probes }));
    }

    [Fact]
    public void Secrets_signed_links_and_mentions_never_reach_the_message()
    {
        var redactor = new SecretRedactor();
        redactor.Add("s3cr3t-db-password");
        var result = Result(DeploymentStatus.Failed);
        result.Error = "migration failed: postgres://yv:s3cr3t-db-password@db:5432/yv refused <!channel> & more";
        var withArtifact = new VaultDeploymentResult
        {
            Target = result.Target,
            Status = DeploymentStatus.Failed,
            Source = "https://cdn.example/app-1.3.0.tgz?X-Amz-Signature=abcdef0123456789",
            Error = result.Error,
        };

        var (_, section) = Parse(SlackMessage.ForDeployment(withArtifact, redactor));
        Assert.DoesNotContain("s3cr3t", section);
        Assert.DoesNotContain("X-Amz-Signature", section);
        Assert.Contains("https://cdn.example/app-1.3.0.tgz?***", section);
        Assert.DoesNotContain("<!channel>", section);
        Assert.Contains("&lt;!channel&gt; &amp; more", section);
    }

    [Fact]
    public void A_long_error_is_cut_and_the_section_stays_within_slacks_limit()
    {
        var result = Result(DeploymentStatus.Failed);
        result.Error = new string('x', 10_000);
        var (_, section) = Parse(SlackMessage.ForDeployment(result, new SecretRedactor()));
        Assert.True(section.Length <= SlackMessage.MaxSectionLength);
        var errorLine = section.Substring(section.IndexOf("• Error: ", StringComparison.Ordinal));
        Assert.True(errorLine.Length <= "• Error: ".Length + SlackMessage.MaxErrorLength);
        Assert.EndsWith("…", errorLine);
    }

    [Fact]
    public void A_secret_at_the_cut_is_hidden_whole_not_cut_in_half()
    {
        var redactor = new SecretRedactor();
        redactor.Add("TOPSECRETVALUE0123456789");
        var result = Result(DeploymentStatus.Failed);
        result.ErrorId = null;
        // The secret straddles the 300 characters that are shown.
        result.Error = new string('y', 290) + " TOPSECRETVALUE0123456789 trailing";
        var (_, section) = Parse(SlackMessage.ForDeployment(result, redactor));
        Assert.DoesNotContain("TOPSEC", section);
        Assert.Contains(new string('y', 290) + " *** trai…", section);
    }

    [Fact]
    public void Free_text_is_sent_as_text_and_section_with_secrets_removed()
    {
        var redactor = new SecretRedactor();
        redactor.Add("https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXX");
        var message = SlackMessage.ForText("Maintenance *starts* in 10 min, see https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXX", redactor);
        var (text, section) = Parse(message);
        Assert.Equal("Maintenance *starts* in 10 min, see ***", text);
        Assert.Equal(text, section);
        Assert.Null(message.Target);
    }

    [Fact]
    public void Json_is_utf8_text_with_the_emoji_as_is()
    {
        var json = SlackMessage.ForDeployment(Result(DeploymentStatus.Succeeded), new SecretRedactor()).ToJson();
        Assert.StartsWith("{\"text\":\"✅ Backend deployment completed successfully\",\"blocks\":[{\"type\":\"section\",\"text\":{\"type\":\"mrkdwn\",\"text\":\"*Backend Deployment Complete*\\n• Version: v1.3.0", json);
    }
}
