using System.Reflection;
using MQTTnet.Packets;
using MQTTnet.Server;

namespace Dragonfly.PubSub.Broker.Announcing;

/// <summary>
/// Accepts MQTT clients that connect without a client id (mosquitto_sub does so by default) by
/// assigning one. MQTTnet applies an assigned id only to MQTT 5 clients; MQTT 3.1.1 allows the server
/// to assign one to a clean-session client too (§3.1.3-6), so for those the id is set on the CONNECT
/// packet itself, which MQTTnet exposes only through a private field.
/// </summary>
internal static class AnonymousClientIds
{
    private static readonly FieldInfo? ConnectPacketField =
        typeof(ValidatingConnectionEventArgs).GetField("_connectPacket", BindingFlags.NonPublic | BindingFlags.Instance);

    public static Task AssignWhenMissing(ValidatingConnectionEventArgs connection)
    {
        if (!string.IsNullOrEmpty(connection.ClientId))
        {
            return Task.CompletedTask;
        }
        var id = "anonymous-" + Guid.NewGuid().ToString("N")[..16];
        connection.AssignedClientIdentifier = id;
        if (connection.CleanSession != false && ConnectPacketField?.GetValue(connection) is MqttConnectPacket packet)
        {
            packet.ClientId = id;
        }
        return Task.CompletedTask;
    }
}
