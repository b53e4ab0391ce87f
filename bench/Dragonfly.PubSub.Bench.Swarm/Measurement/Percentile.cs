namespace Dragonfly.PubSub.Bench.Swarm.Measurement;

internal static class Percentile
{
    /// <summary>
    /// Nearest rank: the smallest value with at least <paramref name="percent"/> % of the values at
    /// or below it (so p99 of 16 values is the largest, never an interpolated time nobody had).
    /// </summary>
    public static double Of(IReadOnlyCollection<double> values, double percent)
    {
        if (values.Count == 0)
        {
            throw new ArgumentException("no values", nameof(values));
        }
        if (percent is <= 0 or > 100)
        {
            throw new ArgumentOutOfRangeException(nameof(percent), "between 0 (exclusive) and 100");
        }
        var sorted = values.Order().ToArray();
        var rank = (int)Math.Ceiling(percent / 100 * sorted.Length);
        return sorted[Math.Clamp(rank, 1, sorted.Length) - 1];
    }
}
