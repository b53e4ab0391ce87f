using System.Globalization;

namespace Dragonfly.PubSub.Bench.Swarm.Processes;

/// <summary>CPU time and peak RSS of a running process, from /proc (Linux).</summary>
internal static class ProcStat
{
    // USER_HZ: the unit of utime/stime in /proc/<pid>/stat; 100 on every Linux ABI we run on.
    private const double TicksPerSecond = 100;

    /// <summary>User + system CPU seconds so far; null once the process is gone.</summary>
    public static double? CpuSeconds(int pid)
    {
        try
        {
            return ParseCpuSeconds(File.ReadAllText($"/proc/{pid}/stat"));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>VmHWM (peak resident set) in bytes; null once the process is gone.</summary>
    public static long? PeakRssBytes(int pid)
    {
        try
        {
            return ParseKiB(File.ReadAllLines($"/proc/{pid}/status"), "VmHWM") * 1024;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
        catch (InvalidDataException)
        {
            // A zombie (exited, not yet reaped) has no memory lines.
            return null;
        }
    }

    /// <summary>Fields 14 and 15 (utime, stime) of a stat line; the command name may hold spaces and parentheses.</summary>
    public static double ParseCpuSeconds(string statLine)
    {
        var afterName = statLine[(statLine.LastIndexOf(')') + 2)..].Split(' ');
        // afterName[0] is field 3 (state), so field k is afterName[k - 3].
        var utime = long.Parse(afterName[14 - 3], CultureInfo.InvariantCulture);
        var stime = long.Parse(afterName[15 - 3], CultureInfo.InvariantCulture);
        return (utime + stime) / TicksPerSecond;
    }

    public static long ParseKiB(IEnumerable<string> statusLines, string field)
    {
        foreach (var line in statusLines)
        {
            if (line.StartsWith(field + ":", StringComparison.Ordinal))
            {
                return long.Parse(line[(field.Length + 1)..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
            }
        }
        throw new InvalidDataException($"no {field} line in /proc/<pid>/status");
    }
}
