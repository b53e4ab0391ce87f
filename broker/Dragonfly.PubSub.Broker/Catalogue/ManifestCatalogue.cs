using System.Collections.Concurrent;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Contracts.Scheduler;
using Google.Protobuf;
using LiteDB;

namespace Dragonfly.PubSub.Broker.Catalogue;

/// <summary>
/// The durable catalogue in <c>&lt;data-dir&gt;/broker.db</c>: manifests (proto bytes, keyed by digest) and
/// the latest announcement of each topic (a manifest, or a preheat job's image announcement). One <see cref="LiteDatabase"/> per process; LiteDB is thread-safe, and
/// manifests never change once stored (a URL task's is stored once, when its source finished), so reads
/// are cached.
/// </summary>
public sealed class ManifestCatalogue : IDisposable
{
    public const string FileName = "broker.db";

    private readonly LiteDatabase _database;
    private readonly ILiteCollection<BsonDocument> _manifests;
    private readonly ILiteCollection<BsonDocument> _topics;
    private readonly ILiteCollection<BsonDocument> _sequences;
    private readonly ConcurrentDictionary<string, Manifest> _cache = new(StringComparer.Ordinal);
    private readonly Lock _writeLock = new();

    public ManifestCatalogue(string dataDir)
    {
        Directory.CreateDirectory(dataDir);
        _database = new LiteDatabase(new ConnectionString
        {
            Filename = Path.Combine(dataDir, FileName),
            Connection = ConnectionType.Direct,
        });
        _manifests = _database.GetCollection("manifests");
        _topics = _database.GetCollection("topics");
        _topics.EnsureIndex("digest");
        _sequences = _database.GetCollection("sequences");
        BrokerId = LoadOrCreateBrokerId();
    }

    /// <summary>The open database, shared with the security store (tokens, revocations) so that one process holds broker.db.</summary>
    internal LiteDatabase Database => _database;

    /// <summary>A stable id of this broker's catalogue, kept across restarts.</summary>
    public string BrokerId { get; }

    /// <summary>Stores a manifest and makes it the topic's latest; true when the digest was stored before.</summary>
    public bool Store(Manifest manifest, DateTimeOffset now) => Store(manifest, now, out _);

    /// <summary>
    /// Stores a manifest and makes it the topic's latest, with the next <paramref name="sequence"/> of its
    /// topic and name (see <see cref="NextSequenceLocked"/>); true when the digest was stored before.
    /// </summary>
    public bool Store(Manifest manifest, DateTimeOffset now, out long sequence)
    {
        lock (_writeLock)
        {
            sequence = NextSequenceLocked(manifest.Topic, manifest.Name, now);
            var alreadyKnown = Find(manifest.Digest) is not null;
            if (!alreadyKnown)
            {
                _manifests.Insert(new BsonDocument
                {
                    ["_id"] = manifest.Digest,
                    ["topic"] = manifest.Topic,
                    ["bytes"] = manifest.ToByteArray(),
                    ["storedAt"] = now.UtcDateTime,
                });
                _cache[manifest.Digest] = manifest.Clone();
            }
            _topics.Upsert(new BsonDocument
            {
                ["_id"] = manifest.Topic,
                ["digest"] = manifest.Digest,
                ["bytes"] = manifest.ToByteArray(),
                ["updatedAt"] = now.UtcDateTime,
                ["sequence"] = sequence,
            });
            return alreadyKnown;
        }
    }

    /// <summary>
    /// Makes <paramref name="manifest"/> (a URL task that was just announced, its piece digests perhaps
    /// still unknown) the topic's latest announcement, without storing it as a task: that happens once
    /// its source has fetched it (<see cref="StoreSourced"/>).
    /// </summary>
    public void StoreAnnounced(Manifest manifest, DateTimeOffset now) => StoreAnnounced(manifest, now, out _);

    /// <inheritdoc cref="StoreAnnounced(Manifest, DateTimeOffset)"/>
    /// <param name="sequence">The announcement's sequence number (see <see cref="NextSequenceLocked"/>).</param>
    public void StoreAnnounced(Manifest manifest, DateTimeOffset now, out long sequence)
    {
        lock (_writeLock)
        {
            sequence = NextSequenceLocked(manifest.Topic, manifest.Name, now);
            _topics.Upsert(new BsonDocument
            {
                ["_id"] = manifest.Topic,
                ["digest"] = manifest.Digest,
                ["bytes"] = manifest.ToByteArray(),
                ["updatedAt"] = now.UtcDateTime,
                ["sequence"] = sequence,
            });
        }
    }

    /// <summary>
    /// Makes an image announcement (a preheat job's list of blobs, not a task) the topic's latest, so
    /// that a replay after a restart retains it again. Stored as its JSON, without a manifest.
    /// </summary>
    public void StoreImageAnnouncement(Announcement image) => StoreImageAnnouncement(image, image.CreatedAt);

    /// <inheritdoc cref="StoreImageAnnouncement(Announcement)"/>
    /// <returns>The announcement as stored and to be published: with its sequence number (see <see cref="NextSequenceLocked"/>).</returns>
    public Announcement StoreImageAnnouncement(Announcement image, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(image);
        lock (_writeLock)
        {
            var sequenced = image with { Sequence = NextSequenceLocked(image.Topic, image.Name, now), Signer = null, Signature = null };
            _topics.Upsert(new BsonDocument
            {
                ["_id"] = image.Topic,
                ["image"] = sequenced.ToJsonUtf8(),
                ["updatedAt"] = image.CreatedAt.UtcDateTime,
            });
            return sequenced;
        }
    }

    /// <summary>
    /// Stores the complete manifest of a URL task whose source finished (every piece digest and the
    /// content digest known), replacing an older one of the same task id, and completes the topics'
    /// latest announcements of it, so a replay after a restart carries the content digest.
    /// </summary>
    public void StoreSourced(Manifest manifest, DateTimeOffset now)
    {
        lock (_writeLock)
        {
            _manifests.Upsert(new BsonDocument
            {
                ["_id"] = manifest.Digest,
                ["topic"] = manifest.Topic,
                ["bytes"] = manifest.ToByteArray(),
                ["storedAt"] = now.UtcDateTime,
            });
            _cache[manifest.Digest] = manifest.Clone();
            foreach (var topic in _topics.Find(Query.EQ("digest", manifest.Digest)).ToList())
            {
                var announced = Manifest.Parser.ParseFrom(topic["bytes"].AsBinary);
                announced.PieceDigests.Clear();
                announced.PieceDigests.Add(manifest.PieceDigests);
                announced.ContentDigest = manifest.ContentDigest;
                topic["bytes"] = announced.ToByteArray();
                _topics.Update(topic);
            }
        }
    }

    /// <summary>The stored manifest, or null. Callers must not modify the returned message.</summary>
    public Manifest? Find(string digest)
    {
        if (_cache.TryGetValue(digest, out var cached))
        {
            return cached;
        }
        var document = _manifests.FindById(digest);
        if (document is null)
        {
            return null;
        }
        var manifest = Manifest.Parser.ParseFrom(document["bytes"].AsBinary);
        _cache.TryAdd(digest, manifest);
        return manifest;
    }

    /// <summary>All manifests, newest first.</summary>
    public IReadOnlyList<Manifest> All() =>
        _manifests.FindAll()
            .Select(d => Find(d["_id"].AsString)!)
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
    public IReadOnlyList<(Manifest Manifest, long Sequence)> LatestPerTopicSequenced() =>
        _topics.FindAll()
            .Where(d => d["bytes"].IsBinary)
            .Select(d => (Manifest.Parser.ParseFrom(d["bytes"].AsBinary), d["sequence"].IsNumber ? d["sequence"].AsInt64 : 0L))
            .ToList();

    /// <summary>The last sequence number given to an announcement of <paramref name="topic"/> and <paramref name="name"/>, or 0.</summary>
    public long LastSequence(string topic, string name) =>
        _sequences.FindById(SequenceKey(topic, name)) is { } document ? document["value"].AsInt64 : 0;

    /// <summary>The topics whose latest announcement is an image announcement: those announcements (an unreadable one is skipped).</summary>
    public IReadOnlyList<Announcement> LatestImageAnnouncements() =>
        _topics.FindAll()
            .Where(d => d["image"].IsBinary)
            .Select(d => Announcement.TryParse(d["image"].AsBinary, out _))
            .OfType<Announcement>()
            .ToList();

    /// <summary>Another collection of the same database (preheat jobs live next to the manifests).</summary>
    internal ILiteCollection<BsonDocument> Collection(string name) => _database.GetCollection(name);

    /// <summary>True when the database answers a query.</summary>
    public bool IsHealthy()
    {
        try
        {
            _ = _database.GetCollection("meta").Count();
            return true;
        }
        catch (Exception e) when (e is LiteException or IOException or ObjectDisposedException)
        {
            return false;
        }
    }

    public void Dispose() => _database.Dispose();

    /// <summary>
    /// The next sequence number of an announcement of <paramref name="topic"/> and <paramref name="name"/> (under the
    /// write lock), persisted before it is used: one more than the last, and at least the broker's clock in
    /// milliseconds, so that the order holds across restarts and even when a broker starts over with an
    /// empty catalogue (its agents remember the last number they acted on). Never the publisher's clock.
    /// </summary>
    private long NextSequenceLocked(string topic, string name, DateTimeOffset now)
    {
        var key = SequenceKey(topic, name);
        var last = _sequences.FindById(key) is { } document ? document["value"].AsInt64 : 0;
        var next = Math.Max(last + 1, now.ToUnixTimeMilliseconds());
        _sequences.Upsert(new BsonDocument { ["_id"] = key, ["value"] = next });
        return next;
    }

    // "<topic>/<name>", the output path under output-dir: unambiguous, as a name holds no '/' (ArtifactName).
    private static string SequenceKey(string topic, string name) => topic + "/" + name;

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
