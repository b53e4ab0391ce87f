namespace Dragonfly.PubSub.Broker.Swarm;

/// <summary>
/// The membership one shard drives: every connected session (each shard sees every Connect), the tasks
/// that hash to this shard and their members, and which of those tasks each session joined. Touched
/// only by the shard's loop; no locks.
/// </summary>
internal sealed class SwarmState
{
    private readonly Dictionary<PeerSession, HashSet<string>> _joined = new(ReferenceEqualityComparer.Instance);

    /// <summary>The current session of each peer id (a newer Connect replaces an older one).</summary>
    public Dictionary<string, PeerSession> Sessions { get; } = new(StringComparer.Ordinal);

    /// <summary>The tasks of this shard with at least one member.</summary>
    public Dictionary<string, SwarmTask> Tasks { get; } = new(StringComparer.Ordinal);

    /// <summary>Shutting down: sources that go away now have not failed.</summary>
    public bool Closing { get; set; }

    /// <summary>A seed peer has connected since the start (the broker's own seed no longer needs waiting for).</summary>
    public bool SeedSeen { get; set; }

    /// <summary>True when <paramref name="session"/> is its peer's current session (not replaced, not gone).</summary>
    public bool IsCurrent(PeerSession session) =>
        Sessions.TryGetValue(session.PeerId, out var current) && ReferenceEquals(current, session);

    /// <summary>The digests of this shard's tasks that <paramref name="session"/> joined (a copy).</summary>
    public List<string> JoinedBy(PeerSession session) => _joined.TryGetValue(session, out var digests) ? [.. digests] : [];

    public void MarkJoined(PeerSession session, string digest)
    {
        if (!_joined.TryGetValue(session, out var digests))
        {
            digests = new HashSet<string>(StringComparer.Ordinal);
            _joined[session] = digests;
        }
        digests.Add(digest);
    }

    public void MarkLeft(PeerSession session, string digest)
    {
        if (_joined.TryGetValue(session, out var digests) && digests.Remove(digest) && digests.Count == 0)
        {
            _joined.Remove(session);
        }
    }

    public bool TryGetMember(string digest, string peerId, out SwarmTask task, out TaskMember member)
    {
        if (Tasks.TryGetValue(digest, out task!) && task.Members.TryGetValue(peerId, out member!))
        {
            return true;
        }
        member = null!;
        return false;
    }
}
