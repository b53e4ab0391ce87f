namespace Dragonfly.PubSub.Bench.Swarm.Systems;

/// <summary>One receiver's task as the benchmark saw it change; written only by its watcher.</summary>
internal sealed class ReceiverProgress
{
    public TimeSpan? FirstSeen { get; set; }

    public TimeSpan? Completed { get; set; }

    public string? Failure { get; set; }

    public string? OutputPath { get; set; }

    /// <summary>(seconds on the benchmark clock, completed pieces).</summary>
    public List<double[]> Timeline { get; } = [];

    public bool Done => Completed is not null || Failure is not null;
}
