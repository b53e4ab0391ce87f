using System.Collections.Frozen;

namespace Dragonfly.PubSub.Agent.Announcements;

/// <summary>
/// The fleet's revocation list as this agent last saw it (retained on MQTT <c>dragonfly/revoked</c>):
/// the peer port refuses these peers, and the fetcher does not dial them.
/// </summary>
public sealed class RevokedPeers
{
    public const string Topic = "dragonfly/revoked";

    private volatile FrozenSet<string> _peers = FrozenSet<string>.Empty;

    public bool Contains(string peerId) => _peers.Contains(peerId);

    public int Count => _peers.Count;

    public void Replace(IEnumerable<string> peerIds) => _peers = peerIds.ToFrozenSet(StringComparer.Ordinal);
}
