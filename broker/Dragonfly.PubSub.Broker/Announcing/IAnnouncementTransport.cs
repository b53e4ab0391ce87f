using MQTTnet;

namespace Dragonfly.PubSub.Broker.Announcing;

/// <summary>
/// Where announcements (and the revocation list) go: the embedded MQTT server by default
/// (<see cref="EmbeddedMqttTransport"/>), or an MQTT 5 broker the operator runs
/// (<see cref="ExternalMqttTransport"/>, <c>dfbroker --mqtt-url</c>). Only the delivery differs: the
/// message (topic, payload, QoS 1, retained) is built by the caller.
/// </summary>
public interface IAnnouncementTransport
{
    /// <summary>Where agents subscribe, as told in the scheduler's Welcome; null: the broker's own MQTT listener.</summary>
    Uri? SubscriberUrl { get; }

    /// <summary>Messages can be published now (the embedded server started; the external broker is connected).</summary>
    bool IsReady { get; }

    /// <summary>Waits until <see cref="IsReady"/>.</summary>
    Task WaitUntilReadyAsync(CancellationToken cancellationToken);

    /// <summary>Publishes one message; waits until the transport is ready.</summary>
    Task PublishAsync(MqttApplicationMessage message, CancellationToken cancellationToken);
}
