namespace Dragonfly.PubSub.Bench.Swarm;

/// <summary>
/// <c>&lt;data-dir&gt;/broker.json</c>, written by dfbroker once its listeners are bound. <see cref="SeedPort"/>
/// is 0 when the broker runs without its own seed (--no-seed). With TLS (<see cref="Tls"/>) MQTT is on
/// <see cref="MqttsPort"/>; with --insecure on <see cref="MqttPort"/>.
/// </summary>
internal sealed record BrokerReady(int Pid, int MqttPort, int GrpcPort, int HttpPort, int SeedPort, int MqttsPort = 0, bool Tls = false)
{
    /// <summary>Peers the broker counts with no agent of ours connected: its own seed, when it has one.</summary>
    public int OwnPeers => SeedPort > 0 ? 1 : 0;

    /// <summary>The MQTT port its agents dial: MQTT over TLS when the broker runs with TLS.</summary>
    public int AgentMqttPort => Tls ? MqttsPort : MqttPort;
}
