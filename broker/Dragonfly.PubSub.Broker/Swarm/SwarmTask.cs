using Dragonfly.PubSub.Contracts;

namespace Dragonfly.PubSub.Broker.Swarm;

/// <summary>The peers of one task (in memory only; agents join again after a broker restart).</summary>
internal sealed class SwarmTask(string digest, int pieceCount)
{
    private readonly Dictionary<string, TaskMember> _members = new(StringComparer.Ordinal);
    private readonly List<TaskMember> _slots = [];
    private long _joins;

    public string Digest { get; } = digest;
    public int PieceCount { get; } = pieceCount;

    /// <summary>The members by peer id (in join order while nobody left). Change it only through <see cref="Add"/> and <see cref="Remove"/>.</summary>
    public IReadOnlyDictionary<string, TaskMember> Members => _members;

    /// <summary>The members in no particular order, for drawing random candidates.</summary>
    public IReadOnlyList<TaskMember> Slots => _slots;

    /// <summary>Members that joined as publisher or seed: always considered, as parents of last resort.</summary>
    public HashSet<TaskMember> Publishers { get; } = [];

    /// <summary>Incomplete members with room for more ordinary parents: the only ones a new holder is offered to.</summary>
    public HashSet<TaskMember> Hungry { get; } = [];

    public void Add(TaskMember member)
    {
        _members[member.PeerId] = member;
        member.Slot = _slots.Count;
        _slots.Add(member);
        SetPublisher(member, member.Publisher);
    }

    public bool Remove(string peerId, out TaskMember member)
    {
        if (!_members.Remove(peerId, out member!))
        {
            return false;
        }
        // Swap with the last slot: O(1), order does not matter there.
        var last = _slots[^1];
        _slots[member.Slot] = last;
        last.Slot = member.Slot;
        _slots.RemoveAt(_slots.Count - 1);
        member.Slot = -1;
        Publishers.Remove(member);
        Hungry.Remove(member);
        return true;
    }

    public void SetPublisher(TaskMember member, bool publisher)
    {
        member.Publisher = publisher;
        if (publisher)
        {
            Publishers.Add(member);
        }
        else
        {
            Publishers.Remove(member);
        }
    }

    /// <summary>
    /// Per non-empty cluster label: the one member that may take parents from other clusters (the
    /// earliest to join, re-elected when it leaves), so each cluster pulls one copy across the boundary.
    /// </summary>
    public Dictionary<string, string> Gateways { get; } = new(StringComparer.Ordinal);

    public long NextJoinOrder() => ++_joins;

    /// <summary>True when <paramref name="member"/> may get parents from another (labelled) cluster.</summary>
    public bool MayCrossClusters(TaskMember member) =>
        member.Session.Cluster.Length == 0
        || (Gateways.TryGetValue(member.Session.Cluster, out var gateway) && gateway == member.Session.PeerId);

    /// <summary>
    /// Whether <paramref name="child"/> may fetch from <paramref name="parent"/>: always inside a cluster or
    /// when either has no cluster label; across two labelled clusters only as its cluster's gateway.
    /// </summary>
    public bool MayUse(TaskMember child, TaskMember parent) =>
        child.Session.Cluster.Length == 0
        || parent.Session.Cluster.Length == 0
        || string.Equals(child.Session.Cluster, parent.Session.Cluster, StringComparison.Ordinal)
        || MayCrossClusters(child);

    /// <summary>Makes <paramref name="member"/> its cluster's gateway when the cluster has none.</summary>
    public void ElectOnJoin(TaskMember member)
    {
        var cluster = member.Session.Cluster;
        if (cluster.Length > 0)
        {
            Gateways.TryAdd(cluster, member.Session.PeerId);
        }
    }

    /// <summary>
    /// <paramref name="gone"/> left: when it was its cluster's gateway, the earliest remaining member of
    /// that cluster takes over. Returns the new gateway, if there is one.
    /// </summary>
    public TaskMember? ReelectOnLeave(TaskMember gone)
    {
        var cluster = gone.Session.Cluster;
        if (cluster.Length == 0 || !Gateways.TryGetValue(cluster, out var gateway) || gateway != gone.Session.PeerId)
        {
            return null;
        }
        Gateways.Remove(cluster);
        TaskMember? next = null;
        foreach (var member in Members.Values)
        {
            if (string.Equals(member.Session.Cluster, cluster, StringComparison.Ordinal) && (next is null || member.JoinOrder < next.JoinOrder))
            {
                next = member;
            }
        }
        if (next is not null)
        {
            Gateways[cluster] = next.Session.PeerId;
        }
        return next;
    }
}
