using System.Threading;
using System.Threading.Tasks;
using YieldVault.Ops;
using YieldVault.Ops.Hosts;

namespace YieldVault.Ops.Core.Tests;

public class ShellQuoteTests
{
    [Theory]
    [InlineData("v1.3.0", "v1.3.0")]
    [InlineData("/app/yieldvault-backend", "/app/yieldvault-backend")]
    [InlineData("", "''")]
    [InlineData("a b", "'a b'")]
    [InlineData("it's", "'it'\\''s'")]
    [InlineData("--upload-pack=touch /tmp/x", "'--upload-pack=touch /tmp/x'")]
    [InlineData("-n", "-n")]
    public void Quote_produces_expected_words(string input, string expected)
    {
        Assert.Equal(expected, ShellQuote.Quote(input));
    }

    [Theory]
    [InlineData("main; touch /tmp/yv-pwned")]
    [InlineData("$(touch /tmp/yv-pwned)")]
    [InlineData("`touch /tmp/yv-pwned`")]
    [InlineData("a'b\"c\\d $HOME * ? [x] {a,b} ~ ! # & | < > \n newline")]
    [InlineData("'; touch /tmp/yv-pwned; '")]
    public async Task Quoted_words_reach_the_program_unchanged_through_a_real_shell(string hostile)
    {
        // printf '%s' prints its argument exactly; if quoting failed, sh would run the injected command or split the word.
        var line = "printf '%s' " + ShellQuote.Quote(hostile);
        using var shell = new LocalShell();
        var result = await shell.RunAsync(new CommandLine("sh", "-c", line), null, CancellationToken.None);
        Assert.Equal(0, result.ExitCode);
        Assert.Equal(hostile, result.StandardOutput);
        Assert.False(System.IO.File.Exists("/tmp/yv-pwned"));
    }

    [Fact]
    public void Nul_characters_are_refused()
    {
        var ex = Assert.Throws<VaultException>(() => ShellQuote.Quote("a\0b"));
        Assert.Equal("InvalidArgumentCharacter", ex.ErrorId);
    }

    [Fact]
    public void CommandLine_quotes_every_word_and_the_directory()
    {
        var command = new CommandLine("git", "checkout", "--", "v1.3.0; rm -rf /") { WorkingDirectory = "/srv/my app" };
        Assert.Equal("cd '/srv/my app' && git checkout -- 'v1.3.0; rm -rf /'", command.ToShellString());
    }

    [Fact]
    public void CommandLine_hides_environment_values_when_shown()
    {
        var command = new CommandLine("node", "dist/index.js")
        {
            Environment = new System.Collections.Generic.Dictionary<string, string> { ["DATABASE_URL"] = "postgres://u:hunter2@db/x" },
        };
        Assert.DoesNotContain("hunter2", command.ToString());
        Assert.Contains("DATABASE_URL=***", command.ToString());
        Assert.Contains("env DATABASE_URL=postgres://u:hunter2@db/x node", command.ToShellString());
    }

    [Fact]
    public void CommandLine_refuses_invalid_environment_names()
    {
        var command = new CommandLine("true")
        {
            Environment = new System.Collections.Generic.Dictionary<string, string> { ["A;B"] = "x" },
        };
        Assert.Equal("InvalidEnvironmentName", Assert.Throws<VaultException>(() => command.ToShellString()).ErrorId);
    }

    [Fact]
    public async Task Script_passes_inputs_as_positional_parameters()
    {
        using var shell = new LocalShell();
        var result = await shell.RunAsync(CommandLine.Script("printf '%s|%s' \"$1\" \"$2\"", "a b", "$(id)"), null, CancellationToken.None);
        Assert.Equal("a b|$(id)", result.StandardOutput);
    }

    [Theory]
    [InlineData(new[] { "a", "b c" }, "a \"b c\"")]
    [InlineData(new[] { "say \"hi\"" }, "\"say \\\"hi\\\"\"")]
    [InlineData(new[] { "trail\\" }, "trail\\")]
    [InlineData(new[] { "sp ace\\" }, "\"sp ace\\\\\"")]
    [InlineData(new[] { "" }, "\"\"")]
    public void PasteArguments_follows_windows_rules(string[] words, string expected)
    {
        Assert.Equal(expected, LocalShell.PasteArguments(words));
    }
}
