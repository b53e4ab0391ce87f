using Dragonfly.PubSub.Contracts.Scheduler;

namespace Dragonfly.PubSub.Agent.Swarm;

/// <summary>
/// Sends a task's piece reports to the broker at most once per <see cref="Interval"/>: the first at once, what
/// finishes later gathered into one <c>PiecesFinished</c> at the end of the interval. Used when children hear of
/// this agent's pieces from the agent itself (piece-map polls, <c>dfagent --piece-news peer</c>): the broker then
/// needs the reports only to choose parents, and an agent on a 100 Mbit/s link finishing a 1 MiB piece every
/// 84 ms sent it 12 messages a second (60,000 a second from 5,000 agents) where one does.
/// Reports of a URL task's source (with piece digests) do not come here: children need those digests at once.
/// <para>
/// The first <c>eagerPieces</c> pieces of a task are reported each at once: the broker offers a peer as a parent
/// only for pieces it knows the peer holds, and at a swarm's start, when every peer holds a piece or two, a
/// bitmap a second old leaves most peers out of each other's parent sets (measured in URL mode, 16 × 256 MiB:
/// the median agent's second piece came 0.7 s after its first). The count lives with the task's entry, which is
/// forgotten after an interval without pieces: a download that stalled and resumes reports its next few pieces
/// at once too (bounded: <c>eagerPieces</c> per quiet spell).
/// </para>
/// </summary>
internal sealed class PieceReportThrottle(TimeSpan interval, TimeProvider time, Action<string, PiecesFinished> send, int eagerPieces = 0)
{
    /// <summary>dfagent's interval: a parent set chosen from a bitmap up to a second old is as good.</summary>
    public static readonly TimeSpan DefaultInterval = TimeSpan.FromSeconds(1);

    /// <summary>dfagent's count of a task's first pieces reported each at once (a few per agent and task).</summary>
    public const int DefaultEagerPieces = 8;

    private readonly Lock _gate = new();
    private readonly Dictionary<string, Pending> _tasks = new(StringComparer.Ordinal);

    public TimeSpan Interval => interval;

    /// <summary>Tasks with a report waiting or sent within the interval (for tests).</summary>
    internal int Tracked
    {
        get
        {
            lock (_gate)
            {
                return _tasks.Count;
            }
        }
    }

    /// <param name="parents">The peer each piece came from, parallel to <paramref name="indexes"/>; null = not known.</param>
    public void Add(string task, IReadOnlyList<int> indexes, IReadOnlyList<string>? parents)
    {
        PiecesFinished? now = null;
        lock (_gate)
        {
            if (!_tasks.TryGetValue(task, out var pending))
            {
                _tasks[task] = pending = new Pending();
            }
            pending.Add(indexes, parents);
            if (pending.Timer is not null)
            {
                return; // the flush at the end of the interval takes them
            }
            var since = pending.SentAt is { } sent ? time.GetElapsedTime(sent) : interval;
            // Young (its first pieces): the broker's view of this peer decides who may use it as a parent.
            if (since >= interval || pending.Reported < eagerPieces)
            {
                now = pending.Take(task);
                pending.SentAt = time.GetTimestamp();
            }
            else
            {
                pending.Timer = time.CreateTimer(_ => OnTimer(task), null, interval - since, Timeout.InfiniteTimeSpan);
            }
        }
        if (now is not null)
        {
            send(task, now);
        }
    }

    /// <summary>Sends what waits for <paramref name="task"/> now and forgets it (the task is left, or done).</summary>
    public void Flush(string task, bool forget) => SendWaiting(task, forget, fromTimer: false);

    private void OnTimer(string task) => SendWaiting(task, forget: false, fromTimer: true);

    /// <summary>
    /// Sends what waits for <paramref name="task"/>. At the end of an interval (<paramref name="fromTimer"/>) the
    /// entry stays for one more interval when something was sent, so the next piece waits for it rather than going
    /// alone, and is forgotten when nothing came (its next report goes at once).
    /// </summary>
    private void SendWaiting(string task, bool forget, bool fromTimer)
    {
        PiecesFinished? now = null;
        lock (_gate)
        {
            if (!_tasks.TryGetValue(task, out var pending))
            {
                return;
            }
            pending.Timer?.Dispose();
            pending.Timer = null;
            if (pending.Count > 0)
            {
                now = pending.Take(task);
                pending.SentAt = time.GetTimestamp();
                if (fromTimer)
                {
                    pending.Timer = time.CreateTimer(_ => OnTimer(task), null, interval, Timeout.InfiniteTimeSpan);
                }
            }
            if (forget || (fromTimer && now is null))
            {
                _tasks.Remove(task);
            }
        }
        if (now is not null)
        {
            send(task, now);
        }
    }

    private sealed class Pending
    {
        private readonly List<int> _indexes = [];
        private readonly List<string> _parents = [];
        private bool _anyParent;

        public long? SentAt { get; set; }

        public ITimer? Timer { get; set; }

        public int Count => _indexes.Count;

        /// <summary>Pieces sent in reports so far (while the task is tracked).</summary>
        public int Reported { get; private set; }

        public void Add(IReadOnlyList<int> indexes, IReadOnlyList<string>? parents)
        {
            for (var k = 0; k < indexes.Count; k++)
            {
                _indexes.Add(indexes[k]);
                var parent = parents is not null && k < parents.Count ? parents[k] : "";
                _anyParent |= parent.Length > 0;
                _parents.Add(parent);
            }
        }

        public PiecesFinished Take(string task)
        {
            var finished = new PiecesFinished { Digest = task, Indexes = { _indexes } };
            Reported += _indexes.Count;
            if (_anyParent)
            {
                finished.Parents.AddRange(_parents);
            }
            _indexes.Clear();
            _parents.Clear();
            _anyParent = false;
            return finished;
        }
    }
}
