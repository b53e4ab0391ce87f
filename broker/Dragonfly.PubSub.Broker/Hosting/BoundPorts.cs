namespace Dragonfly.PubSub.Broker.Hosting;

/// <summary>The ports the listeners actually bound (port 0 asks for a free one); set once after start.</summary>
public sealed class BoundPorts
{
    public int Mqtt { get; private set; }
    public int Grpc { get; private set; }
    public int Http { get; private set; }

    internal void Set(int mqtt, int grpc, int http)
    {
        Mqtt = mqtt;
        Grpc = grpc;
        Http = http;
    }
}
