namespace Dragonfly.PubSub.Broker.Fleet;

/// <summary>
/// One broker of the fleet as its heartbeat tells it: id, where its scheduler and API listen, since when it
/// runs and when it last said so.
/// </summary>
public sealed record BrokerRecord(string Id, string Host, int GrpcPort, int HttpPort, DateTimeOffset StartedAt, DateTimeOffset LastSeen);
