using Dragonfly.PubSub.Broker.Announcing;
using Dragonfly.PubSub.Broker.Catalogue;
using Dragonfly.PubSub.Contracts;

namespace Dragonfly.PubSub.Broker.Preheat;

/// <summary>
/// Makes the image announcement the topic's latest in the catalogue, then publishes it: the same order
/// as a URL task's announcement, so the catalogue never replays less than MQTT retained.
/// </summary>
public sealed class ImageAnnouncer(ManifestCatalogue catalogue, AnnouncementPublisher publisher) : IImageAnnouncer
{
    public async Task AnnounceAsync(Announcement image, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(image);
        if (image.Validate() is { } problem)
        {
            throw new ArgumentException($"the image announcement of {image.Digest} is not valid: {problem}", nameof(image));
        }
        var sequenced = catalogue.StoreImageAnnouncement(image, DateTimeOffset.UtcNow);
        await publisher.PublishAsync(sequenced, cancellationToken).ConfigureAwait(false);
    }
}
