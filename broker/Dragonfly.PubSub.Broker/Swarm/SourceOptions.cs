namespace Dragonfly.PubSub.Broker.Swarm;

/// <summary>How the coordinator picks and replaces the sources of URL tasks. Immutable.</summary>
public sealed record SourceOptions
{
    /// <summary>
    /// The broker hosts its own seed: until a seed peer has connected, and for at most this long after
    /// start, URL tasks wait for it instead of making a member agent their source. Null: no own seed.
    /// </summary>
    public TimeSpan? OwnSeedWait { get; init; }

    /// <summary>Failed source attempts (stream ended, non-permanent SourceFailed) after which the task fails for everyone.</summary>
    public int MaxSourceAttempts { get; init; } = 3;

    /// <summary>
    /// A sourced task whose swarm no longer holds every piece (the peers that had them left) gets a new
    /// source after this long, so the remaining members do not starve.
    /// </summary>
    public TimeSpan LostPiecesGrace { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>A task that nobody joined and no source works on is forgotten after this long.</summary>
    public TimeSpan IdleExpiry { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// Where the piece digests of URL tasks still being sourced are kept beyond this broker's memory (several
    /// brokers: Redis), so that the broker a task moves to knows the pieces its swarm already verified. Null: memory only.
    /// </summary>
    public IUrlTaskProgress? Progress { get; init; }

    /// <summary>How often waiting tasks are looked at again (the coordinator's timer).</summary>
    public TimeSpan TickInterval { get; init; } = TimeSpan.FromSeconds(1);
}
