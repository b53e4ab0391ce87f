namespace Dragonfly.PubSub.IntegrationTests.Infrastructure;

/// <summary>One line of Prometheus text: name, labels, value.</summary>
public sealed record MetricSample(string Name, IReadOnlyDictionary<string, string> Labels, double Value)
{
    public bool Matches(string name, IEnumerable<(string Key, string Value)> labels) =>
        Name == name && labels.All(l => Labels.TryGetValue(l.Key, out var v) && v == l.Value);

    public override string ToString() =>
        Labels.Count == 0 ? $"{Name} {Value}" : $"{Name}{{{string.Join(',', Labels.Select(l => $"{l.Key}=\"{l.Value}\""))}}} {Value}";
}
