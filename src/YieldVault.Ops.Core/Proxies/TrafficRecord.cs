using System;
using System.Globalization;
using System.Threading;
using System.Threading.Tasks;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;
using YieldVault.Ops.Hosts;

namespace YieldVault.Ops.Proxies;

/// <summary>What one slot was last given: its instance (PM2 app, systemd unit, container), and the release or image.</summary>
/// <param name="Failed">Its deployment failed (before or right after the switch): no switch goes to it.</param>
internal sealed record SlotRecord(string Instance, string? Release, string? Path, string? Image, string? Version, string? Commit, bool Failed = false)
{
    public JObject ToJson() => new()
    {
        ["instance"] = Instance, ["release"] = Release, ["path"] = Path, ["image"] = Image, ["version"] = Version, ["commit"] = Commit, ["failed"] = Failed,
    };

    public static SlotRecord? FromJson(JToken? token) =>
        token is JObject o && o["instance"]?.Type == JTokenType.String
            ? new SlotRecord((string)o["instance"]!, Text(o["release"]), Text(o["path"]), Text(o["image"]), Text(o["version"]), Text(o["commit"]),
                o["failed"]?.Type == JTokenType.Boolean && (bool)o["failed"]!)
            : null;

    private static string? Text(JToken? token) => token?.Type == JTokenType.String ? (string?)token : null;
}

/// <summary>
/// A blue-green target's own record on its host (&lt;StatePath&gt;/&lt;service&gt;/traffic.json): what each slot runs and
/// which one the last switch made live. The upstream file says what nginx serves; this says what is where.
/// </summary>
internal sealed record TrafficRecord(TrafficSlot? Live, SlotRecord? Blue, SlotRecord? Green, DateTimeOffset? SwitchedAt)
{
    public static readonly TrafficRecord Empty = new(null, null, null, null);

    public SlotRecord? Of(TrafficSlot slot) => slot == TrafficSlot.Blue ? Blue : Green;

    public TrafficRecord With(TrafficSlot slot, SlotRecord record) => slot == TrafficSlot.Blue ? this with { Blue = record } : this with { Green = record };

    public static string PathOf(VaultTarget target) => target.StatePath.TrimEnd('/') + "/" + target.ServiceName + "/traffic.json";

    public static async Task<TrafficRecord> ReadAsync(VaultTarget target, IHostShell shell, CancellationToken cancellationToken)
    {
        var result = await shell.RunAsync(CommandLine.Script("[ -f \"$1\" ] || exit 3; head -c 65536 -- \"$1\"", PathOf(target)), TimeSpan.FromSeconds(30), cancellationToken)
            .ConfigureAwait(false);
        if (result.ExitCode == 3)
        {
            return Empty;
        }

        if (!result.Succeeded)
        {
            throw new VaultException(ErrorIds.TrafficStateUnreadable, VaultErrorKind.ResourceUnavailable,
                $"{target.DisplayName}: {PathOf(target)} cannot be read: {result.Tail(3)}", "Check the permissions of the target's StatePath.");
        }

        return Parse(target, result.StandardOutput);
    }

    /// <summary>The record from its file's text (a damaged file is an empty record, with a warning).</summary>
    public static TrafficRecord Parse(VaultTarget target, string text)
    {
        try
        {
            // Dates stay text (Newtonsoft would turn them into DateTime values of the machine's zone).
            using var reader = new JsonTextReader(new System.IO.StringReader(text)) { DateParseHandling = DateParseHandling.None };
            var json = JObject.Load(reader);
            var live = json["live"]?.Type == JTokenType.String && Enum.TryParse<TrafficSlot>((string)json["live"]!, true, out var slot) ? slot : (TrafficSlot?)null;
            var at = json["switchedAt"]?.Type == JTokenType.String && DateTimeOffset.TryParse((string)json["switchedAt"]!, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var when)
                ? when : (DateTimeOffset?)null;
            return new TrafficRecord(live, SlotRecord.FromJson(json["blue"]), SlotRecord.FromJson(json["green"]), at);
        }
        catch (JsonException)
        {
            Reporting.Current.Warning($"{target.Name}: {PathOf(target)} is not valid JSON; the slots are read from the host as they are.");
            return Empty;
        }
    }

    public async Task WriteAsync(VaultTarget target, IHostShell shell, CancellationToken cancellationToken)
    {
        var json = new JObject
        {
            ["live"] = Live?.ToString().ToLowerInvariant(),
            ["switchedAt"] = SwitchedAt?.ToString("o", CultureInfo.InvariantCulture),
            ["blue"] = Blue?.ToJson(),
            ["green"] = Green?.ToJson(),
        };
        await shell.RunCheckedAsync(
            CommandLine.Script(ShellQuote.EnsureParentOfFirstArgument + " && printf '%s\\n' \"$2\" > \"$1.yv-new\" && mv -f -- \"$1.yv-new\" \"$1\"", PathOf(target), json.ToString(Formatting.Indented)),
            ErrorIds.TrafficStateUnwritable, "Writing " + PathOf(target), TimeSpan.FromSeconds(30), cancellationToken).ConfigureAwait(false);
    }
}
