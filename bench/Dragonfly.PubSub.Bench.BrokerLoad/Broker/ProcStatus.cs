using Dragonfly.PubSub.Bench.Common.Processes;

namespace Dragonfly.PubSub.Bench.BrokerLoad.Broker;

/// <summary>Memory and CPU of one process, read from /proc (Linux only).</summary>
internal readonly record struct ProcStatus(long RssBytes, long PeakRssBytes, double CpuSeconds)
{
    public static ProcStatus? Read(int pid)
    {
        try
        {
            var status = File.ReadAllLines($"/proc/{pid}/status");
            // A zombie has no memory lines: zero, as the process is as good as gone.
            var rss = (ProcFs.TryParseKiB(status, "VmRSS") ?? 0) * 1024;
            var hwm = (ProcFs.TryParseKiB(status, "VmHWM") ?? 0) * 1024;
            return new ProcStatus(rss, hwm, ProcFs.ParseCpuSeconds(File.ReadAllText($"/proc/{pid}/stat")));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return null; // the process is gone
        }
    }
}
