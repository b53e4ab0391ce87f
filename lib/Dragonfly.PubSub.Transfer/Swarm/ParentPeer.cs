using Dragonfly.PubSub.Contracts;

namespace Dragonfly.PubSub.Transfer.Swarm;

/// <summary>A peer the scheduler lets this agent fetch a task's pieces from.</summary>
/// <param name="LastResort">The publisher or seed: fetch from it only what no other parent holds.</param>
public sealed record ParentPeer(string PeerId, string Host, int Port, PieceBitmap Bitmap, bool LastResort);
