using Dragonfly.PubSub.Contracts;

namespace Dragonfly.PubSub.Broker.Scheduling;

/// <summary>The peer that asks for parents.</summary>
/// <param name="CorruptParents">Parents that sent it a corrupt piece of this task: never offered again.</param>
/// <param name="MayCrossClusters">
/// It may take parents from another labelled cluster (it is its cluster's gateway for the task, or has
/// no cluster label). False: only parents of its own cluster or without a cluster label.
/// </param>
public sealed record ChildProfile(
    string PeerId,
    PieceBitmap Bitmap,
    string Cluster,
    string Zone,
    IReadOnlySet<string> CorruptParents,
    bool MayCrossClusters = true);
