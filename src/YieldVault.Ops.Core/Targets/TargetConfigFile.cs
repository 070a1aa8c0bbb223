using System;
using System.Collections;
using System.Collections.Generic;
using System.IO;

namespace YieldVault.Ops;

/// <summary>
/// Reads the targets of a config file that the cmdlet layer has already parsed into a hashtable
/// (a .psd1 is parsed safely by PowerShell's own data-file parser). Shape:
/// <c>@{ Defaults = @{...}; Targets = @( @{ Name = 'prod-1'; ... } ) }</c>.
/// </summary>
public static class TargetConfigFile
{
    public static IReadOnlyList<VaultTarget> Read(IDictionary document, string path)
    {
        VaultException Error(string problem) =>
            new(ErrorIds.TargetConfigInvalid, VaultErrorKind.InvalidData, $"{path}: {problem}", $"Fix {path}.");

        IDictionary? defaults = null;
        IEnumerable? targets = null;
        foreach (DictionaryEntry entry in document)
        {
            var key = entry.Key as string ?? "";
            if (key.Equals("Targets", StringComparison.OrdinalIgnoreCase))
            {
                targets = entry.Value as IEnumerable;
                if (targets is null || entry.Value is string || entry.Value is IDictionary)
                {
                    targets = entry.Value is IDictionary single ? new[] { single } : throw Error("key 'Targets' must be a list of hashtables");
                }
            }
            else if (key.Equals("Defaults", StringComparison.OrdinalIgnoreCase))
            {
                defaults = entry.Value as IDictionary ?? throw Error("key 'Defaults' must be a hashtable");
            }
            else
            {
                throw Error($"unknown top-level key '{key}'; the file holds 'Targets' and optionally 'Defaults'");
            }
        }

        if (targets is null)
        {
            throw Error("no 'Targets' key; expected @{ Targets = @( @{ Name = '...'; ... } ) }");
        }

        var baseDirectory = Path.GetDirectoryName(Path.GetFullPath(path));
        var result = new List<VaultTarget>();
        var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var index = 0;
        foreach (var item in targets)
        {
            index++;
            if (item is not IDictionary settings)
            {
                throw Error($"target #{index} is not a hashtable");
            }

            var merged = new Hashtable(StringComparer.OrdinalIgnoreCase);
            if (defaults is not null)
            {
                foreach (DictionaryEntry d in defaults)
                {
                    merged[d.Key] = d.Value;
                }
            }

            foreach (DictionaryEntry s in settings)
            {
                merged[s.Key] = s.Value;
            }

            var target = TargetBuilder.Build(merged, path, baseDirectory);
            if (!names.Add(target.Name))
            {
                throw new VaultException(ErrorIds.TargetConfigInvalid, VaultErrorKind.InvalidData,
                    $"{path}: target '{target.Name}', key 'Name': the name is used by more than one target", $"Give each target in {path} its own Name.");
            }

            result.Add(target);
        }

        return result;
    }
}
