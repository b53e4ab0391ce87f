using System.Collections.Concurrent;

namespace Dragonfly.PubSub.Broker.Swarm;

/// <summary>
/// Registration keys (URL, tag and filters) → the live URL task they lead to, across shards: a lookup by
/// key does not know the task id, hence the shard, until it is found here. Written by the shard that
/// owns the task; that shard checks again when it answers. Also numbers the tasks' incarnations.
/// </summary>
internal sealed class UrlTaskKeys
{
    private readonly ConcurrentDictionary<string, string> _ids = new(StringComparer.Ordinal);
    private long _incarnations;

    public string? Find(string key) => _ids.TryGetValue(key, out var id) ? id : null;

    public void Set(string key, string taskId) => _ids[key] = taskId;

    /// <summary>Drops <paramref name="key"/> when it still leads to <paramref name="taskId"/>.</summary>
    public void Remove(string key, string taskId) => _ids.TryRemove(new KeyValuePair<string, string>(key, taskId));

    public long NextIncarnation() => Interlocked.Increment(ref _incarnations);
}
