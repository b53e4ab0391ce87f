namespace Dragonfly.PubSub.Bench.Common.Measurement;

public static class Statistics
{
    /// <summary>The middle value; the mean of the two middle values for an even count.</summary>
    public static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        if (sorted.Length == 0)
        {
            throw new ArgumentException("no values", nameof(values));
        }
        var middle = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
    }

    /// <summary>
    /// Nearest rank: the smallest value with at least <paramref name="percent"/> % of the values at
    /// or below it (so p99 of 16 values is the largest, never an interpolated time nobody had).
    /// </summary>
    public static double Percentile(IReadOnlyCollection<double> values, double percent)
    {
        if (values.Count == 0)
        {
            throw new ArgumentException("no values", nameof(values));
        }
        if (percent is <= 0 or > 100)
        {
            throw new ArgumentOutOfRangeException(nameof(percent), "between 0 (exclusive) and 100");
        }
        return NearestRank(values.Order().ToArray(), percent);
    }

    /// <summary><see cref="Percentile"/> of values already sorted ascending (not empty), without the checks.</summary>
    public static double NearestRank(double[] sorted, double percent)
    {
        var rank = (int)Math.Ceiling(percent / 100 * sorted.Length);
        return sorted[Math.Clamp(rank, 1, sorted.Length) - 1];
    }
}
