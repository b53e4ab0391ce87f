namespace Dragonfly.PubSub.Bench.BrokerLoad.Broker;

/// <summary>What dfbroker wrote to &lt;data-dir&gt;/broker.json once its listeners were bound.</summary>
internal sealed record BrokerPorts(int Pid, int MqttPort, int GrpcPort, int HttpPort);
