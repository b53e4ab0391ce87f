using System.Collections.Concurrent;
using Dragonfly.PubSub.Broker.Scheduling;

namespace Dragonfly.PubSub.Broker.Swarm;

/// <summary>
/// What one peer carries over all its tasks, which live on different shards: how many parent sets name
/// it, when children reported failed pieces from it, how many URL tasks it fetches from their origin.
/// Thread-safe; the figures steer choices (load balancing), so a moment's staleness between shards is fine.
/// </summary>
internal sealed class PeerLoad
{
    private readonly ConcurrentDictionary<string, int> _children = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, List<DateTimeOffset>> _failures = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int> _sources = new(StringComparer.Ordinal);

    /// <summary>(child, task) parent sets that name <paramref name="peerId"/>.</summary>
    public int ChildrenOf(string peerId) => _children.GetValueOrDefault(peerId);

    public void AddChild(string peerId) => _children.AddOrUpdate(peerId, 1, (_, n) => n + 1);

    public void RemoveChild(string peerId) => Decrement(_children, peerId);

    /// <summary>URL tasks <paramref name="peerId"/> fetches from their origin now.</summary>
    public int SourcingOf(string peerId) => _sources.GetValueOrDefault(peerId);

    public void AddSourcing(string peerId) => _sources.AddOrUpdate(peerId, 1, (_, n) => n + 1);

    public void RemoveSourcing(string peerId) => Decrement(_sources, peerId);

    /// <summary>A child reported a failed piece from <paramref name="peerId"/> at <paramref name="now"/>.</summary>
    public void RecordFailure(string peerId, DateTimeOffset now)
    {
        var failures = _failures.GetOrAdd(peerId, _ => []);
        lock (failures)
        {
            failures.RemoveAll(at => now - at >= ParentSelectionPolicy.FailureMemory);
            failures.Add(now);
        }
    }

    /// <summary>Peers with a failure history (connected ones only; for tests of the bound).</summary>
    public int FailurePeerCount => _failures.Count;

    /// <summary>The peer left: its failure history goes with it (the map holds connected peers only).</summary>
    public void Forget(string peerId) => _failures.TryRemove(peerId, out _);

    /// <summary>A copy of the failure times of <paramref name="peerId"/> (older ones are ignored by the policy).</summary>
    public IReadOnlyList<DateTimeOffset> FailuresOf(string peerId)
    {
        if (!_failures.TryGetValue(peerId, out var failures))
        {
            return [];
        }
        lock (failures)
        {
            return failures.Count == 0 ? [] : [.. failures];
        }
    }

    private static void Decrement(ConcurrentDictionary<string, int> counts, string peerId)
    {
        while (counts.TryGetValue(peerId, out var n))
        {
            if (n <= 1 ? counts.TryRemove(new KeyValuePair<string, int>(peerId, n)) : counts.TryUpdate(peerId, n - 1, n))
            {
                return;
            }
        }
    }
}
