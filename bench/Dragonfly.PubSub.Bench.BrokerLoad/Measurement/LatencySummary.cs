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
            Rank(sorted, 50),
            Rank(sorted, 90),
            Rank(sorted, 99),
            sorted[^1],
            sorted.Average());
    }

    private static double Rank(double[] sorted, double percent)
    {
        var rank = (int)Math.Ceiling(percent / 100 * sorted.Length);
        return sorted[Math.Clamp(rank, 1, sorted.Length) - 1];
    }
}
