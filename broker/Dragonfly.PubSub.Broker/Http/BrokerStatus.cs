namespace Dragonfly.PubSub.Broker.Http;

/// <summary><c>GET /api/v1/status</c>: what the dashboard shows in its header.</summary>
public sealed record BrokerStatus(string BrokerId, int Peers, int Tasks, int MqttPort, int GrpcPort, int HttpPort, int SeedPort = 0, int MqttsPort = 0, bool Tls = false);
