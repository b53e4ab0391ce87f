using Dragonfly.PubSub.Contracts;

namespace Dragonfly.PubSub.Broker.Swarm;

/// <summary>The peers of one task (in memory only; agents join again after a broker restart).</summary>
internal sealed class SwarmTask(string digest, int pieceCount)
{
    public string Digest { get; } = digest;
    public int PieceCount { get; } = pieceCount;
    public Dictionary<string, TaskMember> Members { get; } = new(StringComparer.Ordinal);
}

/// <summary>One peer in one task.</summary>
internal sealed class TaskMember(PeerSession session, PieceBitmap bitmap, bool publisher)
{
    public PeerSession Session { get; } = session;
    public PieceBitmap Bitmap { get; set; } = bitmap;
    public bool Publisher { get; set; } = publisher;

    /// <summary>The parents in the latest ParentSet sent to this peer for this task.</summary>
    public List<(string PeerId, bool LastResort)> Parents { get; } = [];

    /// <summary>Parents this peer reported a corrupt piece from: never offered to it again for this task.</summary>
    public HashSet<string> CorruptParents { get; } = new(StringComparer.Ordinal);

    public bool IsComplete => Bitmap.IsComplete;

    public int OrdinaryParents => Parents.Count(p => !p.LastResort);
}
