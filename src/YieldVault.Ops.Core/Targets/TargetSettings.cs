using System;
using System.Collections;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;

namespace YieldVault.Ops;

/// <summary>
/// One target's named settings as <see cref="TargetBuilder"/> reads them: case-insensitive names, each value read as the
/// type its setting needs, and an error naming the source, the target and the key for anything else.
/// </summary>
internal sealed class TargetSettings
{
    private readonly Dictionary<string, object?> _values;
    private readonly string _source;
    private readonly string _errorId;
    private readonly string? _baseDirectory;

    public TargetSettings(IDictionary settings, string source, string? baseDirectory, string errorId)
    {
        _values = new Dictionary<string, object?>(StringComparer.OrdinalIgnoreCase);
        foreach (DictionaryEntry entry in settings)
        {
            _values[Convert.ToString(entry.Key, CultureInfo.InvariantCulture) ?? ""] = entry.Value;
        }

        _source = source;
        _baseDirectory = baseDirectory;
        _errorId = errorId;
        Name = _values.TryGetValue("Name", out var n) ? Convert.ToString(n, CultureInfo.InvariantCulture) : null;
    }

    /// <summary>The Name setting as text (null when missing).</summary>
    public string? Name { get; }

    /// <summary>The setting names given.</summary>
    public IEnumerable<string> Keys => _values.Keys;

    public string? BaseDirectory => _baseDirectory;

    /// <summary>Whether the setting is given with a value (not null).</summary>
    public bool Has(string key) => _values.TryGetValue(key, out var v) && v is not null;

    /// <summary>The setting's value as given (null when missing).</summary>
    public object? Raw(string key) => _values.TryGetValue(key, out var v) ? v : null;

    public VaultException Error(string key, string problem)
    {
        var label = string.IsNullOrEmpty(Name) ? "(unnamed)" : Name;
        return new VaultException(_errorId, VaultErrorKind.InvalidData, $"{_source}: target '{label}', key '{key}': {problem}", $"Fix key '{key}' of target '{label}' in {_source}.");
    }

    public string? Text(string key) => Raw(key) switch
    {
        null => null,
        string s => s,
        Uri u => u.OriginalString,
        var v => throw Error(key, $"expected a string but found {Describe(v)}"),
    };

    public int? Number(string key) => Raw(key) switch
    {
        null => null,
        var v => WholeNumber(v) ?? throw Error(key, $"expected a whole number but found {Describe(v)}"),
    };

    public bool? Flag(string key) => Raw(key) switch
    {
        null => null,
        bool b => b,
        var v => throw Error(key, $"expected $true or $false but found {Describe(v)}"),
    };

    /// <summary>A file path setting, with '~' expanded and made absolute against the base directory.</summary>
    public string? FilePath(string key)
    {
        var text = Text(key);
        if (text is null)
        {
            return null;
        }

        if (text.Length == 0 || text.Any(char.IsControl))
        {
            throw Error(key, "expected a file path");
        }

        return TargetBuilder.ExpandPath(text, _baseDirectory);
    }

    /// <summary>
    /// One of the names of <typeparamref name="T"/> (any case), or the fallback when not set. Numbers are refused, and so
    /// are lists ("NodePgMigrate,Npm" would parse as the OR of their values: None).
    /// </summary>
    public T Choice<T>(string key, T fallback)
        where T : struct, Enum
    {
        var v = Raw(key);
        if (v is null)
        {
            return fallback;
        }

        var text = v is T typed ? typed.ToString() : Convert.ToString(v, CultureInfo.InvariantCulture);
        return text is not null && text.IndexOf(',') < 0 && Enum.TryParse<T>(text, ignoreCase: true, out var parsed) && Enum.IsDefined(typeof(T), parsed) && !int.TryParse(text, out _)
            ? parsed
            : throw Error(key, $"'{text}' is not one of {string.Join(", ", Enum.GetNames(typeof(T)))}");
    }

    /// <summary>One value or a list; null when the key is not set.</summary>
    public IReadOnlyList<object?>? Items(string key) => Raw(key) switch
    {
        null => null,
        var v => v is string || v is IDictionary || v is not IEnumerable list ? new[] { v } : list.Cast<object?>().ToArray(),
    };

    public IReadOnlyList<string>? Texts(string key) =>
        Items(key)?.Select(o => o as string ?? throw Error(key, $"expected text but found {Describe(o)}")).ToArray();

    public IReadOnlyList<int>? Numbers(string key) =>
        Items(key)?.Select(o => WholeNumber(o) ?? throw Error(key, $"expected whole numbers but found {Describe(o)}")).ToArray();

    /// <summary>A command as words: a list is taken as it is; one string is split at spaces (no quoting: use a list for a word with spaces).</summary>
    public IReadOnlyList<string>? Command(string key)
    {
        var words = Texts(key);
        return words is { Count: 1 } ? words[0].Split(new[] { ' ', '\t' }, StringSplitOptions.RemoveEmptyEntries) : words;
    }

    public static string Describe(object? value) => value switch
    {
        null => "nothing",
        string s => $"text '{s}'",
        IDictionary => "a hashtable",
        IEnumerable => "a list",
        _ => $"a {value.GetType().Name} ({Convert.ToString(value, CultureInfo.InvariantCulture)})",
    };

    private static int? WholeNumber(object? value) => value switch
    {
        int i => i,
        long l when l is >= int.MinValue and <= int.MaxValue => (int)l,
        string s when int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var p) => p,
        _ => null,
    };
}
