namespace Dragonfly.PubSub.Broker.Hosting;

/// <summary>The ports the listeners actually bound (port 0 asks for a free one); set once after start.</summary>
public sealed class BoundPorts
{
    public int Mqtt { get; private set; }
    public int Grpc { get; private set; }
    public int Http { get; private set; }

    /// <summary>MQTT over TLS; 0 with --insecure. (In secure mode <see cref="Mqtt"/> is 0: plain MQTT is not opened.)</summary>
    public int Mqtts { get; private set; }

    /// <summary>False with --insecure.</summary>
    public bool Tls { get; private set; }

    /// <summary>The in-process seed's peer port; 0 without a seed (--no-seed).</summary>
    public int Seed { get; private set; }

    internal void Set(int mqtt, int grpc, int http)
    {
        Mqtt = mqtt;
        Grpc = grpc;
        Http = http;
    }

    internal void SetSeed(int peerPort) => Seed = peerPort;

    internal void SetTls(bool tls, int mqtts)
    {
        Tls = tls;
        Mqtts = mqtts;
    }
}
