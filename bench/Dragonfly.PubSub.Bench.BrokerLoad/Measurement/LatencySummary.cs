using Dragonfly.PubSub.Bench.Common.Measurement;

namespace Dragonfly.PubSub.Bench.BrokerLoad.Measurement;

/// <summary>Percentiles of a set of latencies in milliseconds (nearest rank: never an interpolated value nobody saw).</summary>
internal sealed record LatencySummary(int Count, double P50Ms, double P90Ms, double P99Ms, double MaxMs, double MeanMs)
{
    public static readonly LatencySummary None = new(0, 0, 0, 0, 0, 0);

    public static LatencySummary Of(IEnumerable<double> valuesMs)
    {
        var sorted = valuesMs.Order().ToArray();
        if (sorted.Length == 0)
        {
            return None;
        }
        return new LatencySummary(
            sorted.Length,
            Statistics.NearestRank(sorted, 50),
            Statistics.NearestRank(sorted, 90),
            Statistics.NearestRank(sorted, 99),
            sorted[^1],
            sorted.Average());
    }

}
