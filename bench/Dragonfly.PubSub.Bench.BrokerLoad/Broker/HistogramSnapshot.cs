using System.Globalization;

namespace Dragonfly.PubSub.Bench.BrokerLoad.Broker;

/// <summary>
/// A Prometheus histogram as scraped (cumulative bucket counts by upper bound). Two scrapes give the
/// observations in between; a quantile is known only up to its bucket's upper bound.
/// </summary>
internal sealed record HistogramSnapshot(IReadOnlyList<(double UpperBound, double Count)> Buckets, double Sum, double Count)
{
    public static readonly HistogramSnapshot Empty = new([], 0, 0);

    /// <summary>
    /// Reads histogram <paramref name="name"/> from Prometheus text: the series without labels besides le, or with
    /// <paramref name="label"/> (say <c>stage="queued"</c>) when given.
    /// </summary>
    public static HistogramSnapshot Parse(string text, string name, string? label = null)
    {
        var series = label is null ? "" : "{" + label + "}";
        var buckets = new List<(double, double)>();
        double sum = 0, count = 0;
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.Trim();
            if (line.StartsWith(name + "_bucket{", StringComparison.Ordinal) && (label is null || line.Contains(label, StringComparison.Ordinal)))
            {
                var le = line.IndexOf("le=\"", StringComparison.Ordinal) + 4;
                var bound = line[le..line.IndexOf('"', le)];
                buckets.Add((bound == "+Inf" ? double.PositiveInfinity : Number(bound), Number(line[(line.LastIndexOf(' ') + 1)..])));
            }
            else if (line.StartsWith(name + "_sum" + series + " ", StringComparison.Ordinal))
            {
                sum = Number(line[(line.LastIndexOf(' ') + 1)..]);
            }
            else if (line.StartsWith(name + "_count" + series + " ", StringComparison.Ordinal))
            {
                count = Number(line[(line.LastIndexOf(' ') + 1)..]);
            }
        }
        buckets.Sort((a, b) => a.Item1.CompareTo(b.Item1));
        return new HistogramSnapshot(buckets, sum, count);
    }

    /// <summary>The observations made after <paramref name="earlier"/> was taken.</summary>
    public HistogramSnapshot Minus(HistogramSnapshot earlier)
    {
        var before = earlier.Buckets.ToDictionary(b => b.UpperBound, b => b.Count);
        return new HistogramSnapshot(
            Buckets.Select(b => (b.UpperBound, b.Count - before.GetValueOrDefault(b.UpperBound))).ToList(),
            Sum - earlier.Sum,
            Count - earlier.Count);
    }

    /// <summary>The observations of both (several brokers' histograms with the same buckets).</summary>
    public HistogramSnapshot Plus(HistogramSnapshot other)
    {
        if (Buckets.Count == 0)
        {
            return other;
        }
        var theirs = other.Buckets.ToDictionary(b => b.UpperBound, b => b.Count);
        return new HistogramSnapshot(
            Buckets.Select(b => (b.UpperBound, b.Count + theirs.GetValueOrDefault(b.UpperBound))).ToList(),
            Sum + other.Sum,
            Count + other.Count);
    }

    /// <summary>The upper bound of the bucket holding the <paramref name="percent"/> quantile; null without observations.</summary>
    public double? QuantileUpperBound(double percent)
    {
        if (Count <= 0)
        {
            return null;
        }
        var rank = Math.Ceiling(percent / 100 * Count);
        foreach (var (bound, cumulative) in Buckets)
        {
            if (cumulative >= rank)
            {
                return bound;
            }
        }
        return double.PositiveInfinity;
    }

    private static double Number(string text) => text switch
    {
        "+Inf" => double.PositiveInfinity,
        _ => double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture),
    };
}
