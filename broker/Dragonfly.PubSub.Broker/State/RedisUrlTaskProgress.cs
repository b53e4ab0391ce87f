using System.Globalization;
using Dragonfly.PubSub.Broker.Swarm;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Contracts.Scheduler;
using Google.Protobuf;
using StackExchange.Redis;

namespace Dragonfly.PubSub.Broker.State;

/// <summary>
/// URL tasks' piece digests in Redis while they are sourced: hash <c>dragonfly:urltask:&lt;id&gt;</c> with
/// <c>size</c>, <c>pieceSize</c> and <c>d:&lt;index&gt;</c> (32 bytes each), kept a day after its last write.
/// Writes are fire-and-forget (a shard's loop must not wait for Redis); the read happens once, when a broker
/// registers a task it does not hold, typically after the task's broker was lost.
/// </summary>
public sealed class RedisUrlTaskProgress(RedisState state) : IUrlTaskProgress
{
    private static readonly TimeSpan KeepFor = TimeSpan.FromDays(1);

    public void Learned(string taskId, long size, int pieceSize, IReadOnlyList<int> indexes, IReadOnlyList<ByteString> digests)
    {
        var entries = new List<HashEntry>(indexes.Count + 2)
        {
            new("size", size),
            new("pieceSize", pieceSize),
        };
        for (var i = 0; i < indexes.Count; i++)
        {
            entries.Add(new HashEntry("d:" + indexes[i].ToString(CultureInfo.InvariantCulture), digests[i].ToByteArray()));
        }
        var key = KeyOf(taskId);
        try
        {
            state.Database.HashSet(key, [.. entries], CommandFlags.FireAndForget);
            state.Database.KeyExpire(key, KeepFor, CommandFlags.FireAndForget);
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            // Only a failover would miss these digests; the source reports them again at the end anyway.
        }
    }

    public Manifest? Partial(string taskId)
    {
        HashEntry[] fields;
        try
        {
            fields = state.Database.HashGetAll(KeyOf(taskId));
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            return null;
        }
        var map = fields.ToDictionary(f => f.Name.ToString(), f => f.Value, StringComparer.Ordinal);
        if (!map.TryGetValue("size", out var sizeValue) || !map.TryGetValue("pieceSize", out var pieceSizeValue))
        {
            return null;
        }
        var layout = new PieceLayout((long)sizeValue, (int)pieceSizeValue);
        var manifest = new Manifest { Digest = taskId, Size = layout.Size, PieceSize = layout.PieceSize, UrlTask = true };
        for (var i = 0; i < layout.PieceCount; i++)
        {
            manifest.PieceDigests.Add(map.TryGetValue("d:" + i.ToString(CultureInfo.InvariantCulture), out var digest)
                ? ByteString.CopyFrom((byte[])digest!)
                : ByteString.Empty);
        }
        return manifest;
    }

    public void Forget(string taskId)
    {
        try
        {
            state.Database.KeyDelete(KeyOf(taskId), CommandFlags.FireAndForget);
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            // It expires by itself.
        }
    }

    private static RedisKey KeyOf(string taskId) => RedisState.Key("urltask:" + taskId);
}
