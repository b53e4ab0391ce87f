namespace Dragonfly.PubSub.Broker.Fleet;

/// <summary>
/// The brokers that run now: with shared state (<c>--state redis://…</c>) every broker that sent a heartbeat
/// within its time to live (<see cref="RedisBrokerDirectory"/>); a single broker knows only itself
/// (<see cref="SingleBrokerDirectory"/>). Brokers learn of each other only here, with no protocol of their own.
/// </summary>
public interface IBrokerDirectory
{
    /// <summary>The live brokers, this one included once it listens; ordered by id.</summary>
    IReadOnlyList<BrokerRecord> Live();
}
