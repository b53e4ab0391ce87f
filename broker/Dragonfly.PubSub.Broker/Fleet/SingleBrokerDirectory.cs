namespace Dragonfly.PubSub.Broker.Fleet;

/// <summary>A broker without shared state: the fleet is itself.</summary>
public sealed class SingleBrokerDirectory(BrokerSelf self, TimeProvider time) : IBrokerDirectory
{
    public IReadOnlyList<BrokerRecord> Live() => self.Record(time.GetUtcNow()) is { } record ? [record] : [];
}
