using System.Globalization;
using System.Text;

namespace Dragonfly.PubSub.IntegrationTests.Infrastructure;

/// <summary>A parsed Prometheus text exposition (<c>GET /metrics</c>).</summary>
public sealed class PrometheusMetrics(IReadOnlyList<MetricSample> samples)
{
    public IReadOnlyList<MetricSample> Samples { get; } = samples;

    /// <summary>The sum of the samples named <paramref name="name"/> carrying all <paramref name="labels"/>; null when there are none.</summary>
    public double? Find(string name, params (string Key, string Value)[] labels)
    {
        var matching = Samples.Where(s => s.Matches(name, labels)).ToList();
        return matching.Count == 0 ? null : matching.Sum(s => s.Value);
    }

    /// <summary>Like <see cref="Find"/>, but a missing metric fails the test with the names that exist.</summary>
    public double Require(string name, params (string Key, string Value)[] labels) =>
        Find(name, labels) ?? throw new Xunit.Sdk.XunitException(
            $"metric {name}{(labels.Length == 0 ? "" : "{" + string.Join(',', labels.Select(l => $"{l.Key}=\"{l.Value}\"")) + "}")} is not exported; "
            + $"exported: {string.Join(", ", Samples.Where(s => s.Name.StartsWith("dragonfly", StringComparison.Ordinal)).Select(s => s.ToString()).Take(40))}");

    public static PrometheusMetrics Parse(string text)
    {
        var samples = new List<MetricSample>();
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.Trim();
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }
            samples.Add(ParseLine(line));
        }
        return new PrometheusMetrics(samples);
    }

    private static MetricSample ParseLine(string line)
    {
        var labels = new Dictionary<string, string>();
        int i = 0;
        while (i < line.Length && line[i] != '{' && !char.IsWhiteSpace(line[i]))
        {
            i++;
        }
        var name = line[..i];
        if (i < line.Length && line[i] == '{')
        {
            i++;
            while (i < line.Length && line[i] != '}')
            {
                var eq = line.IndexOf('=', i);
                var key = line[i..eq].Trim().TrimStart(',').Trim();
                i = eq + 1;
                if (line[i] != '"')
                {
                    throw new FormatException($"label value is not quoted in metric line: {line}");
                }
                i++;
                var value = new StringBuilder();
                while (line[i] != '"')
                {
                    if (line[i] == '\\' && i + 1 < line.Length)
                    {
                        i++;
                        value.Append(line[i] == 'n' ? '\n' : line[i]);
                    }
                    else
                    {
                        value.Append(line[i]);
                    }
                    i++;
                }
                i++;
                labels[key] = value.ToString();
                while (i < line.Length && (line[i] == ',' || char.IsWhiteSpace(line[i])))
                {
                    i++;
                }
            }
            i++;
        }
        var rest = line[i..].Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (rest.Length == 0)
        {
            throw new FormatException($"metric line without a value: {line}");
        }
        var number = rest[0] switch
        {
            "+Inf" or "Inf" => double.PositiveInfinity,
            "-Inf" => double.NegativeInfinity,
            "NaN" => double.NaN,
            var v => double.Parse(v, NumberStyles.Float, CultureInfo.InvariantCulture),
        };
        return new MetricSample(name, labels, number);
    }
}
