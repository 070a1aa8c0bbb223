using System;
using System.Collections;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Management.Automation;
using System.Management.Automation.Language;
using YieldVault.Ops.Hosting;

namespace YieldVault.Ops.Commands;

/// <summary>Reads targets from a .psd1 config file, filtered by name and environment.</summary>
[Cmdlet(VerbsCommon.Get, "VaultTarget")]
[OutputType(typeof(VaultTarget))]
public sealed class GetVaultTargetCommand : VaultCmdlet
{
    internal const string PathVariable = "YIELDVAULT_TARGETS";

    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    [Alias("FullName", "ConfigPath")]
    [ValidateNotNullOrEmpty]
    public string? Path { get; set; }

    [Parameter(Position = 1)]
    [ValidateNotNullOrEmpty]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(TargetNameCompleter))]
    public string[]? Name { get; set; }

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string[]? Environment { get; set; }

    protected override void ProcessRecord()
    {
        var configured = Path ?? System.Environment.GetEnvironmentVariable(PathVariable);
        if (string.IsNullOrEmpty(configured))
        {
            ThrowTerminatingError(ErrorRecords.Create(ErrorIds.TargetConfigNotFound, ErrorCategory.ObjectNotFound,
                $"No targets file given: pass -Path or set ${PathVariable}.", null,
                "Get-VaultTarget -Path ./targets.psd1, or New-VaultTarget for a single target."));
        }

        var path = GetUnresolvedProviderPathFromPSPath(configured);
        IReadOnlyList<VaultTarget> targets;
        try
        {
            targets = TargetConfigFile.Read(ParseDataFile(path), path);
        }
        catch (VaultException ex)
        {
            ThrowVaultError(ex, path);
            return;
        }

        var patterns = Name?.Select(n => new WildcardPattern(n, WildcardOptions.IgnoreCase)).ToArray();
        var matched = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var target in targets)
        {
            if (Environment is not null && !Environment.Contains(target.Environment, StringComparer.OrdinalIgnoreCase))
            {
                continue;
            }

            if (patterns is not null && !patterns.Any(p => p.IsMatch(target.Name)))
            {
                continue;
            }

            matched.Add(target.Name);
            if (target.Ssh is { TrustNewHostKey: true })
            {
                // A first-contact switch kept in a file trusts whatever key answers the next time known_hosts lacks the host.
                WriteWarning($"{path}: target '{target.Name}' sets TrustNewHostKey = $true: a host key not yet in {target.Ssh.KnownHostsFile} is trusted " +
                    "and recorded without a check, whenever that happens. It is meant for a first connection, not for a file kept around: connect once " +
                    "(or compare the key's fingerprint with the server's owner), then remove TrustNewHostKey, or pin the key with HostKeyFingerprint.");
            }

            WriteObject(target);
        }

        foreach (var name in Name ?? Array.Empty<string>())
        {
            if (!WildcardPattern.ContainsWildcardCharacters(name) && !matched.Contains(name))
            {
                WriteError(ErrorRecords.Create(ErrorIds.TargetNotFound, ErrorCategory.ObjectNotFound,
                    $"{path} has no target named '{name}'" + (Environment is null ? "." : $" in environment {string.Join(", ", Environment)}."),
                    name, $"Known targets: {string.Join(", ", targets.Select(t => t.Name))}."));
            }
        }
    }

    /// <summary>The largest targets file read; a bigger one (or a device such as /dev/zero) is refused before it is parsed.</summary>
    internal const int MaxFileBytes = 4 * 1024 * 1024;

    private static string ReadBounded(string path, Func<string, VaultException> invalid)
    {
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            var buffer = new byte[MaxFileBytes + 1];
            var total = 0;
            int read;
            while (total < buffer.Length && (read = stream.Read(buffer, total, buffer.Length - total)) > 0)
            {
                total += read;
            }

            return total > MaxFileBytes
                ? throw invalid($"the file is larger than {MaxFileBytes / (1024 * 1024)} MB (or never ends); a targets file is far smaller")
                : new StreamReader(new MemoryStream(buffer, 0, total), System.Text.Encoding.UTF8, detectEncodingFromByteOrderMarks: true).ReadToEnd();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw invalid($"could not be read: {ex.Message}");
        }
    }

    /// <summary>
    /// Parses a .psd1 with PowerShell's parser and evaluates only constant data: a config file can never
    /// run a command.
    /// </summary>
    internal static IDictionary ParseDataFile(string path)
    {
        VaultException Invalid(string problem) =>
            new(ErrorIds.TargetConfigInvalid, VaultErrorKind.InvalidData, $"{path}: {problem}", $"Fix {path}.");

        if (!File.Exists(path))
        {
            throw new VaultException(ErrorIds.TargetConfigNotFound, VaultErrorKind.ObjectNotFound,
                $"The targets file '{path}' does not exist.", "Check the path, or set $env:YIELDVAULT_TARGETS.");
        }

        var ast = Parser.ParseInput(ReadBounded(path, Invalid), path, out _, out var errors);
        if (errors.Length > 0)
        {
            var first = errors[0];
            throw Invalid($"line {first.Extent.StartLineNumber}: {first.Message}");
        }

        var statements = ast.EndBlock?.Statements;
        if (ast.ParamBlock is not null || ast.BeginBlock is not null || ast.ProcessBlock is not null
            || statements is null || statements.Count != 1
            || statements[0] is not PipelineAst { PipelineElements.Count: 1 } pipeline
            || pipeline.PipelineElements[0] is not CommandExpressionAst { Expression: HashtableAst hashtable })
        {
            throw Invalid("the file must contain exactly one hashtable: @{ Targets = @( @{ Name = '...'; ... } ) }");
        }

        try
        {
            return (IDictionary)hashtable.SafeGetValue();
        }
        catch (InvalidOperationException ex)
        {
            throw Invalid($"only constant values are allowed (no commands, variables or expressions): {ex.Message}");
        }
    }
}
