using System.Runtime.InteropServices;

namespace Dragonfly.PubSub.Bench.Pair;

/// <summary>The machine the figures come from.</summary>
internal sealed record PairMachine(int ProcessorCount, string Os, string Runtime)
{
    public static PairMachine Current =>
        new(Environment.ProcessorCount, RuntimeInformation.OSDescription, RuntimeInformation.FrameworkDescription);

    /// <summary>The 1/5/15-minute load averages (Linux): other work on a shared machine skews the figures.</summary>
    public static string LoadAverage() =>
        File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "unknown";
}
