using System.Globalization;

namespace Dragonfly.PubSub.Bench.BrokerLoad.Broker;

/// <summary>Memory and CPU of one process, read from /proc (Linux only).</summary>
internal readonly record struct ProcStatus(long RssBytes, long PeakRssBytes, double CpuSeconds)
{
    // USER_HZ: the unit of utime/stime in /proc/<pid>/stat; 100 on every Linux we run on.
    private const double ClockTicksPerSecond = 100;

    public static ProcStatus? Read(int pid)
    {
        try
        {
            long rss = 0, hwm = 0;
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                {
                    rss = Kilobytes(line);
                }
                else if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                {
                    hwm = Kilobytes(line);
                }
            }
            // The command name in field 2 may contain spaces: the fields we want follow its closing parenthesis.
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            // fields[0] is field 3 (state); utime and stime are fields 14 and 15.
            var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
            return new ProcStatus(rss, hwm, ticks / ClockTicksPerSecond);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return null; // the process is gone
        }
    }

    private static long Kilobytes(string line)
    {
        var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return long.Parse(parts[1], CultureInfo.InvariantCulture) * 1024;
    }
}
