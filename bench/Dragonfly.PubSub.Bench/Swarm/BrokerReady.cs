namespace Dragonfly.PubSub.Bench.Swarm;

/// <summary><c>&lt;data-dir&gt;/broker.json</c>, written by dfbroker once its listeners are bound.</summary>
internal sealed record BrokerReady(int Pid, int MqttPort, int GrpcPort, int HttpPort);
