namespace Dragonfly.PubSub.IntegrationTests.Infrastructure;

/// <summary>The three ports a broker listens on (0 = let it pick).</summary>
public sealed record BrokerPorts(int Mqtt, int Grpc, int Http)
{
    public static BrokerPorts Any { get; } = new(0, 0, 0);

    public string GrpcAddress => $"127.0.0.1:{Grpc}";

    public string MqttAddress => $"127.0.0.1:{Mqtt}";
}
