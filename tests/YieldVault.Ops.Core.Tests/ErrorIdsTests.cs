using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Text.RegularExpressions;
using Xunit;
using YieldVault.Ops;

namespace YieldVault.Ops.Core.Tests;

/// <summary>
/// Error ids are what users' scripts match on: each is a documented constant in <see cref="ErrorIds"/>, the about
/// topic lists exactly those, and src/ names them through the constants, so a new id cannot slip in as a literal.
/// </summary>
public sealed class ErrorIdsTests
{
    private const string AboutTopic = "docs/en-US/about_YieldVault.Ops_Errors.md";
    // ErrorIds is a partial class: ErrorIds.cs and ErrorIds.<Area>.cs, all in this folder.
    private const string ErrorIdsFolder = "src/YieldVault.Ops.Core/Errors";

    private static IReadOnlyList<string> ErrorIdsSources() =>
        Directory.EnumerateFiles(Path.Combine(RepositoryRoot(), ErrorIdsFolder), "ErrorIds*.cs")
            .Select(path => ErrorIdsFolder + "/" + Path.GetFileName(path)).OrderBy(p => p, StringComparer.Ordinal).ToList();

    // "- HostKeyMismatch (SecurityError): ..." at the start of a line: one entry of the about topic.
    private static readonly Regex DocumentedId = new(@"^- (?<id>[A-Z][A-Za-z]+) \((?<category>[^)]+)\): ", RegexOptions.Multiline);

    // Every ErrorCategory the module uses (VaultErrorKind maps onto ErrorCategory by name, the cmdlets add three), and
    // "result" for ids that are only a result's ErrorId.
    private static readonly HashSet<string> Categories = new(
        Enum.GetNames(typeof(VaultErrorKind)).Concat(new[] { "InvalidResult", "InvalidType", "NotSpecified", "result" }), StringComparer.Ordinal);

    // Where an id is passed as a literal, new or not: to VaultException (also a target-typed new), RunCheckedAsync,
    // ErrorRecords.Create, an ErrorId or errorId property, argument or default, compared with one, or a dependency
    // check's Result(healthy, errorId, ...).
    private static readonly Regex[] LiteralIdPatterns =
    {
        new(@"new VaultException\(\s*"""),
        new(@"\bnew\(\s*""[A-Z][A-Za-z]+""\s*,\s*VaultErrorKind\."),
        new(@"RunCheckedAsync\([^;]*?,\s*""[A-Z][A-Za-z]+""\s*,"),
        new(@"ErrorRecords\.Create\(\s*(?:[^,;]*?\?\?\s*)?"""),
        new(@"\b[Ee]rrorId\s*(?:==|!=|=|:|\bis\b(?:\s+not)?)\s*"""),
        new(@"\bResult\(\s*(?:true|false)\s*,\s*"""),
    };

    // Literals spelled like an id that are not one: the journal's outcome of a run stopped with Ctrl+C.
    private static readonly HashSet<(string File, string Literal)> NotIds = new()
    {
        ("src/YieldVault.Ops.Core/Runbook/RunEnding.cs", "Cancelled"),
    };

    [Fact]
    public void Every_id_is_a_constant_named_as_it_is_spelled_with_a_summary()
    {
        var ids = Constants();
        Assert.NotEmpty(ids);
        Assert.All(ids, id => Assert.Equal(id.Name, id.Value));

        var undocumented = new List<string>();
        var declared = 0;
        foreach (var source in ErrorIdsSources())
        {
            var lines = File.ReadAllLines(Path.Combine(RepositoryRoot(), source));
            for (var i = 0; i < lines.Length; i++)
            {
                var constant = Regex.Match(lines[i], @"public const string (\w+) ");
                declared += constant.Success ? 1 : 0;
                if (constant.Success && (i == 0 || !Regex.IsMatch(lines[i - 1], @"^\s*/// <summary>.+</summary>\s*$")))
                {
                    undocumented.Add(source + ": " + constant.Groups[1].Value);
                }
            }
        }

        Assert.True(undocumented.Count == 0, $"constants without a one-line /// <summary> above them: {string.Join(", ", undocumented)}");
        // Every id is declared in those files (a part of ErrorIds elsewhere would escape the check above).
        Assert.Equal(ids.Count, declared);
    }

    [Fact]
    public void The_about_topic_documents_every_id_and_only_ids()
    {
        var constants = Constants().Select(c => c.Name).ToList();
        var text = File.ReadAllText(Path.Combine(RepositoryRoot(), AboutTopic));
        var entries = DocumentedId.Matches(text).Cast<Match>().ToList();
        var documented = entries.Select(m => m.Groups["id"].Value).ToList();

        var missing = constants.Except(documented, StringComparer.Ordinal).ToList();
        Assert.True(missing.Count == 0, $"{AboutTopic} does not document: {string.Join(", ", missing)} (add '- Id (ErrorCategory): what it means. Next: what to do.')");

        var unknown = documented.Except(constants, StringComparer.Ordinal).ToList();
        Assert.True(unknown.Count == 0, $"{AboutTopic} documents ids that are not constants in ErrorIds: {string.Join(", ", unknown)}");

        var twice = documented.GroupBy(id => id, StringComparer.Ordinal).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
        Assert.True(twice.Count == 0, $"{AboutTopic} documents these ids more than once: {string.Join(", ", twice)}");

        var badCategories = entries
            .Where(m => !m.Groups["category"].Value.Split(" or ").All(Categories.Contains))
            .Select(m => $"{m.Groups["id"].Value} ({m.Groups["category"].Value})").ToList();
        Assert.True(badCategories.Count == 0, $"{AboutTopic}: not an ErrorCategory (or 'result'): {string.Join(", ", badCategories)}");
    }

    [Fact]
    public void No_error_id_is_a_string_literal_in_src()
    {
        var root = RepositoryRoot();
        var known = new HashSet<string>(Constants().Select(c => c.Name), StringComparer.Ordinal);
        var found = new SortedSet<string>(StringComparer.Ordinal);
        var sources = ErrorIdsSources();
        foreach (var path in Directory.EnumerateFiles(Path.Combine(root, "src"), "*.cs", SearchOption.AllDirectories))
        {
            var relative = Path.GetRelativePath(root, path).Replace('\\', '/');
            if (sources.Contains(relative) || relative.Split('/').Any(part => part is "obj" or "bin"))
            {
                continue;
            }

            var code = WithoutComments(File.ReadAllText(path));
            var lines = code.Split('\n');
            string At(int index)
            {
                var line = LineOf(code, index);
                return $"{relative}:{line}: {lines[line - 1].Trim()}";
            }

            foreach (var pattern in LiteralIdPatterns)
            {
                // A call that spans lines is shown from the line where it starts.
                found.UnionWith(pattern.Matches(code).Cast<Match>().Select(m => At(m.Index)));
            }

            // An existing id spelled out anywhere else (a helper's argument, a pattern like 'is ErrorIds.A or "B"').
            found.UnionWith(Regex.Matches(code, @"""(?<id>[A-Z][A-Za-z]+)""").Cast<Match>()
                .Where(m => known.Contains(m.Groups["id"].Value) && !NotIds.Contains((relative, m.Groups["id"].Value)))
                .Select(m => At(m.Index)));
        }

        Assert.True(found.Count == 0,
            "Error ids must be ErrorIds constants (add one, with a summary, and document it in " + AboutTopic + "):" + Environment.NewLine
            + string.Join(Environment.NewLine, found));
    }

    private static List<(string Name, string Value)> Constants() =>
        typeof(ErrorIds).GetFields(BindingFlags.Public | BindingFlags.Static)
            .Where(f => f.IsLiteral && f.FieldType == typeof(string))
            .Select(f => (f.Name, (string)f.GetRawConstantValue()!))
            .ToList();

    // Whole-line comments blanked out (the line numbers stay right), so prose that quotes an id is not code that uses one.
    private static string WithoutComments(string source) =>
        Regex.Replace(source, @"^([ \t]*)//.*$", m => m.Groups[1].Value, RegexOptions.Multiline);

    private static int LineOf(string text, int index) => text.Take(index).Count(c => c == '\n') + 1;

    /// <summary>The folder holding YieldVault.Ops.sln: up from the test's output, else up from this source file.</summary>
    private static string RepositoryRoot([CallerFilePath] string source = "")
    {
        foreach (var start in new[] { AppContext.BaseDirectory, Path.GetDirectoryName(source) })
        {
            for (var dir = string.IsNullOrEmpty(start) ? null : new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "YieldVault.Ops.sln")))
                {
                    return dir.FullName;
                }
            }
        }

        throw new InvalidOperationException($"No folder above {AppContext.BaseDirectory} or {source} holds YieldVault.Ops.sln.");
    }
}
