namespace Dragonfly.PubSub.Transfer.Pieces;

/// <summary>A peer connection refused for who is on the other side (not a member of the fleet, revoked, not the expected peer).</summary>
public sealed class PeerRefusedException(string message) : Exception(message);
