using Dragonfly.PubSub.Contracts;

namespace Dragonfly.PubSub.Broker.Scheduling;

/// <summary>The peer that asks for parents.</summary>
/// <param name="CorruptParents">Parents that sent it a corrupt piece of this task: never offered again.</param>
public sealed record ChildProfile(
    string PeerId,
    PieceBitmap Bitmap,
    string Cluster,
    string Zone,
    IReadOnlySet<string> CorruptParents);
