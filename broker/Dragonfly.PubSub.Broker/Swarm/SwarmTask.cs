using Dragonfly.PubSub.Contracts;

namespace Dragonfly.PubSub.Broker.Swarm;

/// <summary>The peers of one task (in memory only; agents join again after a broker restart).</summary>
internal sealed class SwarmTask(string digest, int pieceCount)
{
    private long _joins;

    public string Digest { get; } = digest;
    public int PieceCount { get; } = pieceCount;
    public Dictionary<string, TaskMember> Members { get; } = new(StringComparer.Ordinal);

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

/// <summary>One peer in one task.</summary>
internal sealed class TaskMember(PeerSession session, PieceBitmap bitmap, bool publisher, long joinOrder = 0)
{
    public PeerSession Session { get; } = session;
    public PieceBitmap Bitmap { get; set; } = bitmap;
    public bool Publisher { get; set; } = publisher;

    /// <summary>When it joined the task, relative to the other members (the earliest of a cluster is its gateway).</summary>
    public long JoinOrder { get; } = joinOrder;

    /// <summary>The parents in the latest ParentSet sent to this peer for this task.</summary>
    public List<(string PeerId, bool LastResort)> Parents { get; } = [];

    /// <summary>Parents this peer reported a corrupt piece from: never offered to it again for this task.</summary>
    public HashSet<string> CorruptParents { get; } = new(StringComparer.Ordinal);

    public bool IsComplete => Bitmap.IsComplete;

    public int OrdinaryParents => Parents.Count(p => !p.LastResort);
}
