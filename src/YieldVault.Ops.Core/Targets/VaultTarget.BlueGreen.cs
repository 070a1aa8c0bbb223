using System;
using System.Text.RegularExpressions;

namespace YieldVault.Ops;

/// <summary>
/// The runbook's Blue-Green Deployment settings: nginx in front of two slots (the blue and the green port), an
/// upstream file YieldVault.Ops writes, and how nginx is reloaded.
/// </summary>
public sealed partial record VaultTarget
{
    private static readonly Regex UpstreamNames = new("^[A-Za-z_][A-Za-z0-9_]{0,63}\\z", RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));

    /// <summary>The reverse proxy in front of the backend; Nginx makes deployments blue-green.</summary>
    public ProxyKind Proxy { get; init; } = ProxyKind.None;

    /// <summary>The file nginx includes that holds the upstream block (null: /etc/nginx/conf.d/&lt;service&gt;-upstream.conf).</summary>
    public string? UpstreamFile { get; init; }

    /// <summary>The upstream's name, as nginx's proxy_pass names it (null: the service name with '_' for '-', '.' and '@').</summary>
    public string? UpstreamName { get; init; }

    /// <summary>The blue slot's port (null: <see cref="Port"/>).</summary>
    public int? BluePort { get; init; }

    /// <summary>The green slot's port (null: <see cref="Port"/> + 1).</summary>
    public int? GreenPort { get; init; }

    /// <summary>The port nginx listens on, on the target's host: traffic is verified through it.</summary>
    public int ProxyPort { get; init; } = 80;

    /// <summary>How nginx is reloaded (with "sudo -n" when the target needs sudo).</summary>
    public ProxyReload ProxyReload { get; init; } = ProxyReload.Signal;

    /// <summary>nginx's main configuration file (nginx -c), for nginx -t and nginx -s reload; null: nginx's default.</summary>
    public string? NginxConfig { get; init; }

    /// <summary>The upstream file, with its default.</summary>
    public string UpstreamFilePath => UpstreamFile ?? $"/etc/nginx/conf.d/{ServiceName}-upstream.conf";

    /// <summary>The upstream's name, with its default.</summary>
    public string UpstreamBlockName => UpstreamName ?? Regex.Replace(ServiceName, "[^A-Za-z0-9_]", "_", RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));

    /// <summary>The port of <paramref name="slot"/>.</summary>
    public int SlotPort(TrafficSlot slot) => slot == TrafficSlot.Blue ? BluePort ?? Port : GreenPort ?? Port + 1;

    /// <summary>The other slot.</summary>
    public static TrafficSlot Other(TrafficSlot slot) => slot == TrafficSlot.Blue ? TrafficSlot.Green : TrafficSlot.Blue;

    /// <summary>The slot whose port is <paramref name="port"/>, or null.</summary>
    public TrafficSlot? SlotOf(int port) => port == SlotPort(TrafficSlot.Blue) ? TrafficSlot.Blue : port == SlotPort(TrafficSlot.Green) ? TrafficSlot.Green : null;

    /// <summary>
    /// This target as one slot's instance sees it: its own service (PM2 app, systemd unit, container), port and
    /// directory. Probes, the service manager and stop/start act on it as on any target; the lock, the journal and
    /// the records stay the target's own.
    /// </summary>
    internal VaultTarget ForSlot(string serviceName, int port, string appPath) =>
        this with { ServiceName = serviceName, Port = port, AppPath = appPath, PassesPort = true };

    /// <summary>A slot's instance learns its port from PORT in its environment (the env file names the target's own port).</summary>
    internal bool PassesPort { get; init; }

    private (string Key, string Message)? FindProxyProblem()
    {
        if (Proxy == ProxyKind.None)
        {
            return null;
        }

        foreach (var (key, port) in new[] { ("BluePort", SlotPort(TrafficSlot.Blue)), ("GreenPort", SlotPort(TrafficSlot.Green)), ("ProxyPort", ProxyPort) })
        {
            if (port is < 1 or > 65535)
            {
                return (key, $"{key} {port} is outside 1-65535.");
            }
        }

        if (SlotPort(TrafficSlot.Blue) == SlotPort(TrafficSlot.Green))
        {
            return ("GreenPort", $"the blue and green slots both use port {SlotPort(TrafficSlot.Blue)}; give them two ports.");
        }

        if (ProxyPort == SlotPort(TrafficSlot.Blue) || ProxyPort == SlotPort(TrafficSlot.Green))
        {
            return ("ProxyPort", $"nginx's port {ProxyPort} is one of the slots' ports; nginx and the slots need ports of their own.");
        }

        if (!RemotePaths.IsSafeAbsolute(UpstreamFilePath))
        {
            return ("UpstreamFile", $"UpstreamFile '{UpstreamFilePath}' must be an absolute path without control characters or '..' segments.");
        }

        if (NginxConfig is not null && !RemotePaths.IsSafeAbsolute(NginxConfig))
        {
            return ("NginxConfig", $"NginxConfig '{NginxConfig}' must be an absolute path without control characters or '..' segments.");
        }

        if (!UpstreamNames.IsMatch(UpstreamBlockName))
        {
            return ("UpstreamName", $"UpstreamName '{UpstreamBlockName}' must be letters, digits and '_', starting with a letter or '_'.");
        }

        return null;
    }
}
