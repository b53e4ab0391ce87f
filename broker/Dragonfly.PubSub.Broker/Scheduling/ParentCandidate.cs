using Dragonfly.PubSub.Contracts;

namespace Dragonfly.PubSub.Broker.Scheduling;

/// <summary>Another peer of the task, as the policy sees it.</summary>
/// <param name="Children">Peers whose latest parent set contains this peer (over all tasks).</param>
/// <param name="UploadSlots">Concurrent uploads it serves (0 = unknown, counted as 1).</param>
/// <param name="Failures">When children reported failed pieces from it (older ones are ignored).</param>
public sealed record ParentCandidate(
    string PeerId,
    PieceBitmap Bitmap,
    bool IsPublisher,
    string Cluster,
    string Zone,
    int Children,
    int UploadSlots,
    IReadOnlyList<DateTimeOffset> Failures);
