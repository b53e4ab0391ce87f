using System.Collections.Concurrent;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Contracts.Scheduler;
using LiteDB;

namespace Dragonfly.PubSub.Broker.Catalogue;

/// <summary>
/// The durable catalogue: manifests (keyed by digest), the latest announcement of each topic (a manifest, or
/// a preheat job's image announcement) and their sequence numbers, kept by an <see cref="ICatalogueStore"/>:
/// <c>&lt;data-dir&gt;/broker.db</c> by default, Redis when several brokers share one state (<c>--state</c>).
/// The broker's own LiteDB in the data dir is always open: it holds the broker id and the security store.
/// Manifests never change once stored (a URL task's is stored once, when its source finished), so complete
/// ones are cached, up to <see cref="DefaultMaxCachedManifests"/>: beyond that they are read from the store,
/// so that publishers registering manifest after manifest cannot grow the broker's memory without end.
/// </summary>
public sealed class ManifestCatalogue : IDisposable
{
    public const string FileName = "broker.db";

    /// <summary>Manifests kept in memory (a 1 GiB file's is ~8 KiB of piece digests; 10,000 such ~ 80 MiB).</summary>
    public const int DefaultMaxCachedManifests = 10_000;

    private readonly LiteDatabase _database;
    private readonly ICatalogueStore _store;
    private readonly ConcurrentDictionary<string, Manifest> _cache = new(StringComparer.Ordinal);
    private readonly int _maxCached = DefaultMaxCachedManifests;

    /// <summary>The single-broker catalogue, all in <c>&lt;data-dir&gt;/broker.db</c>.</summary>
    public ManifestCatalogue(string dataDir)
        : this(dataDir, database => new LiteDbCatalogueStore(database))
    {
    }

    /// <summary>A catalogue kept by the store <paramref name="storeFor"/> makes (given the broker's own database).</summary>
    public ManifestCatalogue(string dataDir, Func<LiteDatabase, ICatalogueStore> storeFor)
        : this(dataDir, storeFor, DefaultMaxCachedManifests)
    {
    }

    /// <summary>As above, with at most <paramref name="maxCached"/> manifests in memory (tests).</summary>
    internal ManifestCatalogue(string dataDir, Func<LiteDatabase, ICatalogueStore> storeFor, int maxCached)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxCached);
        _maxCached = maxCached;
        ArgumentNullException.ThrowIfNull(storeFor);
        Directory.CreateDirectory(dataDir);
        _database = new LiteDatabase(new ConnectionString
        {
            Filename = Path.Combine(dataDir, FileName),
            Connection = ConnectionType.Direct,
        });
        try
        {
            BrokerId = LoadOrCreateBrokerId();
            _store = storeFor(_database);
        }
        catch
        {
            _database.Dispose();
            throw;
        }
    }

    /// <summary>The open database, shared with the security store (tokens, revocations) so that one process holds broker.db.</summary>
    internal LiteDatabase Database => _database;

    /// <summary>What keeps the catalogue, for messages: "the LiteDB catalogue" or "the shared state (Redis)".</summary>
    public string StoreName => _store is LiteDbCatalogueStore ? "the LiteDB catalogue" : "the shared state (Redis)";

    /// <summary>A stable id of this broker's catalogue, kept across restarts.</summary>
    public string BrokerId { get; }

    /// <summary>Stores a manifest and makes it the topic's latest; true when the digest was stored before.</summary>
    public bool Store(Manifest manifest, DateTimeOffset now) => Store(manifest, now, out _);

    /// <summary>
    /// Stores a manifest and makes it the topic's latest, with the next <paramref name="sequence"/> of its
    /// topic and name (see <see cref="CatalogueStores.NextSequence"/>); true when the digest was stored before.
    /// </summary>
    public bool Store(Manifest manifest, DateTimeOffset now, out long sequence)
    {
        var alreadyKnown = _store.Store(manifest, now, out sequence);
        if (IsComplete(manifest))
        {
            Cache(manifest.Digest, manifest.Clone());
        }
        return alreadyKnown;
    }

    /// <summary>
    /// Makes <paramref name="manifest"/> (a URL task that was just announced, its piece digests perhaps
    /// still unknown) the topic's latest announcement, without storing it as a task: that happens once
    /// its source has fetched it (<see cref="StoreSourced"/>).
    /// </summary>
    public void StoreAnnounced(Manifest manifest, DateTimeOffset now) => StoreAnnounced(manifest, now, out _);

    /// <inheritdoc cref="StoreAnnounced(Manifest, DateTimeOffset)"/>
    /// <param name="sequence">The announcement's sequence number (see <see cref="CatalogueStores.NextSequence"/>).</param>
    public void StoreAnnounced(Manifest manifest, DateTimeOffset now, out long sequence) => sequence = _store.StoreAnnounced(manifest, now);

    /// <summary>
    /// Makes an image announcement (a preheat job's list of blobs, not a task) the topic's latest, so
    /// that a replay after a restart retains it again. Stored as its JSON, without a manifest.
    /// </summary>
    public void StoreImageAnnouncement(Announcement image) => StoreImageAnnouncement(image, image.CreatedAt);

    /// <inheritdoc cref="StoreImageAnnouncement(Announcement)"/>
    /// <returns>The announcement as stored and to be published: with its sequence number (see <see cref="CatalogueStores.NextSequence"/>).</returns>
    public Announcement StoreImageAnnouncement(Announcement image, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(image);
        return _store.StoreImageAnnouncement(image, now);
    }

    /// <summary>
    /// Stores the complete manifest of a URL task whose source finished (every piece digest and the
    /// content digest known), replacing an older one of the same task id, and completes the topics'
    /// latest announcements of it, so a replay after a restart carries the content digest.
    /// </summary>
    public void StoreSourced(Manifest manifest, DateTimeOffset now)
    {
        _store.StoreSourced(manifest, now);
        _cache.TryRemove(manifest.Digest, out _);
        Cache(manifest.Digest, manifest.Clone());
    }

    /// <summary>The stored manifest, or null. Callers must not modify the returned message.</summary>
    public Manifest? Find(string digest)
    {
        if (_cache.TryGetValue(digest, out var cached))
        {
            return cached;
        }
        if (_store.Load(digest) is not { } manifest)
        {
            return null;
        }
        if (IsComplete(manifest))
        {
            Cache(digest, manifest);
        }
        return manifest;
    }

    /// <summary>Manifests held in memory now (at most the cap given at construction).</summary>
    internal int CachedCount => _cache.Count;

    // Full: the rest are read from the store when asked for (a count checked without a lock may pass the cap by
    // the number of threads adding at once, which is bounded).
    private void Cache(string digest, Manifest manifest)
    {
        if (_cache.Count < _maxCached)
        {
            _cache.TryAdd(digest, manifest);
        }
    }

    /// <summary>All manifests, newest first.</summary>
    public IReadOnlyList<Manifest> All() =>
        _store.Digests()
            .Select(Find)
            .OfType<Manifest>()
            .OrderByDescending(m => m.CreatedAtUnixMs)
            .ToList();

    /// <summary>
    /// The latest manifest announced on each topic (what MQTT keeps retained), as it was published there:
    /// the same content may be published on several topics. Topics whose latest is an image announcement
    /// are in <see cref="LatestImageAnnouncements"/> instead.
    /// </summary>
    public IReadOnlyList<Manifest> LatestPerTopic() => LatestPerTopicSequenced().Select(l => l.Manifest).ToList();

    /// <summary>
    /// <see cref="LatestPerTopic"/> with each announcement's sequence number, so that a replay announces it
    /// again under the same number (0 for one stored before sequence numbers existed).
    /// </summary>
    public IReadOnlyList<(Manifest Manifest, long Sequence)> LatestPerTopicSequenced() => _store.LatestPerTopicSequenced();

    /// <summary>The last sequence number given to an announcement of <paramref name="topic"/> and <paramref name="name"/>, or 0.</summary>
    public long LastSequence(string topic, string name) => _store.LastSequence(topic, name);

    /// <summary>The topics whose latest announcement is an image announcement: those announcements (an unreadable one is skipped).</summary>
    public IReadOnlyList<Announcement> LatestImageAnnouncements() => _store.LatestImageAnnouncements();

    /// <summary>Another collection of the broker's own database (preheat jobs of a single broker live next to the manifests).</summary>
    internal ILiteCollection<BsonDocument> Collection(string name) => _database.GetCollection(name);

    /// <summary>True when the store answers a query.</summary>
    public bool IsHealthy() => _store.IsHealthy();

    public void Dispose()
    {
        _store.Dispose();
        _database.Dispose();
    }

    // A URL task's manifest without its content digest is completed later, maybe by another broker sharing
    // the store: such a one is read again each time rather than cached.
    private static bool IsComplete(Manifest manifest) => !manifest.UrlTask || manifest.ContentDigest.Length > 0;

    private string LoadOrCreateBrokerId()
    {
        var meta = _database.GetCollection("meta");
        if (meta.FindById("brokerId") is { } existing)
        {
            return existing["value"].AsString;
        }
        var id = "broker-" + Guid.NewGuid().ToString("N")[..12];
        meta.Insert(new BsonDocument { ["_id"] = "brokerId", ["value"] = id });
        return id;
    }
}
