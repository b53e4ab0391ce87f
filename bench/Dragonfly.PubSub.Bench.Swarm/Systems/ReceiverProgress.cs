namespace Dragonfly.PubSub.Bench.Swarm.Systems;

/// <summary>One agent's task as the benchmark saw it change; written only by its watcher.</summary>
internal sealed class ReceiverProgress
{
    /// <summary>The task followed: the one asked for, or the first the agent showed.</summary>
    public string? Digest { get; set; }

    public TimeSpan? FirstSeen { get; set; }

    public TimeSpan? Completed { get; set; }

    public string? Failure { get; set; }

    public string? OutputPath { get; set; }

    /// <summary>Bytes the agent fetched from the origin itself (a URL task's source), as of the last snapshot.</summary>
    public long BytesFromSource { get; set; }

    public long BytesFromPeers { get; set; }

    public int TotalPieces { get; set; }

    /// <summary>(seconds on the benchmark clock, completed pieces).</summary>
    public List<double[]> Timeline { get; } = [];

    public bool Done => Completed is not null || Failure is not null;
}
