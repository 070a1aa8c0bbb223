using System;
using System.Globalization;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;
using YieldVault.Ops.Hosts;

namespace YieldVault.Ops.Runbook;

/// <summary>
/// The append-only record of one run, on the target's host (&lt;StatePath&gt;/&lt;service&gt;/journal/&lt;run&gt;.jsonl):
/// one JSON line per step start and end, written as it happens, so a killed run leaves a journal that
/// shows where it stopped. Text goes through the redactor before it is written.
/// </summary>
public sealed class DeploymentJournal
{
    private readonly IHostShell _shell;
    private readonly SecretRedactor _redactor;
    private readonly SemaphoreSlim _gate = new(1, 1);

    public DeploymentJournal(VaultTarget target, IHostShell shell, SecretRedactor redactor, string runId)
    {
        _shell = shell;
        _redactor = redactor;
        RunId = runId;
        Path = DirectoryOf(target) + "/" + runId + ".jsonl";
    }

    public string RunId { get; }

    public string Path { get; }

    public static string DirectoryOf(VaultTarget target) => target.StatePath.TrimEnd('/') + "/" + target.ServiceName + "/journal";

    public static string NewRunId(DateTimeOffset now) =>
        now.UtcDateTime.ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture) + "-" + Guid.NewGuid().ToString("N").Substring(0, 6);

    public Task WriteAsync(string step, string phase, string? outcome = null, string? detail = null, double? durationMs = null, JObject? data = null) =>
        WriteGuardedAsync(null, step, phase, outcome, detail, durationMs, data);

    /// <summary>
    /// Writes a line after <paramref name="guard"/> (a shell fragment that exits 9 when the run may not go on: the lock
    /// lost) in the same command; returns false when the guard refused, and then nothing was written.
    /// </summary>
    public async Task<bool> WriteGuardedAsync(string? guard, string step, string phase, string? outcome = null, string? detail = null, double? durationMs = null, JObject? data = null)
    {
        var entry = new JObject
        {
            ["time"] = DateTimeOffset.UtcNow.ToString("o", CultureInfo.InvariantCulture),
            ["run"] = RunId,
            ["step"] = step,
            ["phase"] = phase,
        };
        if (outcome is not null)
        {
            entry["outcome"] = outcome;
        }

        if (durationMs is not null)
        {
            entry["durationMs"] = Math.Round(durationMs.Value, 1);
        }

        if (detail is not null)
        {
            entry["detail"] = _redactor.Redact(detail);
        }

        if (data is not null)
        {
            entry["data"] = Redacted(data);
        }

        return await AppendAsync(guard, entry.ToString(Formatting.None)).ConfigureAwait(false);
    }

    // Each name and text value is redacted as itself, not in the serialized line: a secret with '"' or '\' is escaped
    // there (and not found), and a replacement inside an escape would break the line.
    private JToken Redacted(JToken token)
    {
        switch (token)
        {
            case JObject obj:
                var copy = new JObject();
                foreach (var property in obj.Properties())
                {
                    // Two names that were secrets are both "***": the last one's value is kept.
                    copy[_redactor.Redact(property.Name)] = Redacted(property.Value);
                }

                return copy;
            case JArray array:
                return new JArray(array.Select(Redacted));
            case JValue { Type: JTokenType.String } value:
                return new JValue(_redactor.Redact((string?)value));
            default:
                return token.DeepClone();
        }
    }

    private async Task<bool> AppendAsync(string? guard, string line)
    {
        // Journal writes must not be cancelled half-way: a stopped run still records that it stopped.
        await _gate.WaitAsync(CancellationToken.None).ConfigureAwait(false);
        try
        {
            var result = await _shell.RunAsync(
                CommandLine.Script((guard is null ? "" : guard + "\n") + ShellQuote.EnsureParentOfFirstArgument + " && printf '%s\\n' \"$2\" >> \"$1\"", Path, line),
                TimeSpan.FromSeconds(30), CancellationToken.None).ConfigureAwait(false);
            if (guard is not null && result.ExitCode == 9)
            {
                return false;
            }

            if (!result.Succeeded)
            {
                Reporting.Current.Warning($"Could not write to the journal {Path}: {result.Tail(2)}");
            }
        }
        catch (VaultException ex)
        {
            Reporting.Current.Warning($"Could not write to the journal {Path}: {ex.Message}");
        }
        finally
        {
            _gate.Release();
        }

        return true;
    }
}
