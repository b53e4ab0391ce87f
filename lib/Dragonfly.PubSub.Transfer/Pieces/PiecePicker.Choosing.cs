namespace Dragonfly.PubSub.Transfer.Pieces;

// Choosing the next request: the source, the last resort, parent first with its rarest piece, the
// endgame (the policy is in PiecePicker.cs's summary). The state they read and the bookkeeping of
// parents and outcomes stay in PiecePicker.cs.
internal sealed partial class PiecePicker
{
    /// <summary>Picks the next request, or false when nothing may be requested now.</summary>
    public bool TryPick(TimeSpan now, out int index, out ParentRef parent)
    {
        index = -1;
        parent = default;
        if (InFlight >= _maxInFlight || (_active.Count == 0 && !HasSource) || AllDone)
        {
            return false;
        }
        var start = _active.Count > 1 ? _randomStart : 0;
        if (start != _start)
        {
            _start = start;
            _scanFrom = 0; // positions are relative to the start
        }
        var best = PickForLastResort(now, out index) ?? PickRarest(now, out index) ?? PickForSource(now, out index);
        if (best is null && _requested.Count == _pieceCount - _doneCount)
        {
            best = PickEndgame(now, out index);
        }
        if (best is null)
        {
            return false;
        }
        _attempts[index]++;
        _requested.Add(index);
        best.InFlight++;
        best.Pieces.Add(index);
        InFlight++;
        parent = new ParentRef(best.PeerId, best.Host, best.Port, best.LastResort, ReferenceEquals(best, _source));
        return true;
    }

    /// <summary>The first piece in order that no usable parent can send, when the origin has room.</summary>
    private Parent? PickForSource(TimeSpan now, out int index)
    {
        index = -1;
        if (_source is not { Active: true } source || source.InFlight >= _maxInFlight)
        {
            return null;
        }
        var advancing = true;
        for (var i = _sourceScanFrom; i < _pieceCount; i++)
        {
            if (_done[i])
            {
                if (advancing)
                {
                    _sourceScanFrom = i + 1;
                }
                continue;
            }
            advancing = false;
            if (_attempts[i] > 0 || AnyParentCanSend(i, now))
            {
                continue;
            }
            index = i;
            return source;
        }
        return null;
    }

    /// <summary>A usable parent (last resorts included) holds the piece and its digest is known.</summary>
    private bool AnyParentCanSend(int index, TimeSpan now)
    {
        if (_unknown[index])
        {
            return false;
        }
        foreach (var p in _active)
        {
            if (p.Has[index] && p.BackoffUntil <= now && !_banned.Contains(p.PeerId))
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>A piece only a last-resort parent holds, when one has room for it.</summary>
    private Parent? PickForLastResort(TimeSpan now, out int index)
    {
        index = -1;
        Parent? lastResort = null;
        var withPeers = false;
        foreach (var p in _active)
        {
            if (_banned.Contains(p.PeerId))
            {
                continue;
            }
            if (!p.LastResort)
            {
                withPeers = true;
            }
            else if (p.BackoffUntil <= now && p.FullUntil <= now && (lastResort is null || p.InFlight < lastResort.InFlight))
            {
                lastResort = p;
            }
        }
        if (lastResort is null || lastResort.InFlight >= (withPeers ? 1 : _lastResortLimit))
        {
            return null;
        }
        // Alone with the publisher: in order. With peers: at random, so agents do not ask for the same piece.
        var seen = 0;
        for (var p = _scanFrom; p < _pieceCount; p++)
        {
            var i = Rotate(p);
            if (_done[i] || _attempts[i] > 0 || _unknown[i] || !lastResort.Has[i] || lastResort.IsDeferred(i, now) || OthersHold(i, now))
            {
                continue;
            }
            if (!withPeers)
            {
                index = i;
                return lastResort;
            }
            if (_random.Next(++seen) == 0)
            {
                index = i;
            }
        }
        return index >= 0 ? lastResort : null;
    }

    /// <summary>
    /// Parent first, as BitTorrent clients pick: the least loaded parent (other than a last resort) that has
    /// room now, at random among equally loaded ones, and from it the rarest piece it can send; ties in
    /// rotation order. Piece first (the rarest piece, then a holder) sent every child to the few holders of
    /// the rarest pieces at once, which answered "full" while parents holding common pieces sat idle.
    /// </summary>
    private Parent? PickRarest(TimeSpan now, out int index)
    {
        index = -1;
        var floor = 1;
        while (floor < _histogram.Length && _histogram[floor] == 0)
        {
            floor++;
        }
        _candidates.Clear();
        foreach (var parent in _active)
        {
            if (!parent.LastResort && parent.InFlight < _parentLimit && parent.BackoffUntil <= now && parent.FullUntil <= now
                && !_banned.Contains(parent.PeerId))
            {
                _candidates.Add(parent);
            }
        }
        while (_candidates.Count > 0)
        {
            // The least loaded candidate, at random among ties; removed once it has nothing to send.
            var chosen = 0;
            var ties = 1;
            for (var k = 1; k < _candidates.Count; k++)
            {
                var load = _candidates[k].InFlight.CompareTo(_candidates[chosen].InFlight);
                if (load < 0)
                {
                    chosen = k;
                    ties = 1;
                }
                else if (load == 0 && _random.Next(++ties) == 0)
                {
                    chosen = k;
                }
            }
            var parent = _candidates[chosen];
            var piece = RarestHeldBy(parent, floor, now);
            if (piece >= 0)
            {
                index = piece;
                return parent;
            }
            _candidates.RemoveAt(chosen);
        }
        return null;
    }

    /// <summary>The rarest piece <paramref name="parent"/> can send now, or -1; ties in rotation order.</summary>
    private int RarestHeldBy(Parent parent, int floor, TimeSpan now)
    {
        var best = -1;
        var bestCount = int.MaxValue;
        var advancing = true;
        for (var p = _scanFrom; p < _pieceCount; p++)
        {
            var i = Rotate(p);
            if (_done[i])
            {
                if (advancing)
                {
                    _scanFrom = p + 1;
                }
                continue;
            }
            advancing = false;
            var count = _count[i];
            if (_attempts[i] > 0 || count >= bestCount || _unknown[i] || !parent.Has[i] || parent.IsDeferred(i, now))
            {
                continue;
            }
            best = i;
            bestCount = count;
            if (count <= floor)
            {
                break;
            }
        }
        return best;
    }

    /// <summary>A usable parent other than a last resort holds the piece (whether or not it has room now).</summary>
    private bool OthersHold(int index, TimeSpan now)
    {
        foreach (var p in _active)
        {
            if (!p.LastResort && p.Has[index] && p.BackoffUntil <= now && !_banned.Contains(p.PeerId))
            {
                return true;
            }
        }
        return false;
    }

    private int Rotate(int position)
    {
        var i = _start + position;
        return i >= _pieceCount ? i - _pieceCount : i;
    }

    /// <summary>
    /// The least loaded usable parent holding the piece, at random among equally loaded ones; the last
    /// resort only when no other usable parent holds it at all (one at its request limit is waited for).
    /// </summary>
    /// <remarks>
    /// Used for endgame duplicates (new requests pick the parent first, <see cref="PickRarest"/>). Ties go at
    /// random because every child gets its parents in much the same order from the scheduler (most useful
    /// pieces first): taking the first would send every child's ties to the same parents.
    /// </remarks>
    private Parent? ChooseParent(int index, TimeSpan now)
    {
        Parent? normal = null;
        var normalTies = 0;
        Parent? lastResort = null;
        var otherHolds = false;
        if (_unknown[index])
        {
            return null;
        }
        foreach (var parent in _active)
        {
            if (!parent.Has[index] || parent.BackoffUntil > now || _banned.Contains(parent.PeerId))
            {
                continue;
            }
            if (!parent.LastResort)
            {
                otherHolds = true;
            }
            if (parent.InFlight >= (parent.LastResort ? _lastResortLimit : _parentLimit) || parent.FullUntil > now
                || parent.Pieces.Contains(index) || parent.IsDeferred(index, now))
            {
                continue;
            }
            if (parent.LastResort)
            {
                if (lastResort is null || parent.InFlight < lastResort.InFlight)
                {
                    lastResort = parent;
                }
            }
            else if (normal is null || parent.InFlight < normal.InFlight)
            {
                normal = parent;
                normalTies = 1;
            }
            else if (parent.InFlight == normal.InFlight && _random.Next(++normalTies) == 0)
            {
                normal = parent;
            }
        }
        return normal ?? (otherHolds ? null : lastResort);
    }

    private Parent? PickEndgame(TimeSpan now, out int index)
    {
        index = -1;
        Parent? best = null;
        var fewest = EndgameCopies;
        foreach (var i in _requested)
        {
            if (_done[i] || _attempts[i] >= fewest)
            {
                continue;
            }
            var candidate = ChooseParent(i, now);
            if (candidate is not null)
            {
                best = candidate;
                index = i;
                fewest = _attempts[i];
            }
        }
        return best;
    }
}
