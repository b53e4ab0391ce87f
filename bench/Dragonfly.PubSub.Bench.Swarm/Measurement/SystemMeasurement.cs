namespace Dragonfly.PubSub.Bench.Swarm.Measurement;

/// <summary>What one run of one system measured, before it is turned into ratios.</summary>
internal sealed record SystemMeasurement
{
    public required string Name { get; init; }

    /// <summary>Seconds from the start (announcement, or all clients started) to each receiver's completion.</summary>
    public required IReadOnlyList<double> CompletionSeconds { get; init; }

    /// <summary>What this system's clock includes: when it starts, when each receiver's time ends, what ran before.</summary>
    public required string ClockStart { get; init; }

    /// <summary>
    /// Seconds from the user's command (dfpub, dfget, curl, aria2c spawned) to the clock's start; 0 where the clock
    /// starts at the command. Added to <see cref="CompletionSeconds"/> it gives the time from the command.
    /// </summary>
    public double CommandToClockSeconds { get; init; }

    /// <summary>
    /// Per receiver, milliseconds from its agent receiving the announcement (or request) to its first piece request,
    /// from the agent's task JSON (<c>announcedAt</c>, <c>firstPieceRequestedAt</c>); null where the agent does not report them.
    /// </summary>
    public IReadOnlyList<double?> AnnouncedToFirstRequestMilliseconds { get; init; } = [];

    /// <summary>Bytes the origin sent: nginx's body bytes, or the link of the node holding the published file.</summary>
    public required long OriginEgressBytes { get; init; }

    /// <summary>How <see cref="OriginEgressBytes"/> was counted.</summary>
    public string OriginEgressMeasure { get; init; } = "";

    /// <summary>Bytes the publisher or seed served (its own counter where it has one, else its link).</summary>
    public required long PublisherUploadBytes { get; init; }

    /// <summary>How <see cref="PublisherUploadBytes"/> was counted.</summary>
    public string PublisherUploadMeasure { get; init; } = "";

    public required double CpuSeconds { get; init; }

    public required long PeakRssBytes { get; init; }

    public required bool Verified { get; init; }

    /// <summary>Our systems: whether the run was TLS, checked from outside the processes (DragonflyNodes.CheckTransport); null for the baselines.</summary>
    public bool? Encrypted { get; init; }

    public IReadOnlyList<string> Notes { get; init; } = [];

    /// <summary>Our systems: the receivers' scheduler events, counted before the transfer and once all finished; null for the baselines.</summary>
    public (double[] Before, double[] After)? SchedulerEvents { get; init; }

    /// <summary>Per receiver: (seconds, completed pieces) as progress was seen; empty for the baselines.</summary>
    public IReadOnlyList<IReadOnlyList<double[]>> Timelines { get; init; } = [];
}
