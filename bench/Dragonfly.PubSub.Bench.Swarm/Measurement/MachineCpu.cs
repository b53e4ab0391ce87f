using System.Globalization;

namespace Dragonfly.PubSub.Bench.Swarm.Measurement;

/// <summary>
/// How busy the whole machine's CPUs were, from the first line of <c>/proc/stat</c>: sample it every
/// so often during a transfer; the busy share of each interval gives the average and the peak, which
/// say whether the CPU (not the links) may have been the limit.
/// </summary>
internal sealed class MachineCpu
{
    private readonly List<double> _busy = [];
    private (long Busy, long Total)? _last;

    public double AverageBusy => _busy.Count == 0 ? 0 : _busy.Average();

    public double PeakBusy => _busy.Count == 0 ? 0 : _busy.Max();

    public void Sample() => Add(ReadTicks());

    internal void Add((long Busy, long Total) now)
    {
        if (_last is { } last && now.Total > last.Total)
        {
            _busy.Add((now.Busy - last.Busy) / (double)(now.Total - last.Total));
        }
        _last = now;
    }

    /// <summary>Busy and total jiffies from a "cpu  user nice system idle iowait irq softirq steal ..." line.</summary>
    internal static (long Busy, long Total) ParseTicks(string cpuLine)
    {
        var fields = cpuLine.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Take(8)
            .Select(f => long.Parse(f, CultureInfo.InvariantCulture)).ToArray();
        var total = fields.Sum();
        var idle = fields[3] + (fields.Length > 4 ? fields[4] : 0); // idle + iowait
        return (total - idle, total);
    }

    private static (long Busy, long Total) ReadTicks()
    {
        using var reader = new StreamReader("/proc/stat");
        return ParseTicks(reader.ReadLine() ?? throw new InvalidDataException("/proc/stat is empty"));
    }
}
