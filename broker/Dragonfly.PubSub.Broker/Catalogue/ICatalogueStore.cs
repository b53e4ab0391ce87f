using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Contracts.Scheduler;

namespace Dragonfly.PubSub.Broker.Catalogue;

/// <summary>
/// Where the catalogue keeps manifests, each topic's latest announcement and the announcements' sequence
/// numbers: <see cref="LiteDbCatalogueStore"/> in the broker's data dir (one broker, the default) or
/// <see cref="RedisCatalogueStore"/> (<c>--state redis://…</c>, shared by several brokers). Thread-safe.
/// Sequence numbers are one more than the last of their topic and name and at least the clock, across
/// restarts and, with Redis, across brokers.
/// </summary>
public interface ICatalogueStore : IDisposable
{
    /// <summary>Stores a manifest and makes it the topic's latest with the next sequence number; true when the digest was stored before.</summary>
    bool Store(Manifest manifest, DateTimeOffset now, out long sequence);

    /// <summary>Makes <paramref name="manifest"/> (a URL task just announced) the topic's latest, without storing it as a task.</summary>
    long StoreAnnounced(Manifest manifest, DateTimeOffset now);

    /// <summary>Makes an image announcement the topic's latest; returns it with its sequence number, unsigned.</summary>
    Announcement StoreImageAnnouncement(Announcement image, DateTimeOffset now);

    /// <summary>Stores (replaces) the complete manifest of a sourced URL task and completes the topics' latest announcements of it.</summary>
    void StoreSourced(Manifest manifest, DateTimeOffset now);

    /// <summary>The stored manifest, or null.</summary>
    Manifest? Load(string digest);

    /// <summary>Every stored manifest's digest.</summary>
    IReadOnlyList<string> Digests();

    /// <summary>Each topic's latest manifest announcement with its sequence number (0: stored before sequence numbers existed).</summary>
    IReadOnlyList<(Manifest Manifest, long Sequence)> LatestPerTopicSequenced();

    /// <summary>The last sequence number of <paramref name="topic"/> and <paramref name="name"/>, or 0.</summary>
    long LastSequence(string topic, string name);

    /// <summary>The topics whose latest announcement is an image announcement: those announcements.</summary>
    IReadOnlyList<Announcement> LatestImageAnnouncements();

    /// <summary>True when the store answers a query.</summary>
    bool IsHealthy();
}
