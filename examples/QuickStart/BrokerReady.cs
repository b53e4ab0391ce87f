namespace QuickStart;

/// <summary><c>&lt;data-dir&gt;/broker.json</c>, written by dfbroker once its listeners are bound.</summary>
/// <remarks>Secure (the default): agents use <see cref="MqttsPort"/> (MQTT over TLS) and the HTTP port speaks HTTPS.</remarks>
internal sealed record BrokerReady(int Pid, int MqttPort, int GrpcPort, int HttpPort, int MqttsPort = 0, bool Tls = false);
