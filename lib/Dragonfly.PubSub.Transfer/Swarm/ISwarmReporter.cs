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

    /// <summary>
    /// <see cref="PiecesFinished(ContentDigest, IReadOnlyList{int})"/> with the peer each piece came from, parallel
    /// to <paramref name="indexes"/> ("" = not from a peer): the fleet dashboard's who-serves-whom (issue 13).
    /// </summary>
    void PiecesFinished(ContentDigest digest, IReadOnlyList<int> indexes, IReadOnlyList<string> parents) => PiecesFinished(digest, indexes);

    void PieceFailed(ContentDigest digest, int index, string parentId, FailureKind kind);

    /// <summary>The download has nothing it can fetch from its current parents.</summary>
    void NeedParents(ContentDigest digest);

    /// <summary>
    /// The source of a URL task has these pieces (fetched from the origin, or held when it became
    /// the source): <c>PiecesFinished</c> with their SHA-256 digests, parallel to <paramref name="indexes"/>.
    /// </summary>
    void PiecesSourced(ContentDigest task, IReadOnlyList<int> indexes, IReadOnlyList<byte[]> digests);

    /// <summary>The source of a URL task has every piece; <paramref name="content"/> is the whole file's SHA-256.</summary>
    void SourceDone(ContentDigest task, ContentDigest content);

    /// <summary>
    /// The source of a URL task gave up. <paramref name="permanent"/>: the task fails for everyone
    /// (not found, access denied, the content changed or does not match the expected digest);
    /// otherwise the scheduler may pick another source. <paramref name="kind"/> says why, as data.
    /// </summary>
    void SourceFailed(ContentDigest task, string error, bool permanent, TaskErrorKind kind);
}
