using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using YieldVault.Ops.Hosts;

namespace YieldVault.Ops.Diagnosis;

/// <summary>One reading of the backend's process and its host: resident memory, CPU time, the host's CPU counters.</summary>
internal sealed record ProcessSample(double Seconds, double? RssMB, long? CpuTicks, long HostTotal, long HostIdle, long HostIoWait);

/// <summary>
/// Samples the backend's process once a second for a bounded time in one command on its host (runbook "top", "iostat",
/// "ps aux | grep yieldvault-backend"): VmRSS and utime+stime from /proc/&lt;pid&gt;, and the host's CPU counters from
/// /proc/stat, so memory growth, CPU use and I/O wait come from one window.
/// </summary>
internal static class ProcessSampler
{
    /// <summary>The most readings one sample takes.</summary>
    public const int MaxSamples = 120;

    // $1 pid ('' when the backend does not run), $2 number of readings. utime and stime are fields 14 and 15 of
    // /proc/<pid>/stat, counted after the command name in parentheses (which may hold spaces).
    private const string Script = @"pid=""$1""; n=""$2""
printf 'hz %s\n' ""$(getconf CLK_TCK 2>/dev/null || echo 100)""
i=0
while [ ""$i"" -lt ""$n"" ]; do
  rss=-; ticks=-
  if [ -n ""$pid"" ] && [ -r ""/proc/$pid/status"" ]; then
    rss=$(awk '/^VmRSS:/{print $2}' ""/proc/$pid/status"" 2>/dev/null); ticks=$(sed 's/^.*) //' ""/proc/$pid/stat"" 2>/dev/null | awk '{print $12+$13}')
  fi
  cpu=$(awk '/^cpu /{print $2+$3+$4+$5+$6+$7+$8+$9, $5, $6}' /proc/stat)
  printf 's %s %s %s %s\n' ""$(date +%s%N | cut -c1-13)"" ""${rss:--}"" ""${ticks:--}"" ""$cpu""
  i=$((i+1)); [ ""$i"" -lt ""$n"" ] && sleep 1
done";

    public static async Task<(IReadOnlyList<ProcessSample> Samples, int Hz)> SampleAsync(IHostShell shell, int? pid, TimeSpan duration, CancellationToken cancellationToken)
    {
        var count = Math.Max(2, Math.Min(MaxSamples, (int)Math.Round(duration.TotalSeconds)));
        var result = await shell.RunAsync(CommandLine.Script(Script, pid?.ToString(CultureInfo.InvariantCulture) ?? "", count.ToString(CultureInfo.InvariantCulture)),
            TimeSpan.FromSeconds(count + 30), cancellationToken).ConfigureAwait(false);
        return Parse(result.StandardOutput);
    }

    internal static (IReadOnlyList<ProcessSample> Samples, int Hz) Parse(string output)
    {
        var hz = 100;
        var samples = new List<ProcessSample>();
        double? first = null;
        foreach (var line in output.Replace("\r", "").Split('\n'))
        {
            var f = line.Split(new[] { ' ' }, StringSplitOptions.RemoveEmptyEntries);
            if (f.Length == 2 && f[0] == "hz" && int.TryParse(f[1], NumberStyles.Integer, CultureInfo.InvariantCulture, out var h) && h > 0)
            {
                hz = h;
            }
            else if (f.Length == 7 && f[0] == "s" && long.TryParse(f[1], NumberStyles.Integer, CultureInfo.InvariantCulture, out var ms))
            {
                first ??= ms;
                samples.Add(new ProcessSample(
                    (ms - first.Value) / 1000.0,
                    long.TryParse(f[2], NumberStyles.Integer, CultureInfo.InvariantCulture, out var rss) ? rss / 1024.0 : null,
                    long.TryParse(f[3], NumberStyles.Integer, CultureInfo.InvariantCulture, out var ticks) ? ticks : null,
                    Long(f[4]), Long(f[5]), Long(f[6])));
            }
        }

        return (samples, hz);
    }

    /// <summary>The least-squares slope of <paramref name="points"/> (x seconds, y MB), in MB per minute.</summary>
    public static double SlopePerMinute(IReadOnlyList<(double X, double Y)> points)
    {
        if (points.Count < 2)
        {
            return 0;
        }

        var mx = points.Average(p => p.X);
        var my = points.Average(p => p.Y);
        var sxx = points.Sum(p => (p.X - mx) * (p.X - mx));
        return sxx <= 0 ? 0 : points.Sum(p => (p.X - mx) * (p.Y - my)) / sxx * 60;
    }

    private static long Long(string text) => long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) ? value : 0;
}
