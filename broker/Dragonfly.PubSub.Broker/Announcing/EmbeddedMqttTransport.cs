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
}
