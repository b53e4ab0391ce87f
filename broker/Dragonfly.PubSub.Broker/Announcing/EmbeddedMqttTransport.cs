using MQTTnet;
using MQTTnet.Server;

namespace Dragonfly.PubSub.Broker.Announcing;

/// <summary>The default transport: messages are injected into the MQTT server embedded in dfbroker.</summary>
public sealed class EmbeddedMqttTransport(MqttServer server) : IAnnouncementTransport
{
    public Uri? SubscriberUrl => null;

    public bool IsReady => server.IsStarted;

    /// <summary>The hosted MQTT server may start a moment after Kestrel; publishing waits for it.</summary>
    public async Task WaitUntilReadyAsync(CancellationToken cancellationToken)
    {
        while (!server.IsStarted)
        {
            await Task.Delay(10, cancellationToken).ConfigureAwait(false);
        }
    }

    public async Task PublishAsync(MqttApplicationMessage message, CancellationToken cancellationToken)
    {
        await WaitUntilReadyAsync(cancellationToken).ConfigureAwait(false);
        await server.InjectApplicationMessage(
            new InjectedMqttApplicationMessage(message) { SenderClientId = AnnouncementPublisher.SenderClientId },
            cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// The retained copy is stored first, without being delivered; then the live form goes to the subscribers. One
    /// who subscribes in between gets the retained copy and then the live one; the other order would leave it
    /// the topic's previous announcement only.
    /// </summary>
    public async Task AnnounceAsync(MqttApplicationMessage live, MqttApplicationMessage retained, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(live);
        ArgumentNullException.ThrowIfNull(retained);
        await WaitUntilReadyAsync(cancellationToken).ConfigureAwait(false);
        await server.UpdateRetainedMessageAsync(retained).ConfigureAwait(false);
        await server.InjectApplicationMessage(
            new InjectedMqttApplicationMessage(live) { SenderClientId = AnnouncementPublisher.SenderClientId },
            cancellationToken).ConfigureAwait(false);
    }
}
