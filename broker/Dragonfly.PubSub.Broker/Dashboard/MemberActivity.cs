using Dragonfly.PubSub.Contracts;

namespace Dragonfly.PubSub.Broker.Dashboard;

/// <summary>One peer's history in one task, as the dashboard and <c>dfbench fleet</c> read it. Guarded by its task's lock.</summary>
internal sealed class MemberActivity(string peerId, DateTimeOffset joinedAt)
{
    public string PeerId { get; } = peerId;

    /// <summary>When it first joined the task (a re-join after a reconnect keeps it).</summary>
    public DateTimeOffset JoinedAt { get; } = joinedAt;

    /// <summary>When it held every piece (as it reported them); null while it does not.</summary>
    public DateTimeOffset? CompletedAt { get; set; }

    /// <summary>When it left the task or disconnected; null while it is a member.</summary>
    public DateTimeOffset? LeftAt { get; set; }

    public bool Publisher { get; set; }

    /// <summary>Pieces it held when it joined (a publisher or a resumed download): not delivered by the swarm.</summary>
    public int HeldAtJoin { get; set; }

    public int Held { get; set; }

    /// <summary>Bytes of the pieces it reported finished since it joined (from peers, or from the origin as the source).</summary>
    public long ReceivedBytes { get; set; }

    /// <summary>Bytes of pieces other members reported as served by it.</summary>
    public long ServedBytes { get; set; }

    /// <summary>Bytes it fetched from the origin as the URL task's source.</summary>
    public long SourcedBytes { get; set; }

    /// <summary>
    /// The pieces counted for it: those it held when it first joined, then each reported piece once. A re-join can
    /// carry pieces whose report is still on its way (the scheduler then sees no new piece in the report); they are
    /// counted when the report comes, with the peer that served them.
    /// </summary>
    public PieceBitmap? Counted { get; set; }
}
