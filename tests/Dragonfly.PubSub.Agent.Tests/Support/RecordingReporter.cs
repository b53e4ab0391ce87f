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
    private int _needParents;

    public int NeedParentsCalls => Volatile.Read(ref _needParents);

    public void PiecesFinished(ContentDigest digest, IReadOnlyList<int> indexes)
    {
        foreach (var i in indexes)
        {
            Finished.Enqueue(i);
        }
    }

    public void PieceFailed(ContentDigest digest, int index, string parentId, FailureKind kind) =>
        Failures.Enqueue((index, parentId, kind));

    public void NeedParents(ContentDigest digest) => Interlocked.Increment(ref _needParents);
}
