namespace Dragonfly.PubSub.Bench.BrokerLoad;

/// <summary>Where the piece-report rate of a run comes from.</summary>
public enum LoadProfile
{
    /// <summary>--report-interval as given (default 10..20 s per agent: a light load).</summary>
    Default,

    /// <summary>The rate a real swarm produces (<see cref="SwarmReportRate"/>).</summary>
    Swarm,
}
