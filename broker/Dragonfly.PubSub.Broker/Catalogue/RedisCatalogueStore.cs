using Dragonfly.PubSub.Broker.State;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Contracts.Scheduler;
using Google.Protobuf;
using StackExchange.Redis;

namespace Dragonfly.PubSub.Broker.Catalogue;

/// <summary>
/// The catalogue several brokers share in Redis. Keys (under <c>dragonfly:</c>): <c>manifest:&lt;digest&gt;</c>
/// (proto bytes) and the set <c>manifests</c>; <c>topic:&lt;topic&gt;</c>, a hash of the latest announcement
/// (<c>digest</c>, <c>bytes</c> or <c>image</c>, <c>sequence</c>) and the set <c>topics</c>; <c>topics-of:&lt;digest&gt;</c>;
/// <c>seq:&lt;topic&gt;/&lt;name&gt;</c>. Sequence numbers come from a Lua script (max(last + 1, clock), atomic in
/// Redis), so they grow across brokers; a topic's latest is replaced only by a higher number, so two brokers
/// announcing at once leave the later one retained.
/// </summary>
public sealed class RedisCatalogueStore(RedisState state) : ICatalogueStore
{
    // The scripts take KEYS and ARGV arrays, not a LuaScript with an anonymous object of @parameters: that
    // maps the object's properties by reflection and compiled expression trees, which dfbroker's Native AOT
    // publish cannot promise (the trimmer's IL2026/IL2070/IL3050 in ScriptParameterMapper).

    // KEYS[1] the sequence key; ARGV[1] the broker's clock (ms). Lua numbers are doubles: exact up to 2^53.
    private const string NextSequenceScript = """
        local last = tonumber(redis.call('GET', KEYS[1]) or '0')
        local nextValue = math.max(last + 1, tonumber(ARGV[1]))
        redis.call('SET', KEYS[1], string.format('%d', nextValue))
        return nextValue
        """;

    // Replaces the topic's latest only when this announcement's number is not lower than the stored one.
    // KEYS[1] the topic key; ARGV: sequence, kind ('image' or 'manifest'), payload, digest.
    private const string SetLatestScript = """
        local current = tonumber(redis.call('HGET', KEYS[1], 'sequence') or '0')
        if current > tonumber(ARGV[1]) then return 0 end
        redis.call('DEL', KEYS[1])
        if ARGV[2] == 'image' then
          redis.call('HSET', KEYS[1], 'sequence', ARGV[1], 'image', ARGV[3])
        else
          redis.call('HSET', KEYS[1], 'sequence', ARGV[1], 'bytes', ARGV[3], 'digest', ARGV[4])
        end
        return 1
        """;

    private IDatabase Db => state.Database;

    public bool Store(Manifest manifest, DateTimeOffset now, out long sequence)
    {
        sequence = NextSequence(manifest.Topic, manifest.Name, now);
        var alreadyKnown = !Db.StringSet(ManifestKey(manifest.Digest), manifest.ToByteArray(), when: When.NotExists);
        Db.SetAdd(RedisState.Key("manifests"), manifest.Digest);
        SetLatest(manifest, sequence);
        return alreadyKnown;
    }

    public long StoreAnnounced(Manifest manifest, DateTimeOffset now)
    {
        var sequence = NextSequence(manifest.Topic, manifest.Name, now);
        SetLatest(manifest, sequence);
        return sequence;
    }

    public Announcement StoreImageAnnouncement(Announcement image, DateTimeOffset now)
    {
        var sequenced = image with { Sequence = NextSequence(image.Topic, image.Name, now), Signer = null, Signature = null };
        Db.SetAdd(RedisState.Key("topics"), image.Topic);
        Db.ScriptEvaluate(SetLatestScript, [TopicKey(image.Topic)], [sequenced.Sequence, "image", sequenced.ToJsonUtf8(), ""]);
        return sequenced;
    }

    public void StoreSourced(Manifest manifest, DateTimeOffset now)
    {
        Db.StringSet(ManifestKey(manifest.Digest), manifest.ToByteArray());
        Db.SetAdd(RedisState.Key("manifests"), manifest.Digest);
        foreach (var topic in Db.SetMembers(TopicsOfKey(manifest.Digest)))
        {
            var key = TopicKey(topic.ToString());
            var fields = Db.HashGet(key, ["digest", "bytes"]);
            if (fields[0] == manifest.Digest && fields[1].HasValue)
            {
                var completed = CatalogueStores.Completed(Manifest.Parser.ParseFrom((byte[])fields[1]!), manifest);
                Db.HashSet(key, "bytes", completed.ToByteArray());
            }
        }
    }

    /// <summary>The stored manifest; null also while Redis does not answer (a scheduler loop asks: it must not fail).</summary>
    public Manifest? Load(string digest)
    {
        try
        {
            return Db.StringGet(ManifestKey(digest)) is { HasValue: true } bytes ? Manifest.Parser.ParseFrom((byte[])bytes!) : null;
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            return null;
        }
    }

    public IReadOnlyList<string> Digests() => Db.SetMembers(RedisState.Key("manifests")).Select(d => d.ToString()).ToList();

    public IReadOnlyList<(Manifest Manifest, long Sequence)> LatestPerTopicSequenced()
    {
        var latest = new List<(Manifest, long)>();
        foreach (var topic in Db.SetMembers(RedisState.Key("topics")))
        {
            var fields = Db.HashGet(TopicKey(topic.ToString()), ["bytes", "sequence"]);
            if (fields[0].HasValue)
            {
                latest.Add((Manifest.Parser.ParseFrom((byte[])fields[0]!), fields[1].HasValue ? (long)fields[1] : 0L));
            }
        }
        return latest;
    }

    public long LastSequence(string topic, string name) =>
        Db.StringGet(SequenceKey(topic, name)) is { HasValue: true } value ? (long)value : 0;

    public IReadOnlyList<Announcement> LatestImageAnnouncements()
    {
        var images = new List<Announcement>();
        foreach (var topic in Db.SetMembers(RedisState.Key("topics")))
        {
            if (Db.HashGet(TopicKey(topic.ToString()), "image") is { HasValue: true } json
                && Announcement.TryParse((byte[])json!, out _) is { } announcement)
            {
                images.Add(announcement);
            }
        }
        return images;
    }

    public bool IsHealthy()
    {
        try
        {
            Db.Ping();
            return true;
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            return false;
        }
    }

    /// <summary>Nothing: the connection belongs to the host.</summary>
    public void Dispose()
    {
    }

    private long NextSequence(string topic, string name, DateTimeOffset now) =>
        (long)Db.ScriptEvaluate(NextSequenceScript, [SequenceKey(topic, name)], [now.ToUnixTimeMilliseconds()]);

    private void SetLatest(Manifest manifest, long sequence)
    {
        Db.SetAdd(RedisState.Key("topics"), manifest.Topic);
        Db.SetAdd(TopicsOfKey(manifest.Digest), manifest.Topic);
        Db.ScriptEvaluate(SetLatestScript, [TopicKey(manifest.Topic)], [sequence, "manifest", manifest.ToByteArray(), manifest.Digest]);
    }

    private static RedisKey ManifestKey(string digest) => RedisState.Key("manifest:" + digest);

    private static RedisKey TopicKey(string topic) => RedisState.Key("topic:" + topic);

    private static RedisKey TopicsOfKey(string digest) => RedisState.Key("topics-of:" + digest);

    private static RedisKey SequenceKey(string topic, string name) => RedisState.Key("seq:" + CatalogueStores.SequenceKey(topic, name));
}
