namespace Dragonfly.PubSub.IntegrationTests.Infrastructure;

/// <summary>The content of <c>&lt;data-dir&gt;/broker.json</c>.</summary>
public sealed record BrokerInfo(int Pid, int MqttPort, int GrpcPort, int HttpPort);
