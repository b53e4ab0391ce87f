namespace Dragonfly.PubSub.Bench.Swarm;

/// <summary>
/// <c>&lt;data-dir&gt;/broker.json</c>, written by dfbroker once its listeners are bound. <see cref="SeedPort"/>
/// is 0 when the broker runs without its own seed (--no-seed).
/// </summary>
internal sealed record BrokerReady(int Pid, int MqttPort, int GrpcPort, int HttpPort, int SeedPort)
{
    /// <summary>Peers the broker counts with no agent of ours connected: its own seed, when it has one.</summary>
    public int OwnPeers => SeedPort > 0 ? 1 : 0;
}
