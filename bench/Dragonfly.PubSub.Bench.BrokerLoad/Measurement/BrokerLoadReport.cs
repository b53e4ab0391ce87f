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
    /// <summary>Over all brokers' histograms (buckets added).</summary>
    public required ServerComputeFigures ServerCompute { get; init; }
    /// <summary>The brokers' own NeedParents → ParentSet (all brokers' histograms added); counts 0 against a broker without the histogram.</summary>
    public required ServerLatencyFigures ServerLatency { get; init; }
    /// <summary>Publish → MQTT subscribers (one broker only; null with several, whose announcements need an external MQTT broker).</summary>
    public required AnnouncementFigures? Announcement { get; init; }

    /// <summary>The brokers' RSS and CPU summed (one broker: its own).</summary>
    public required ResourceFigures Broker { get; init; }

    /// <summary>Each broker: its tasks and agents, schedule latency, compute, RSS and CPU.</summary>
    public required IReadOnlyList<BrokerFigures> Brokers { get; init; }

    /// <summary>The Redis the brokers share (null: one broker on LiteDB).</summary>
    public ResourceFigures? Redis { get; init; }
    public required ResourceFigures Bench { get; init; }

    /// <summary>The simulator's own collections during the load, each generation's count and pauses (null in files before 2026-12-06).</summary>
    public GcFigures? BenchCollections { get; init; }
    public required TargetFigures Target { get; init; }

    /// <summary>The dashboard readers during the load (null: none were asked for).</summary>
    public DashboardFigures? Dashboard { get; init; }
}
