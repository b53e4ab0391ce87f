namespace Dragonfly.PubSub.Broker.Dashboard;

/// <summary>
/// Bytes moved since the broker started, as the agents reported them. <see cref="Delivered"/> is what members received
/// through the swarm (from peers, publishers and seeds); <see cref="Sourced"/> what URL tasks' sources fetched from origins.
/// </summary>
/// <param name="SourcedByMembers">Of <see cref="Sourced"/>: fetched by an ordinary agent for itself (no seed), so also a copy delivered.</param>
internal readonly record struct TrafficTotals(long Delivered, long FromPeers, long FromPublishers, long Unattributed, long Sourced, long SourcedByMembers)
{
    /// <summary>What left an origin: a URL's server (<see cref="Sourced"/>) or a publisher, the origin of what it published.</summary>
    public long Origin => Sourced + FromPublishers;

    /// <summary>Copies the agents got: without the swarm each would have come from the origin.</summary>
    public long Demand => Delivered + SourcedByMembers;

    /// <summary>Origin bytes the swarm saved.</summary>
    public long Saved => Math.Max(0, Demand - Origin);

    public TrafficTotals Minus(TrafficTotals earlier) => new(
        Delivered - earlier.Delivered, FromPeers - earlier.FromPeers, FromPublishers - earlier.FromPublishers,
        Unattributed - earlier.Unattributed, Sourced - earlier.Sourced, SourcedByMembers - earlier.SourcedByMembers);
}
