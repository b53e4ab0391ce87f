using System.Globalization;

namespace Dragonfly.PubSub.Bench.Measurement;

/// <summary>Reads a process's memory figures from <c>/proc/&lt;pid&gt;/status</c> (Linux).</summary>
internal static class ProcStatus
{
    /// <summary>VmHWM: the peak resident set size since the process started.</summary>
    public static long PeakRssBytes(int pid) => ReadKiB(pid, "VmHWM") * 1024;

    /// <summary>VmRSS: the resident set size now.</summary>
    public static long RssBytes(int pid) => ReadKiB(pid, "VmRSS") * 1024;

    private static long ReadKiB(int pid, string field)
    {
        // Lines look like "VmHWM:	   81236 kB".
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith(field + ":", StringComparison.Ordinal))
            {
                var value = line[(field.Length + 1)..].Trim().Split(' ')[0];
                return long.Parse(value, CultureInfo.InvariantCulture);
            }
        }
        throw new InvalidOperationException($"/proc/{pid}/status has no {field} line");
    }
}
