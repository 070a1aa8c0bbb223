using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using Docker.DotNet;

namespace YieldVault.Ops.Services;

/// <summary>The container's log as the engine sends it: the since parameter and the framed stream.</summary>
internal static class DockerContainerLog
{
    /// <summary>Demultiplexes a log stream into lines, stdout and stderr each whole, in the order the engine sent them.</summary>
    public static async Task<IReadOnlyList<string>> ReadLinesAsync(MultiplexedStream stream, int tail, CancellationToken cancellationToken)
    {
        var lines = new Queue<string>();
        var partial = new Dictionary<MultiplexedStream.TargetStream, (Decoder Decoder, StringBuilder Text)>();
        var buffer = new byte[16 * 1024];
        var chars = new char[Encoding.UTF8.GetMaxCharCount(buffer.Length)];

        void Add(string line)
        {
            lines.Enqueue(line.EndsWith("\r", StringComparison.Ordinal) ? line.Substring(0, line.Length - 1) : line);
            if (lines.Count > tail)
            {
                lines.Dequeue();
            }
        }

        while (true)
        {
            var result = await stream.ReadOutputAsync(buffer, 0, buffer.Length, cancellationToken).ConfigureAwait(false);
            if (result.EOF)
            {
                break;
            }

            if (result.Count == 0)
            {
                continue;
            }

            if (!partial.TryGetValue(result.Target, out var part))
            {
                part = (Encoding.UTF8.GetDecoder(), new StringBuilder());
                partial[result.Target] = part;
            }

            var count = part.Decoder.GetChars(buffer, 0, result.Count, chars, 0);
            for (var i = 0; i < count; i++)
            {
                if (chars[i] == '\n')
                {
                    Add(part.Text.ToString());
                    part.Text.Clear();
                }
                else
                {
                    part.Text.Append(chars[i]);
                }
            }
        }

        foreach (var part in partial.Values.Where(p => p.Text.Length > 0))
        {
            Add(part.Text.ToString());
        }

        return lines.ToArray();
    }

    public static string UnixTimestamp(DateTimeOffset time)
    {
        var ticks = time.UtcTicks - DateTimeOffset.FromUnixTimeSeconds(0).UtcTicks;
        var seconds = Math.DivRem(ticks, TimeSpan.TicksPerSecond, out var rest);
        return seconds.ToString(CultureInfo.InvariantCulture) + "." + (rest * 100).ToString("000000000", CultureInfo.InvariantCulture);
    }
}
