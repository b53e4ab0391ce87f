using Dragonfly.PubSub.Contracts.Scheduler;
using Google.Protobuf;

namespace Dragonfly.PubSub.Broker.Swarm;

/// <summary>
/// The progress of URL tasks being sourced, kept where another broker finds it (<see cref="State.RedisUrlTaskProgress"/>):
/// the piece digests the source reported so far. Called on a shard's loop: writes must not block.
/// </summary>
public interface IUrlTaskProgress
{
    /// <summary>The source reported these pieces of <paramref name="taskId"/> and their digests.</summary>
    void Learned(string taskId, long size, int pieceSize, IReadOnlyList<int> indexes, IReadOnlyList<ByteString> digests);

    /// <summary>
    /// What is known of a task registered again: a manifest with its size, piece size and the digests learned
    /// (empty where unknown), no content digest; null when nothing is known (or the store does not answer).
    /// </summary>
    Manifest? Partial(string taskId);

    /// <summary>The task is sourced or forgotten: its progress is not needed any more.</summary>
    void Forget(string taskId);
}
