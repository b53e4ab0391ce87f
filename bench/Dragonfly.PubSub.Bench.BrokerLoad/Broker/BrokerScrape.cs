using System.Globalization;

namespace Dragonfly.PubSub.Bench.BrokerLoad.Broker;

/// <summary>
/// What the benchmark reads off a broker's /metrics before and after the load: its own timing of ParentSets, the
/// computation alone (<c>dragonfly_broker_schedule_duration_seconds</c>) and a NeedParents's arrival to its answer
/// queued and written (<c>dragonfly_broker_schedule_latency_seconds</c>), and its garbage collector's pauses. Set
/// against the latency the simulated agents see, they tell the broker's share from the transport's and the simulator's.
/// </summary>
internal sealed record BrokerScrape(HistogramSnapshot Compute, HistogramSnapshot Queued, HistogramSnapshot Written, double GcPauseSeconds, double Gen2Collections)
{
    public const string ComputeName = "dragonfly_broker_schedule_duration_seconds";
    public const string LatencyName = "dragonfly_broker_schedule_latency_seconds";

    public static readonly BrokerScrape Empty = new(HistogramSnapshot.Empty, HistogramSnapshot.Empty, HistogramSnapshot.Empty, 0, 0);

    /// <summary>Reads a /metrics page (a broker older than the latency histogram gives empty ones).</summary>
    public static BrokerScrape Parse(string text) => new(
        HistogramSnapshot.Parse(text, ComputeName),
        HistogramSnapshot.Parse(text, LatencyName, "stage=\"queued\""),
        HistogramSnapshot.Parse(text, LatencyName, "stage=\"written\""),
        Sample(text, "system_runtime_dotnet_gc_pause_time "),
        Sample(text, "system_runtime_dotnet_gc_collections{gc_heap_generation=\"gen2\"} "));

    public BrokerScrape Minus(BrokerScrape earlier) =>
        new(Compute.Minus(earlier.Compute), Queued.Minus(earlier.Queued), Written.Minus(earlier.Written),
            GcPauseSeconds - earlier.GcPauseSeconds, Gen2Collections - earlier.Gen2Collections);

    public BrokerScrape Plus(BrokerScrape other) =>
        new(Compute.Plus(other.Compute), Queued.Plus(other.Queued), Written.Plus(other.Written),
            GcPauseSeconds + other.GcPauseSeconds, Gen2Collections + other.Gen2Collections);

    /// <summary>The value of the sample line that starts with <paramref name="series"/> (0 when absent).</summary>
    private static double Sample(string text, string series)
    {
        foreach (var line in text.Split('\n'))
        {
            if (line.StartsWith(series, StringComparison.Ordinal))
            {
                return double.Parse(line[series.Length..].Trim(), NumberStyles.Float, CultureInfo.InvariantCulture);
            }
        }
        return 0;
    }
}
