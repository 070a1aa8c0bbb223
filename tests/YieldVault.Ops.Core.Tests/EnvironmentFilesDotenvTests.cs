using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Runtime.CompilerServices;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;
using YieldVault.Ops;

namespace YieldVault.Ops.Core.Tests;

/// <summary>
/// The env parser against dotenv itself: each tricky text is parsed by <see cref="EnvironmentFiles.Parse"/> and by the
/// dotenv of the sample backend's lock file (installed once with npm ci into a temporary directory), and both must agree.
/// What the module reads (required variables, the API key, a container's Env) is then what the backend reads.
/// </summary>
public sealed class EnvironmentFilesDotenvTests : IClassFixture<EnvironmentFilesDotenvTests.Dotenv>
{
    private readonly Dotenv _dotenv;

    public EnvironmentFilesDotenvTests(Dotenv dotenv) => _dotenv = dotenv;

    /// <summary>Case name, env file text.</summary>
    public static readonly TheoryData<string, string> Cases = new()
    {
        { "hash-without-space", "K=a#b" },
        { "hash-after-space", "K=a #b" },
        { "hash-first", "K=#notacomment" },
        { "hash-in-double-quotes", "K=\"a#b\"" },
        { "single-quotes-then-comment", "K='a # b' # c" },
        { "double-quotes-then-comment", "K=\"quoted\" # comment" },
        { "quotes-then-junk", "K=\"a\" junk" },
        { "dotted-key", "my.key=1" },
        { "dashed-key", "my-key=2" },
        { "digit-first-key", "1KEY=x" },
        { "dot-and-dash-only-keys", "-K=x\n.K=y\nK.=z" },
        { "non-ascii-key", "ÄK=1\nKÄ=2" },
        { "colon-separator", "K: colon value" },
        { "colon-without-space", "K:v" },
        { "export", "export K=v" },
        { "export-spaces", "export   K  =  v  " },
        { "export-alone", "export=1" },
        { "export-as-prefix", "exportK=1" },
        { "empty-value", "K=" },
        { "no-equals", "K" },
        { "spaces-around", "  K  =  spaced value  " },
        { "tabs", "K\t=\tv\tw\t" },
        { "padded-quotes", "K=  \"  padded  \"  " },
        { "equals-in-value", "K=a=b=c" },
        { "multi-line-double", "K=\"line1\nline2\"\nL=after" },
        { "multi-line-single", "K='line1\nline2'" },
        { "unterminated-double", "K=\"open\nL=2\nM=3" },
        { "escaped-newline-double", "K=\"a\\nb\\rc\\td\"" },
        { "escaped-newline-single", "K='a\\nb'" },
        { "escaped-newline-unquoted", "K=a\\nb" },
        { "escaped-quote", "K=\"a\\\"b\"" },
        { "backticks", "K=`back tick`" },
        { "backticks-with-quotes", "K=`it's \"x\"`" },
        { "doubled-single-quotes", "K='it''s'" },
        { "no-expansion", "K=${HOME}/x $(id) `id`" },
        { "duplicate-last-wins", "K=1\nK=2" },
        { "crlf", "A=1\r\nB=\"two\"\r\nC=3\r" },
        { "comment-lines", "# A=1\n  # B=2\nC=3 # c\n#" },
        { "blank-lines", "\n\n  \nK=v\n\n" },
        { "nbsp-around-value", "K=\u00a0v\u00a0" },
        { "trailing-backslash", "K=a\\" },
        { "quote-in-middle", "K=a\"b\"c" },
        { "only-quotes", "K=\"\"\nL=''" },
        { "single-quote-char", "K=\"" },
        { "value-with-url", "DATABASE_URL=postgres://yv:p#w@db:5432/yv?ssl=true" },
        { "json-value", "K={\"a\":1,\"b\":[1,2]}" },
        { "quoted-json", "K='{\"a\": \"b # c\"}'" },
        { "equals-first", "=v" },
        { "space-in-key", "MY KEY=v" },
        { "line-separator-u2028", "K=a\u2028L=b" },
        { "quote-then-hash", "K=\"a\"#c" },
        { "quote-hash-quote", "K = \"a\" # \"b\"" },
        { "quoted-lines-with-quotes", "K=\"x\n'line'\n\"" },
        { "export-tab", "export\tK=v" },
        { "colon-two-spaces", "K:  v" },
        { "space-before-colon", "K :v" },
        { "carriage-return-in-quotes", "K=\"a\rb\"" },
        { "nul-in-value", "K=a\0b" },
        { "backslash-before-closing-quote", "K=\"a\\\"\nL=2" },
        { "many-assignments-one-line", "A=1 B=2" },
    };

    [Fact]
    public void A_hostile_file_of_quotes_and_backslashes_is_read_in_bounded_time()
    {
        // Quotes and escaped quotes that never close, 200 KB of them: linear enough, or EnvFileUnreadable, never a hang.
        var text = "K=\"" + string.Concat(Enumerable.Repeat("\\\" ", 50_000)) + "\nL='" + new string('\\', 100_000);
        var watch = Stopwatch.StartNew();
        try
        {
            EnvironmentFiles.Parse(text);
        }
        catch (VaultException ex)
        {
            Assert.Equal("EnvFileUnreadable", ex.ErrorId);
        }

        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(30), $"took {watch.Elapsed}");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Parses_like_dotenv(string name, string text)
    {
        var expected = _dotenv.Parse(name, text);
        var actual = EnvironmentFiles.Parse(text);
        Assert.Equal(
            JsonConvert.SerializeObject(expected.OrderBy(p => p.Key, StringComparer.Ordinal)),
            JsonConvert.SerializeObject(actual.OrderBy(p => p.Key, StringComparer.Ordinal)));
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void The_migration_loaders_copy_of_dotenv_parses_like_dotenv(string name, string text)
    {
        // A release without dotenv in node_modules still gets its env file read as dotenv reads it.
        Assert.Equal(
            JsonConvert.SerializeObject(_dotenv.Parse(name, text).OrderBy(p => p.Key, StringComparer.Ordinal)),
            JsonConvert.SerializeObject(_dotenv.ParseWithCopy(name).OrderBy(p => p.Key, StringComparer.Ordinal)));
    }

    /// <summary>dotenv from the sample backend's package-lock.json, and what it makes of each case (node runs once).</summary>
    public sealed class Dotenv : IDisposable
    {
        private readonly string _directory = Directory.CreateTempSubdirectory("yv-dotenv-").FullName;
        private readonly Lazy<JObject> _parsed;

        public Dotenv()
        {
            _parsed = new Lazy<JObject>(ParseAll);
        }

        public Dictionary<string, string> Parse(string name, string text) => Read("dotenv", name);

        /// <summary>What the copy of dotenv's parse() in the migration loader makes of the case.</summary>
        public Dictionary<string, string> ParseWithCopy(string name) => Read("copy", name);

        private Dictionary<string, string> Read(string parser, string name)
        {
            Assert.True(_parsed.Value[parser]?[name] is JObject values, $"{parser} did not parse case {name}");
            return ((JObject)_parsed.Value[parser]![name]!).Properties().ToDictionary(v => v.Name, v => (string)v.Value!, StringComparer.Ordinal);
        }

        public void Dispose()
        {
            try
            {
                Directory.Delete(_directory, recursive: true);
            }
            catch (IOException)
            {
                // A temporary directory; the next run uses another.
            }
        }

        private JObject ParseAll()
        {
            var fixture = Path.Combine(RepositoryRoot(), "tests", "fixtures", "sample-backend");
            File.Copy(Path.Combine(fixture, "package.json"), Path.Combine(_directory, "package.json"));
            File.Copy(Path.Combine(fixture, "package-lock.json"), Path.Combine(_directory, "package-lock.json"));
            Run("npm", "ci", "--omit=dev", "--ignore-scripts", "--prefer-offline", "--no-audit", "--no-fund");

            var cases = new JObject();
            foreach (var row in Cases)
            {
                cases[(string)row[0]] = (string)row[1];
            }

            File.WriteAllText(Path.Combine(_directory, "cases.json"), cases.ToString());
            File.WriteAllText(Path.Combine(_directory, "copy.js"), YieldVault.Ops.Runbook.Migrations.DotenvParseCopy);
            File.WriteAllText(Path.Combine(_directory, "parse.js"),
                "const fs = require('fs'); const dotenv = require('dotenv'); const cases = JSON.parse(fs.readFileSync('cases.json', 'utf8'));\n" +
                "const copy = eval(fs.readFileSync('copy.js', 'utf8'));\n" +
                "const out = { dotenv: {}, copy: {} };\n" +
                "for (const name of Object.keys(cases)) { out.dotenv[name] = dotenv.parse(Buffer.from(cases[name], 'utf8')); out.copy[name] = copy(Buffer.from(cases[name], 'utf8')); }\n" +
                "process.stdout.write(JSON.stringify({ version: require('dotenv/package.json').version, ...out }));\n");
            var result = JObject.Parse(Run("node", "parse.js"));
            Assert.StartsWith("1", (string?)result["version"] ?? "", StringComparison.Ordinal);
            return result;
        }

        private string Run(string program, params string[] arguments)
        {
            var info = new ProcessStartInfo(program) { WorkingDirectory = _directory, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var argument in arguments)
            {
                info.ArgumentList.Add(argument);
            }

            using var process = Process.Start(info)!;
            var output = process.StandardOutput.ReadToEndAsync();
            var error = process.StandardError.ReadToEndAsync();
            Assert.True(process.WaitForExit(TimeSpan.FromMinutes(3)), $"{program} did not finish within 3 minutes");
            Assert.True(process.ExitCode == 0, $"{program} {string.Join(" ", arguments)} failed ({process.ExitCode}): {error.Result}");
            return output.Result;
        }

        private static string RepositoryRoot([CallerFilePath] string source = "")
        {
            for (var dir = new DirectoryInfo(Path.GetDirectoryName(source)!); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "YieldVault.Ops.sln")))
                {
                    return dir.FullName;
                }
            }

            throw new InvalidOperationException("The repository root (YieldVault.Ops.sln) was not found above " + source);
        }
    }
}
