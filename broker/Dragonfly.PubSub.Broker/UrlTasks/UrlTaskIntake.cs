using Dragonfly.PubSub.Broker.Announcing;
using Dragonfly.PubSub.Broker.Catalogue;
using Dragonfly.PubSub.Contracts.Scheduler;

namespace Dragonfly.PubSub.Broker.UrlTasks;

/// <summary>
/// The one path of a URL task into the broker (gRPC RegisterUrlTask and preheat jobs): the registrar
/// creates or joins the task, then a registration with a topic is announced like a publisher's artifact.
/// </summary>
public sealed class UrlTaskIntake(UrlTaskRegistrar registrar, ManifestCatalogue catalogue, AnnouncementPublisher announcer, TimeProvider time)
    : IUrlTaskIntake
{
    public async Task<UrlTaskOutcome> RegisterAsync(RegisterUrlTaskRequest request, CancellationToken cancellationToken)
    {
        var outcome = await registrar.RegisterAsync(request, cancellationToken).ConfigureAwait(false);
        if (outcome.Manifest is { Topic.Length: > 0 } manifest && !request.PlacementProbe)
        {
            // Announced once per registration with a topic.
            catalogue.StoreAnnounced(manifest, time.GetUtcNow(), out var sequence);
            await announcer.PublishAsync(manifest, sequence, again: false, cancellationToken).ConfigureAwait(false);
        }
        return outcome;
    }
}
