namespace Dragonfly.PubSub.Bench.BrokerLoad.Measurement;

/// <summary>Publish of a new manifest → its announcement at each MQTT subscriber.</summary>
internal sealed record AnnouncementFigures(int Subscribers, int Received, double FirstMs, double P50Ms, double P99Ms, double AllMs);
