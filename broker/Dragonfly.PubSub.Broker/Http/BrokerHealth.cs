using Dragonfly.PubSub.Broker.Announcing;
using Dragonfly.PubSub.Broker.Catalogue;
using Dragonfly.PubSub.Broker.Swarm;

namespace Dragonfly.PubSub.Broker.Http;

/// <summary>Healthy when MQTT runs, the listeners (gRPC included) are bound and the coordinator and LiteDB answer.</summary>
public sealed class BrokerHealth(AnnouncementPublisher announcer, SwarmCoordinator coordinator, ManifestCatalogue catalogue)
{
    private volatile bool _listening;

    public void MarkListening() => _listening = true;

    /// <summary>Null when healthy; otherwise what is down.</summary>
    public string? Problem()
    {
        if (!_listening)
        {
            return "listeners are not bound yet";
        }
        if (!announcer.IsServerStarted)
        {
            return announcer.SubscriberUrl is { } external
                ? $"the MQTT broker at {external.GetLeftPart(UriPartial.Authority)} is not connected"
                : "the MQTT server is not running";
        }
        if (!coordinator.IsRunning)
        {
            return "the gRPC scheduler is not running";
        }
        return catalogue.IsHealthy() ? null : catalogue.StoreName + " does not answer";
    }
}
