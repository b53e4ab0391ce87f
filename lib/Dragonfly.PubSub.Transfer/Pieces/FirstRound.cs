namespace Dragonfly.PubSub.Transfer.Pieces;

/// <summary>
/// The first round of a first copy: the publisher's file, or a seed's right after it fetched the
/// origin. Until every piece has gone out once, a piece already sent to one peer is not sent to
/// another (the requester hears "busy" and takes it from that peer or asks for another piece),
/// so the only full copy spends its upload on pieces the swarm lacks (BitTorrent's initial or
/// "super" seeding). Receivers that are not each other's parents yet cannot see who already holds
/// a piece; without this, 16 receivers of a 256 MiB file made the publisher send 1.8 copies.
/// The round ends when every piece went out, or when no new piece was asked for a while (those
/// who need a piece sent earlier have nowhere else to get it: its first receiver left). Thread-safe.
/// </summary>
internal sealed class FirstRound(int pieceCount, TimeProvider time)
{
    /// <summary>Without a request for a piece not sent yet for this long, repeats are served again.</summary>
    public static readonly TimeSpan StallAfter = TimeSpan.FromSeconds(2);

    private readonly Lock _lock = new();
    private readonly string?[] _sentTo = new string?[pieceCount];
    private int _sent;
    private long _lastFirstSend = time.GetTimestamp();

    /// <summary>
    /// Whether <paramref name="requester"/> may be sent piece <paramref name="index"/> now: it was not
    /// sent yet (and is claimed for the requester), it went to the same requester before (a retry), or
    /// the round is over.
    /// </summary>
    public bool TryClaim(int index, string requester)
    {
        lock (_lock)
        {
            if (_sent == _sentTo.Length || (uint)index >= (uint)_sentTo.Length)
            {
                return true;
            }
            if (_sentTo[index] is not { } to)
            {
                _sentTo[index] = requester;
                _sent++;
                _lastFirstSend = time.GetTimestamp();
                return true;
            }
            return to == requester || time.GetElapsedTime(_lastFirstSend) >= StallAfter;
        }
    }

    /// <summary>A claimed piece did not go out after all: the next requester may have it.</summary>
    public void Release(int index, string requester)
    {
        lock (_lock)
        {
            if (_sent < _sentTo.Length && (uint)index < (uint)_sentTo.Length && _sentTo[index] == requester)
            {
                _sentTo[index] = null;
                _sent--;
            }
        }
    }
}
