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
    // KEYS[1] the sequence key; ARGV[1] the broker's clock (ms). Lua numbers are doubles: exact up to 2^53.
    private static readonly LuaScript NextSequenceScript = LuaScript.Prepare("""
        local last = tonumber(redis.call('GET', @key) or '0')
        local nextValue = math.max(last + 1, tonumber(@now))
        redis.call('SET', @key, string.format('%d', nextValue))
        return nextValue
        """);

    // Replaces the topic's latest only when this announcement's number is not lower than the stored one.
    private static readonly LuaScript SetLatestScript = LuaScript.Prepare("""
        local current = tonumber(redis.call('HGET', @key, 'sequence') or '0')
        if current > tonumber(@sequence) then return 0 end
        redis.call('DEL', @key)
        if @kind == 'image' then
          redis.call('HSET', @key, 'sequence', @sequence, 'image', @payload)
        else
          redis.call('HSET', @key, 'sequence', @sequence, 'bytes', @payload, 'digest', @digest)
        end
        return 1
        """);

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
        Db.ScriptEvaluate(SetLatestScript, new
        {
            key = TopicKey(image.Topic),
            sequence = sequenced.Sequence,
            kind = "image",
            payload = (RedisValue)sequenced.ToJsonUtf8(),
            digest = "",
        });
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
        (long)Db.ScriptEvaluate(NextSequenceScript, new { key = SequenceKey(topic, name), now = now.ToUnixTimeMilliseconds() });

    private void SetLatest(Manifest manifest, long sequence)
    {
        Db.SetAdd(RedisState.Key("topics"), manifest.Topic);
        Db.SetAdd(TopicsOfKey(manifest.Digest), manifest.Topic);
        Db.ScriptEvaluate(SetLatestScript, new
        {
            key = TopicKey(manifest.Topic),
            sequence,
            kind = "manifest",
            payload = (RedisValue)manifest.ToByteArray(),
            digest = manifest.Digest,
        });
    }

    private static RedisKey ManifestKey(string digest) => RedisState.Key("manifest:" + digest);

    private static RedisKey TopicKey(string topic) => RedisState.Key("topic:" + topic);

    private static RedisKey TopicsOfKey(string digest) => RedisState.Key("topics-of:" + digest);

    private static RedisKey SequenceKey(string topic, string name) => RedisState.Key("seq:" + CatalogueStores.SequenceKey(topic, name));
}
