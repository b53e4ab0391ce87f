namespace Dragonfly.PubSub.Bench.BrokerLoad.Measurement;

/// <summary>result.json of <c>dfbench broker</c>.</summary>
internal sealed record BrokerLoadReport
{
    public required DateTimeOffset StartedAt { get; init; }
    public required string Machine { get; init; }

    /// <summary>/proc/loadavg when the run started and when the load phase ended (the machine may be shared).</summary>
    public required string LoadAverageAtStart { get; init; }
    public required string LoadAverageAtEnd { get; init; }
    public required LoadSettings Settings { get; init; }
    public required SetupFigures Setup { get; init; }
    public required ScheduleFigures Schedule { get; init; }
    public required ServerComputeFigures ServerCompute { get; init; }
    public required AnnouncementFigures Announcement { get; init; }
    public required ResourceFigures Broker { get; init; }
    public required ResourceFigures Bench { get; init; }
    public required TargetFigures Target { get; init; }

    /// <summary>The dashboard readers during the load (null: none were asked for).</summary>
    public DashboardFigures? Dashboard { get; init; }
}
