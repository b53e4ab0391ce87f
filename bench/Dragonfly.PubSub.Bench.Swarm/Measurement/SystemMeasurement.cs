namespace Dragonfly.PubSub.Bench.Swarm.Measurement;

/// <summary>What one run of one system measured, before it is turned into ratios.</summary>
internal sealed record SystemMeasurement
{
    public required string Name { get; init; }

    /// <summary>Seconds from the start (announcement, or all clients started) to each receiver's completion.</summary>
    public required IReadOnlyList<double> CompletionSeconds { get; init; }

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

    public IReadOnlyList<string> Notes { get; init; } = [];

    /// <summary>Per receiver: (seconds, completed pieces) as progress was seen; empty for the baselines.</summary>
    public IReadOnlyList<IReadOnlyList<double[]>> Timelines { get; init; } = [];
}
