using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Transfer.Swarm;

namespace Dragonfly.PubSub.Transfer.Pieces;

/// <summary>
/// A download's watches on its parents' piece maps (<see cref="PieceProtocol.MapMarker"/> polls): one per parent
/// that does not yet hold everything, started when the parent joins the set and stopped when it leaves. Each new
/// map becomes the pieces it adds, handed to <c>gained</c> (the piece loop's inbox). The child hears of a parent's
/// piece from the parent, within 250 ms of its writing it in the connection's first seconds and within a second
/// later (<see cref="PieceProtocol.MapAnswerGapAfter"/>), and the
/// broker relays no piece news at all (<see cref="TransferOptions.FollowParentMaps"/>). Used from the piece loop only.
/// </summary>
internal sealed class ParentMapWatches(PieceFetcher fetcher, DigestKey task, string selfId, Action<string, int[]> gained) : IDisposable
{
    private readonly Dictionary<string, Watch> _watches = new(StringComparer.Ordinal);

    public int Count => _watches.Count;

    /// <summary>Follows exactly the parents of <paramref name="parents"/> that may still gain pieces.</summary>
    public void Follow(IReadOnlyList<ParentPeer> parents, CancellationToken ct)
    {
        var wanted = new HashSet<string>(StringComparer.Ordinal);
        foreach (var parent in parents)
        {
            if (parent.PeerId == selfId || parent.PeerId.Length == 0 || parent.Bitmap.IsComplete)
            {
                continue;
            }
            wanted.Add(parent.PeerId);
            if (_watches.TryGetValue(parent.PeerId, out var running) && running.Host == parent.Host && running.Port == parent.Port && !running.Ended)
            {
                continue;
            }
            running?.Dispose();
            _watches[parent.PeerId] = Start(parent, ct);
        }
        foreach (var id in _watches.Keys.Where(id => !wanted.Contains(id)).ToList())
        {
            _watches.Remove(id, out var gone);
            gone!.Dispose();
        }
    }

    public void Dispose()
    {
        foreach (var watch in _watches.Values)
        {
            watch.Dispose();
        }
        _watches.Clear();
    }

    private Watch Start(ParentPeer parent, CancellationToken ct)
    {
        var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var known = new byte[(parent.Bitmap.PieceCount + 7) / 8];
        var peerId = parent.PeerId;
        var watch = new Watch(parent.Host, parent.Port, stop);
        watch.Task = Task.Run(() => fetcher.WatchMapAsync(parent.Host, parent.Port, peerId, task, map =>
        {
            // Only what is new since the last map: pieces are added, never taken back (a damaged one is
            // answered "missing" when asked for, and the picker forgets it then).
            List<int>? added = null;
            for (var b = 0; b < Math.Min(map.Length, known.Length); b++)
            {
                var fresh = map[b] & ~known[b];
                if (fresh == 0)
                {
                    continue;
                }
                known[b] |= (byte)fresh;
                for (var bit = 0; bit < 8; bit++)
                {
                    if ((fresh & (1 << bit)) != 0)
                    {
                        (added ??= []).Add(b * 8 + bit);
                    }
                }
            }
            if (added is not null)
            {
                gained(peerId, [.. added]);
            }
        }, stop.Token));
        // Disposed once the watch has stopped using it.
        watch.Task.ContinueWith(static (_, state) => ((CancellationTokenSource)state!).Dispose(), stop, TaskScheduler.Default);
        return watch;
    }

    private sealed class Watch(string host, int port, CancellationTokenSource stop) : IDisposable
    {
        public string Host => host;

        public int Port => port;

        public Task? Task { get; set; }

        /// <summary>The parent holds everything, or could not be asked: a new parent set may start it again.</summary>
        public bool Ended => Task is { IsCompleted: true };

        public void Dispose()
        {
            try
            {
                stop.Cancel();
            }
            catch (ObjectDisposedException)
            {
                // The watch had ended already.
            }
        }
    }
}
