using Dragonfly.PubSub.Contracts;

namespace Dragonfly.PubSub.Broker.Preheat;

/// <summary>Publishes a succeeded preheat job's image announcement (retained on its topic, and kept for a replay after a restart).</summary>
public interface IImageAnnouncer
{
    Task AnnounceAsync(Announcement image, CancellationToken cancellationToken);
}
