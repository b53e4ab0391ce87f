using System.Collections.Concurrent;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Contracts.Scheduler;
using Dragonfly.PubSub.Transfer.Swarm;

namespace Dragonfly.PubSub.Agent.Tests.Support;

/// <summary>An <see cref="ISwarmReporter"/> that remembers every call.</summary>
public sealed class RecordingReporter : ISwarmReporter
{
    public ConcurrentQueue<int> Finished { get; } = new();
    public ConcurrentQueue<(int Index, string ParentId, FailureKind Kind)> Failures { get; } = new();

    /// <summary>Pieces reported by a source, with their digests.</summary>
    public ConcurrentQueue<(int Index, byte[] Digest)> Sourced { get; } = new();

    public ConcurrentQueue<ContentDigest> SourcesDone { get; } = new();
    public ConcurrentQueue<(string Error, bool Permanent, TaskErrorKind Kind)> SourceFailures { get; } = new();
    private int _needParents;

    public int NeedParentsCalls => Volatile.Read(ref _needParents);

    public void PiecesFinished(ContentDigest digest, IReadOnlyList<int> indexes)
    {
        foreach (var i in indexes)
        {
            Finished.Enqueue(i);
        }
    }

    /// <summary>Finished pieces with the peer each came from ("" = not from a peer).</summary>
    public ConcurrentQueue<(int Index, string Parent)> ServedBy { get; } = new();

    public void PiecesFinished(ContentDigest digest, IReadOnlyList<int> indexes, IReadOnlyList<string> parents)
    {
        Assert.Equal(indexes.Count, parents.Count);
        for (var k = 0; k < indexes.Count; k++)
        {
            ServedBy.Enqueue((indexes[k], parents[k]));
        }
        PiecesFinished(digest, indexes);
    }

    public void PieceFailed(ContentDigest digest, int index, string parentId, FailureKind kind) =>
        Failures.Enqueue((index, parentId, kind));

    public void NeedParents(ContentDigest digest) => Interlocked.Increment(ref _needParents);

    public void PiecesSourced(ContentDigest task, IReadOnlyList<int> indexes, IReadOnlyList<byte[]> digests)
    {
        Assert.Equal(indexes.Count, digests.Count);
        for (var k = 0; k < indexes.Count; k++)
        {
            Sourced.Enqueue((indexes[k], digests[k]));
        }
    }

    public void SourceDone(ContentDigest task, ContentDigest content) => SourcesDone.Enqueue(content);

    public void SourceFailed(ContentDigest task, string error, bool permanent, TaskErrorKind kind) => SourceFailures.Enqueue((error, permanent, kind));
}
