using Dragonfly.PubSub.Broker.Swarm;

namespace Dragonfly.PubSub.Broker.Scheduling;

/// <summary>
/// The scheduling decisions of one shard, apart from the membership they act on (Dragonfly2's
/// <c>scheduling.Scheduling</c>): who a member's parents are, who hears of new pieces, who is offered a
/// new holder. Implementations keep the parent links and the load figures that go with them.
/// </summary>
internal interface ISwarmScheduling
{
    /// <summary>Chooses and sends <paramref name="member"/>'s parents; <paramref name="requestId"/> is echoed (0: pushed unasked).</summary>
    void SendParents(SwarmTask task, TaskMember member, ulong requestId = 0, long arrived = 0);

    /// <summary>Drops <paramref name="member"/>'s parent set (it completed, left, or gets a new one).</summary>
    void ReleaseParents(SwarmTask task, TaskMember member);

    /// <summary><paramref name="holder"/> gained <paramref name="gained"/>: members that lack them and have room get a fresh set.</summary>
    void OfferAsParent(SwarmTask task, TaskMember holder, IReadOnlyList<int> gained);

    /// <summary>Tells <paramref name="reporter"/>'s incomplete children which pieces it gained.</summary>
    void RelayAvailable(SwarmTask task, TaskMember reporter, IReadOnlyList<int> added);

    /// <summary>Sends the piece news held back during the loop's current batch (see <see cref="PieceNews"/>).</summary>
    void FlushNews();

    /// <summary>How many (child, task) parent sets name <paramref name="peerId"/>, over all tasks.</summary>
    int ChildrenOf(string peerId);
}
