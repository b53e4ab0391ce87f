using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Transfer.Swarm;

namespace Dragonfly.PubSub.Transfer.Pieces;

/// <summary>
/// Decides which piece to request next and from which parent. Owned by one download's loop
/// (not thread-safe). Policy:
/// <list type="bullet">
/// <item>parent first: the least loaded parent with room (at random among equally loaded ones),
///   then the rarest piece it holds, counted over the bitmaps of all parents not banned;</item>
/// <item>ties go in order from a random start when there are several parents, so agents of
///   one swarm spread over the file while each still fetches long in-order runs; with a single
///   parent they go in order from the first piece, so the whole-file hash keeps up as pieces
///   arrive instead of reading most of the file back at the end;</item>
/// <item>a last-resort parent (publisher, seed) only serves pieces no other usable parent holds.
///   While other parents exist it gets one request at a time, for a piece chosen at random
///   among those only it holds: every agent keeps the publisher busy with a different piece
///   instead of many asking it for the same one. Alone, it gets a few requests in order;</item>
/// <item>at most a few requests per parent, so a slow parent cannot hold most of the window;</item>
/// <item>endgame: once every missing piece is requested, free parents duplicate the
///   outstanding ones (first verified copy wins);</item>
/// <item>a parent that sent corrupt bytes is banned for the task; one that could not be reached
///   is backed off for a few seconds, longer when it keeps failing; a piece a seed is busy
///   sending to someone else is not asked of that seed again for a second, and a parent whose
///   upload slots are full gets no new request for a quarter of a second;</item>
/// <item>a piece whose digest is not known yet (URL tasks learn them as the source fetches) is
///   never asked of a peer: nothing could verify it;</item>
/// <item>the origin, when this download is the task's source (<see cref="SetSource"/>), comes
///   after every peer: it gets, in order, the pieces no usable parent holds (or none holds with
///   a known digest), up to the whole window at once so several ranged reads overlap. It is
///   never used for endgame duplicates.</item>
/// </list>
/// </summary>
internal sealed partial class PiecePicker
{
    public const int DefaultParentLimit = 3;
    public const int DefaultLastResortLimit = 3;
    public const int EndgameCopies = 2;

    /// <summary>The peer id of the origin pseudo-parent (<see cref="SetSource"/>).</summary>
    public const string SourceId = "source";
    public static readonly TimeSpan BaseBackoff = TimeSpan.FromSeconds(3);
    public static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(30);

    /// <summary>How long a piece a seed answered "busy" for is not asked of that seed again.</summary>
    public static readonly TimeSpan BusyDefer = TimeSpan.FromSeconds(1);

    /// <summary>How long a parent that answered "full" gets no new requests (it still counts as holding its pieces).</summary>
    public static readonly TimeSpan FullDefer = TimeSpan.FromMilliseconds(250);

    private readonly int _pieceCount;
    private readonly int _maxInFlight;
    private readonly int _parentLimit;
    private readonly int _lastResortLimit;
    private readonly int _randomStart;
    private int _start;
    private readonly Random _random;
    private readonly bool[] _done;
    private readonly int[] _attempts;
    private readonly int[] _count;
    private readonly bool[] _unknown;
    private Parent? _source;
    private int _sourceScanFrom;
    private readonly HashSet<int> _requested = [];
    private readonly Dictionary<string, Parent> _parents = new(StringComparer.Ordinal);
    private readonly HashSet<string> _banned = new(StringComparer.Ordinal);
    private readonly List<Parent> _active = [];
    private readonly List<Parent> _candidates = [];
    private int[] _histogram = new int[4];
    private int _doneCount;
    private int _scanFrom;

    /// <param name="unknown">Pieces whose digest is not known yet; null = all known.</param>
    public PiecePicker(int pieceCount, int maxInFlight, Random random, PieceBitmap? done = null,
        int parentLimit = DefaultParentLimit, int lastResortLimit = DefaultLastResortLimit, IReadOnlyList<bool>? unknown = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(pieceCount);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxInFlight, 1);
        _pieceCount = pieceCount;
        _maxInFlight = maxInFlight;
        _parentLimit = Math.Max(1, parentLimit);
        _lastResortLimit = Math.Max(1, lastResortLimit);
        _random = random;
        _randomStart = pieceCount == 0 ? 0 : random.Next(pieceCount);
        _done = new bool[pieceCount];
        _attempts = new int[pieceCount];
        _count = new int[pieceCount];
        _unknown = new bool[pieceCount];
        for (var i = 0; i < pieceCount; i++)
        {
            _unknown[i] = unknown is not null && i < unknown.Count && unknown[i];
            if (done is not null && i < done.PieceCount && done[i])
            {
                _done[i] = true;
                _doneCount++;
            }
        }
        _histogram[0] = pieceCount - _doneCount;
    }

    public int PieceCount => _pieceCount;
    public bool AllDone => _doneCount == _pieceCount;

    /// <summary>Requests outstanding, duplicates included.</summary>
    public int InFlight { get; private set; }

    /// <summary>The first piece index ties are broken from while there are several parents.</summary>
    public int RandomStart => _randomStart;

    public int ActiveParents => _active.Count;

    /// <summary>The origin is a parent (this download is the task's source).</summary>
    public bool HasSource => _source is { Active: true };

    /// <summary>Requests outstanding at the origin.</summary>
    public int SourceInFlight => _source?.InFlight ?? 0;

    /// <summary>Makes the origin a parent of last resort, or drops it (its requests in flight still finish).</summary>
    public void SetSource(bool active)
    {
        if (active)
        {
            _source ??= new Parent(SourceId, 0) { LastResort = true };
            _source.Active = true;
            _sourceScanFrom = 0;
        }
        else if (_source is not null)
        {
            _source.Active = false;
        }
    }

    /// <summary>The digest of a piece became known: peers may be asked for it now.</summary>
    public void DigestKnown(int index)
    {
        if ((uint)index < (uint)_pieceCount && _unknown[index])
        {
            _unknown[index] = false;
            _scanFrom = 0;
        }
    }

    public bool IsBanned(string peerId) => _banned.Contains(peerId);

    /// <summary>Replaces the parent set; bans and back-offs of known peers carry over.</summary>
    public void SetParents(IEnumerable<ParentPeer> parents)
    {
        var incoming = new Dictionary<string, ParentPeer>(StringComparer.Ordinal);
        foreach (var p in parents)
        {
            if (p.PeerId != SourceId)
            {
                incoming[p.PeerId] = p;
            }
        }
        foreach (var parent in _active)
        {
            if (!incoming.ContainsKey(parent.PeerId))
            {
                SetHolding(parent, false);
                parent.Active = false;
            }
        }
        foreach (var (id, peer) in incoming)
        {
            if (!_parents.TryGetValue(id, out var parent))
            {
                parent = new Parent(id, _pieceCount);
                _parents[id] = parent;
            }
            // A parent that stays keeps what this download heard of it since (piece news, its own piece map):
            // the scheduler's bitmap may be older than that. One that comes back starts from the scheduler's.
            var stays = parent.Active;
            SetHolding(parent, false);
            parent.Host = peer.Host;
            parent.Port = peer.Port;
            parent.LastResort = peer.LastResort;
            if (!stays)
            {
                Array.Clear(parent.Has);
            }
            for (var i = 0; i < Math.Min(_pieceCount, peer.Bitmap.PieceCount); i++)
            {
                parent.Has[i] |= peer.Bitmap[i];
            }
            parent.Active = true;
            SetHolding(parent, true);
        }
        _active.Clear();
        foreach (var parent in _parents.Values.ToList())
        {
            if (parent.Active)
            {
                _active.Add(parent);
            }
            else if (parent.InFlight == 0)
            {
                _parents.Remove(parent.PeerId);
            }
        }
    }

    /// <summary>A parent gained pieces; unknown parents are ignored (their set comes with the next parent set).</summary>
    public void AddAvailable(string peerId, IEnumerable<int> indexes)
    {
        if (!_parents.TryGetValue(peerId, out var parent) || !parent.Active)
        {
            return;
        }
        var counts = !_banned.Contains(peerId);
        foreach (var i in indexes)
        {
            if ((uint)i < (uint)_pieceCount && !parent.Has[i])
            {
                parent.Has[i] = true;
                if (counts)
                {
                    ChangeCount(i, +1);
                }
            }
        }
    }

    /// <summary>The piece is verified and written.</summary>
    public void MarkDone(int index)
    {
        if (_done[index])
        {
            return;
        }
        _done[index] = true;
        _doneCount++;
        _histogram[_count[index]]--;
    }

    /// <summary>A piece once done turned out damaged on disk: fetch it again.</summary>
    public void MarkNotDone(int index)
    {
        if (!_done[index])
        {
            return;
        }
        _done[index] = false;
        _doneCount--;
        _histogram[_count[index]]++;
        _scanFrom = 0;
        _sourceScanFrom = 0;
    }

    /// <summary>Records how a request ended and what it says about the parent.</summary>
    public void Finished(int index, string peerId, FetchStatus status, TimeSpan now)
    {
        InFlight--;
        if (--_attempts[index] == 0)
        {
            _requested.Remove(index);
        }
        if (peerId == SourceId)
        {
            if (_source is not null)
            {
                _source.InFlight--;
                _source.Pieces.Remove(index);
            }
            return;
        }
        if (!_parents.TryGetValue(peerId, out var parent))
        {
            return;
        }
        parent.InFlight--;
        parent.Pieces.Remove(index);
        switch (status)
        {
            case FetchStatus.Ok:
                parent.Failures = 0;
                break;
            case FetchStatus.Corrupt:
                if (_banned.Add(peerId) && parent.Active)
                {
                    SetHolding(parent, false, ignoreBan: true);
                }
                break;
            case FetchStatus.Missing:
                if (parent.Has[index])
                {
                    parent.Has[index] = false;
                    if (parent.Active && !_banned.Contains(peerId))
                    {
                        ChangeCount(index, -1);
                    }
                }
                break;
            case FetchStatus.Busy:
                parent.Deferred[index] = now + BusyDefer;
                break;
            case FetchStatus.Full:
                parent.FullUntil = now + FullDefer;
                break;
            case FetchStatus.Unreachable:
                parent.Failures++;
                var backoff = BaseBackoff * Math.Pow(2, Math.Min(parent.Failures - 1, 4));
                parent.BackoffUntil = now + (backoff < MaxBackoff ? backoff : MaxBackoff);
                break;
        }
        if (!parent.Active && parent.InFlight == 0)
        {
            _parents.Remove(peerId);
        }
    }

    private void SetHolding(Parent parent, bool holding, bool ignoreBan = false)
    {
        if (!parent.Active || (!ignoreBan && _banned.Contains(parent.PeerId)))
        {
            return;
        }
        var delta = holding ? 1 : -1;
        for (var i = 0; i < _pieceCount; i++)
        {
            if (parent.Has[i])
            {
                ChangeCount(i, delta);
            }
        }
    }

    private void ChangeCount(int index, int delta)
    {
        var old = _count[index];
        var now = old + delta;
        _count[index] = now;
        if (_done[index])
        {
            return;
        }
        if (now >= _histogram.Length)
        {
            Array.Resize(ref _histogram, Math.Max(now + 1, _histogram.Length * 2));
        }
        _histogram[old]--;
        _histogram[now]++;
    }

    /// <summary>What a download needs to send one request.</summary>
    /// <param name="Source">The origin, not a peer (<see cref="SetSource"/>).</param>
    public readonly record struct ParentRef(string PeerId, string Host, int Port, bool LastResort, bool Source = false);

    private sealed class Parent(string peerId, int pieceCount)
    {
        public string PeerId { get; } = peerId;
        public string Host { get; set; } = "";
        public int Port { get; set; }
        public bool LastResort { get; set; }
        public bool Active { get; set; }
        public bool[] Has { get; } = new bool[pieceCount];
        public int InFlight { get; set; }
        public HashSet<int> Pieces { get; } = [];
        public int Failures { get; set; }
        public TimeSpan BackoffUntil { get; set; }

        /// <summary>Until when the parent said its upload slots and queue are full.</summary>
        public TimeSpan FullUntil { get; set; }

        /// <summary>Pieces this parent said it is busy sending elsewhere, until when.</summary>
        public Dictionary<int, TimeSpan> Deferred { get; } = [];

        public bool IsDeferred(int index, TimeSpan now)
        {
            if (Deferred.Count == 0 || !Deferred.TryGetValue(index, out var until))
            {
                return false;
            }
            if (until > now)
            {
                return true;
            }
            Deferred.Remove(index);
            return false;
        }
    }
}
