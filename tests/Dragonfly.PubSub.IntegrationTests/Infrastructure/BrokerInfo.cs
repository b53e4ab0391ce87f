namespace Dragonfly.PubSub.IntegrationTests.Infrastructure;

/// <summary>The content of <c>&lt;data-dir&gt;/broker.json</c>; <see cref="SeedPort"/> is absent with <c>--no-seed</c>, <see cref="MqttsPort"/> is 0 with <c>--insecure</c>.</summary>
public sealed record BrokerInfo(int Pid, int MqttPort, int GrpcPort, int HttpPort, int? SeedPort = null, int MqttsPort = 0, bool Tls = false);
