namespace Dragonfly.PubSub.Agent.Tests.Pieces;

/// <summary>Tests that read the process-wide Prometheus counters run one after another.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class MetricsCollection
{
    public const string Name = "metrics";
}
