using MQTTnet;

namespace Dragonfly.PubSub.Broker.Announcing;

/// <summary>
/// Where announcements (and the revocation list) go: the embedded MQTT server by default
/// (<see cref="EmbeddedMqttTransport"/>), or an MQTT 5 broker the operator runs
/// (<see cref="ExternalMqttTransport"/>, <c>dfbroker --mqtt-url</c>). Only the delivery differs: the
/// message (topic, payload, QoS 1, retained) is built by the caller.
/// </summary>
/// <remarks>
/// An announcement that carries its manifest goes out in two forms (<see cref="AnnounceAsync"/>): with the
/// manifest to the subscribers connected now, who would all ask for it at the same moment, and without it as the
/// retained copy. A fleet that reconnects (after a broker restart, say) gets every topic's retained copy again;
/// with the manifests in them, 5,000 agents on 10 topics took 16 s instead of 3 s to connect, for manifests they
/// already had (session 11).
/// </remarks>
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

    /// <summary>
    /// Publishes one announcement in two forms: <paramref name="live"/> (not retained) to the subscribers connected
    /// now, and <paramref name="retained"/> as the topic's retained message for those who subscribe later. A
    /// subscriber may get both (the second as a duplicate of a task it knows) but never neither.
    /// </summary>
    Task AnnounceAsync(MqttApplicationMessage live, MqttApplicationMessage retained, CancellationToken cancellationToken);
}
