using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Contracts.Scheduler;
using Google.Protobuf;
using LiteDB;

namespace Dragonfly.PubSub.Broker.Catalogue;

/// <summary>
/// The single-broker catalogue in <c>&lt;data-dir&gt;/broker.db</c>: collections <c>manifests</c> (proto bytes by
/// digest), <c>topics</c> (each topic's latest announcement) and <c>sequences</c>. Writes go under one lock so
/// that a sequence number and the announcement it numbers are stored together.
/// </summary>
public sealed class LiteDbCatalogueStore : ICatalogueStore
{
    private readonly LiteDatabase _database;
    private readonly ILiteCollection<BsonDocument> _manifests;
    private readonly ILiteCollection<BsonDocument> _topics;
    private readonly ILiteCollection<BsonDocument> _sequences;
    private readonly Lock _writeLock = new();

    /// <param name="database">The broker's database; its owner disposes it.</param>
    public LiteDbCatalogueStore(LiteDatabase database)
    {
        _database = database;
        _manifests = database.GetCollection("manifests");
        _topics = database.GetCollection("topics");
        _topics.EnsureIndex("digest");
        _sequences = database.GetCollection("sequences");
    }

    public bool Store(Manifest manifest, DateTimeOffset now, out long sequence)
    {
        lock (_writeLock)
        {
            sequence = NextSequenceLocked(manifest.Topic, manifest.Name, now);
            var alreadyKnown = _manifests.FindById(manifest.Digest) is not null;
            if (!alreadyKnown)
            {
                _manifests.Insert(new BsonDocument
                {
                    ["_id"] = manifest.Digest,
                    ["topic"] = manifest.Topic,
                    ["bytes"] = manifest.ToByteArray(),
                    ["storedAt"] = now.UtcDateTime,
                });
            }
            UpsertTopicLocked(manifest, now, sequence);
            return alreadyKnown;
        }
    }

    public long StoreAnnounced(Manifest manifest, DateTimeOffset now)
    {
        lock (_writeLock)
        {
            var sequence = NextSequenceLocked(manifest.Topic, manifest.Name, now);
            UpsertTopicLocked(manifest, now, sequence);
            return sequence;
        }
    }

    public Announcement StoreImageAnnouncement(Announcement image, DateTimeOffset now)
    {
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
            foreach (var topic in _topics.Find(Query.EQ("digest", manifest.Digest)).ToList())
            {
                topic["bytes"] = CatalogueStores.Completed(Manifest.Parser.ParseFrom(topic["bytes"].AsBinary), manifest).ToByteArray();
                _topics.Update(topic);
            }
        }
    }

    public Manifest? Load(string digest) =>
        _manifests.FindById(digest) is { } document ? Manifest.Parser.ParseFrom(document["bytes"].AsBinary) : null;

    public IReadOnlyList<string> Digests() => _manifests.FindAll().Select(d => d["_id"].AsString).ToList();

    public IReadOnlyList<(Manifest Manifest, long Sequence)> LatestPerTopicSequenced() =>
        _topics.FindAll()
            .Where(d => d["bytes"].IsBinary)
            .Select(d => (Manifest.Parser.ParseFrom(d["bytes"].AsBinary), d["sequence"].IsNumber ? d["sequence"].AsInt64 : 0L))
            .ToList();

    public long LastSequence(string topic, string name) =>
        _sequences.FindById(CatalogueStores.SequenceKey(topic, name)) is { } document ? document["value"].AsInt64 : 0;

    public IReadOnlyList<Announcement> LatestImageAnnouncements() =>
        _topics.FindAll()
            .Where(d => d["image"].IsBinary)
            .Select(d => Announcement.TryParse(d["image"].AsBinary, out _))
            .OfType<Announcement>()
            .ToList();

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

    /// <summary>Nothing: the database belongs to the <see cref="ManifestCatalogue"/>.</summary>
    public void Dispose()
    {
    }

    private void UpsertTopicLocked(Manifest manifest, DateTimeOffset now, long sequence) => _topics.Upsert(new BsonDocument
    {
        ["_id"] = manifest.Topic,
        ["digest"] = manifest.Digest,
        ["bytes"] = manifest.ToByteArray(),
        ["updatedAt"] = now.UtcDateTime,
        ["sequence"] = sequence,
    });

    /// <summary>The next sequence number (under the write lock), persisted before it is used (see <see cref="CatalogueStores.NextSequence"/>).</summary>
    private long NextSequenceLocked(string topic, string name, DateTimeOffset now)
    {
        var key = CatalogueStores.SequenceKey(topic, name);
        var last = _sequences.FindById(key) is { } document ? document["value"].AsInt64 : 0;
        var next = CatalogueStores.NextSequence(last, now);
        _sequences.Upsert(new BsonDocument { ["_id"] = key, ["value"] = next });
        return next;
    }
}
