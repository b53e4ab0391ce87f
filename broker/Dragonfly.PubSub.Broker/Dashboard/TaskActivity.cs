using Dragonfly.PubSub.Contracts;

namespace Dragonfly.PubSub.Broker.Dashboard;

/// <summary>
/// The traffic of one task as its members report it: who joined and finished when, who served whom how
/// many bytes, what failed. Written by the task's shard loop, read by the dashboard: every access holds
/// the lock (uncontended nearly always: one writer, a reader once a second).
/// </summary>
internal sealed class TaskActivity(string digest, PieceLayout layout, bool urlTask, DateTimeOffset firstSeen)
{
    /// <summary>Peers remembered per task; beyond it a newcomer is counted but not listed (a 10,000-agent swarm stays bounded).</summary>
    public const int MaxMembers = 10_000;

    /// <summary>Parent → child pairs remembered per task.</summary>
    public const int MaxEdges = 20_000;

    private readonly Dictionary<string, MemberActivity> _members = new(StringComparer.Ordinal);
    private readonly Dictionary<(string Parent, string Child), long> _edges = [];

    public Lock Gate { get; } = new();

    public string Digest { get; } = digest;

    public PieceLayout Layout { get; } = layout;

    public bool UrlTask { get; } = urlTask;

    public DateTimeOffset FirstSeen { get; } = firstSeen;

    /// <summary>The last report of any kind: ended tasks are forgotten oldest first.</summary>
    public DateTimeOffset LastActivity { get; set; } = firstSeen;

    public IReadOnlyDictionary<string, MemberActivity> Members => _members;

    public IReadOnlyDictionary<(string Parent, string Child), long> Edges => _edges;

    /// <summary>Bytes members received through the swarm (not counting what a source fetched from the origin).</summary>
    public long DeliveredBytes { get; set; }

    /// <summary>Of <see cref="DeliveredBytes"/>: from the publisher of a published artifact (its origin).</summary>
    public long FromPublisherBytes { get; set; }

    /// <summary>Of <see cref="DeliveredBytes"/>: from another member (a URL task's seed too).</summary>
    public long FromPeerBytes { get; set; }

    /// <summary>Of <see cref="DeliveredBytes"/>: from an agent that did not say (an older version).</summary>
    public long UnattributedBytes { get; set; }

    /// <summary>Bytes the URL task's source fetched from the origin.</summary>
    public long SourcedBytes { get; set; }

    /// <summary>Pieces reported failed, by kind (corrupt, unreachable, missing).</summary>
    public Dictionary<string, int> Failures { get; } = new(StringComparer.Ordinal);

    /// <summary>Members that joined but are not listed (<see cref="MaxMembers"/>).</summary>
    public int Unlisted { get; set; }

    public long LengthOf(int index) => Layout.PieceSize == 0 ? 0 : Layout.LengthOf(index);

    public MemberActivity? Member(string peerId, DateTimeOffset now, bool create)
    {
        if (_members.TryGetValue(peerId, out var member) || !create)
        {
            return member;
        }
        if (_members.Count >= MaxMembers)
        {
            Unlisted++;
            return null;
        }
        member = new MemberActivity(peerId, now);
        _members[peerId] = member;
        return member;
    }

    public void AddEdge(string parent, string child, long bytes)
    {
        var key = (parent, child);
        if (_edges.TryGetValue(key, out var sum))
        {
            _edges[key] = sum + bytes;
        }
        else if (_edges.Count < MaxEdges)
        {
            _edges[key] = bytes;
        }
    }
}
