using System.Collections.Immutable;

namespace Dragonfly.PubSub.Broker.Security;

/// <summary>
/// The revoked peer ids, read on every handshake (an immutable set swapped on change, so the check
/// takes no lock) and kept in the <see cref="SecurityStore"/>. <see cref="Revoked"/> lets the running
/// broker cut that peer's live sessions.
/// </summary>
public sealed class RevocationList
{
    private readonly SecurityStore _store;
    private readonly TimeProvider _time;
    private ImmutableHashSet<string> _revoked;

    public RevocationList(SecurityStore store, TimeProvider time)
    {
        _store = store;
        _time = time;
        _revoked = [.. store.RevokedPeers()];
    }

    /// <summary>Raised after a peer id was added (on the revoking thread).</summary>
    public event Action<string>? Revoked;

    public bool IsRevoked(string peerId) => Volatile.Read(ref _revoked).Contains(peerId);

    public IReadOnlyList<string> All => [.. Volatile.Read(ref _revoked).Order(StringComparer.Ordinal)];

    /// <summary>Revokes a peer id; false when it was revoked already (nothing changes then).</summary>
    public bool Revoke(string peerId)
    {
        if (!_store.RevokePeer(peerId, _time.GetUtcNow()))
        {
            return false;
        }
        ImmutableInterlocked.Update(ref _revoked, set => set.Add(peerId));
        Revoked?.Invoke(peerId);
        return true;
    }
}
