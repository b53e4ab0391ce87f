namespace Dragonfly.PubSub.Transfer.Pieces;

/// <summary>
/// Ranges of complete artifacts this agent is sending now or sent a moment ago. A seed answers
/// "busy" to a second requester of such a range, so its upload goes to pieces the swarm lacks
/// rather than to copies of one it is already handing out. The pause before a range may go out
/// again grows with how long its last send took: on a slow link the receiver needs longer before
/// others can take the piece from it. It does not grow with repeats: when the seed is the only
/// source left (earlier receivers gone), a longer pause would only stall the next downloader.
/// Thread-safe.
/// </summary>
internal sealed class SeedSends(TimeProvider time)
{
    /// <summary>After a send ends, the time the requester needs to report the piece so others can take it from there.</summary>
    public static readonly TimeSpan Grace = TimeSpan.FromSeconds(1);

    /// <summary>The longest pause, so a piece whose receivers all vanished is offered again soon.</summary>
    public static readonly TimeSpan MaxGrace = TimeSpan.FromSeconds(5);

    private const int PruneAbove = 1024;
    private readonly Lock _lock = new();
    private readonly Dictionary<(DigestKey Key, long Offset), Send> _sends = [];

    /// <summary>Claims the range for one send; false when it is being sent or was sent within <see cref="Grace"/>.</summary>
    public bool TryBegin(DigestKey key, long offset)
    {
        var now = time.GetTimestamp();
        lock (_lock)
        {
            if (_sends.Count > PruneAbove)
            {
                Prune(now);
            }
            if (_sends.TryGetValue((key, offset), out var send))
            {
                if (send.Active > 0 || time.GetElapsedTime(send.EndedAt, now) < send.Pause)
                {
                    return false;
                }
                send.Active++;
                send.StartedAt = now;
                return true;
            }
            _sends[(key, offset)] = new Send { Active = 1, StartedAt = now };
            return true;
        }
    }

    /// <param name="sent">False when nothing went out after all: the range is free again at once.</param>
    public void End(DigestKey key, long offset, bool sent)
    {
        var now = time.GetTimestamp();
        lock (_lock)
        {
            if (!_sends.TryGetValue((key, offset), out var send))
            {
                return;
            }
            send.Active--;
            if (sent)
            {
                send.EndedAt = now;
                var took = time.GetElapsedTime(send.StartedAt, now);
                var pause = TimeSpan.FromTicks(Math.Max(Grace.Ticks, 2 * took.Ticks));
                send.Pause = pause < MaxGrace ? pause : MaxGrace;
            }
            else if (send.Active == 0 && send.EndedAt == 0)
            {
                _sends.Remove((key, offset));
            }
        }
    }

    private void Prune(long now)
    {
        foreach (var (range, send) in _sends.ToList())
        {
            if (send.Active == 0 && time.GetElapsedTime(send.EndedAt, now) >= send.Pause)
            {
                _sends.Remove(range);
            }
        }
    }

    private sealed class Send
    {
        public int Active { get; set; }
        public long StartedAt { get; set; }
        public long EndedAt { get; set; }
        public TimeSpan Pause { get; set; } = Grace;
    }
}
