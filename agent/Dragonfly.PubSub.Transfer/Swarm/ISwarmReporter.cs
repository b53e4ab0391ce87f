using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Contracts.Scheduler;

namespace Dragonfly.PubSub.Transfer.Swarm;

/// <summary>
/// What a running download tells the scheduler. Calls never block and never throw: the
/// scheduler session queues them and replays state after a reconnect.
/// </summary>
public interface ISwarmReporter
{
    void PiecesFinished(ContentDigest digest, IReadOnlyList<int> indexes);

    void PieceFailed(ContentDigest digest, int index, string parentId, FailureKind kind);

    /// <summary>The download has nothing it can fetch from its current parents.</summary>
    void NeedParents(ContentDigest digest);
}
