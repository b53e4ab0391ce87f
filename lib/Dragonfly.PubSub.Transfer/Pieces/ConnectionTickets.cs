using Dragonfly.PubSub.Security;

namespace Dragonfly.PubSub.Transfer.Pieces;

/// <summary>
/// The tasks one peer-port connection may pull (issue 11, attack 4): each admitted by a ticket the
/// broker signed for the peer on the other end, until the ticket expires. Used by the connection's
/// own loop only, so no locks.
/// </summary>
internal sealed class ConnectionTickets(PeerTicketVerifier verifier, string peerId, TimeProvider time)
{
    // A connection serves the few tasks its client pulls from this peer; more is a client filling memory.
    private const int MaxTasks = 256;

    private readonly Dictionary<DigestKey, DateTimeOffset> _allowed = [];

    /// <summary>Checks a ticket for <paramref name="key"/>; null when admitted, otherwise why not (one line).</summary>
    public string? Admit(in DigestKey key, ReadOnlySpan<byte> ticket)
    {
        if (verifier.Verify(ticket, peerId, out var problem) is not { } valid)
        {
            return problem;
        }
        if (DigestKey.FromBytes(valid.TaskKey) != key)
        {
            return "a ticket for another task than the one it was presented for";
        }
        if (_allowed.Count >= MaxTasks && !_allowed.ContainsKey(key))
        {
            _allowed.Clear();
        }
        _allowed[key] = valid.Expires;
        return null;
    }

    /// <summary>True while a valid ticket for <paramref name="key"/> was presented on this connection.</summary>
    public bool Allows(in DigestKey key) => _allowed.TryGetValue(key, out var expires) && time.GetUtcNow() < expires;
}
