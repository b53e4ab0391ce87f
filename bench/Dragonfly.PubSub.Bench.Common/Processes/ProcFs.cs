using System.Globalization;

namespace Dragonfly.PubSub.Bench.Common.Processes;

/// <summary>CPU time and memory of a process, from <c>/proc/&lt;pid&gt;/stat</c> and <c>/proc/&lt;pid&gt;/status</c> (Linux).</summary>
public static class ProcFs
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

    /// <summary>A kB field of the status file (VmRSS: now, VmHWM: peak) in bytes; throws when the process is gone.</summary>
    public static long StatusBytes(int pid, string field) => ParseKiB(File.ReadLines($"/proc/{pid}/status"), field) * 1024;

    /// <summary>Fields 14 and 15 (utime, stime) of a stat line; the command name may hold spaces and parentheses.</summary>
    public static double ParseCpuSeconds(string statLine)
    {
        var afterName = statLine[(statLine.LastIndexOf(')') + 2)..].Split(' ');
        // afterName[0] is field 3 (state), so field k is afterName[k - 3].
        var utime = long.Parse(afterName[14 - 3], CultureInfo.InvariantCulture);
        var stime = long.Parse(afterName[15 - 3], CultureInfo.InvariantCulture);
        return (utime + stime) / TicksPerSecond;
    }

    /// <summary>The number of a line such as <c>VmHWM:	   81236 kB</c>; throws when there is none.</summary>
    public static long ParseKiB(IEnumerable<string> statusLines, string field) =>
        TryParseKiB(statusLines, field) ?? throw new InvalidDataException($"no {field} line in /proc/<pid>/status");

    public static long? TryParseKiB(IEnumerable<string> statusLines, string field)
    {
        foreach (var line in statusLines)
        {
            if (line.StartsWith(field + ":", StringComparison.Ordinal))
            {
                return long.Parse(line[(field.Length + 1)..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
            }
        }
        return null;
    }
}
