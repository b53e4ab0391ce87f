namespace Dragonfly.PubSub.Bench.BrokerLoad.Measurement;

/// <param name="MqttConnected">MQTT clients connected and subscribed after set-up.</param>
/// <param name="MqttConnectedAtEnd">Still connected after the load phase (keep-alive kept up under load).</param>
/// <param name="MqttDisconnectReason">Why the first lost MQTT client lost its connection (null: none did).</param>
/// <param name="JoinLatency">JoinTask → its ParentSet during set-up (ordinary agents).</param>
/// <param name="MqttPingsAnswered">PINGREQs the load clock sent (each client every 15 s, dfagent's keep-alive) that got their PINGRESP.</param>
internal sealed record SetupFigures(
    int ConnectedAgents, int MqttConnected, int MqttConnectedAtEnd, double MqttConnectSeconds, double SchedulerConnectSeconds,
    LatencySummary JoinLatency, string? MqttDisconnectReason, long MqttPingsAnswered = 0);
