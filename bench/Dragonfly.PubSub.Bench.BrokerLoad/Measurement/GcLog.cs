namespace Dragonfly.PubSub.Bench.BrokerLoad.Measurement;

/// <summary>
/// Every garbage collection of this process while it runs: generation and pause, read by a thread that polls
/// <see cref="GC.GetGCMemoryInfo(GCKind)"/> each millisecond. A sum of pauses cannot say whether the simulator stopped
/// for one long collection or many short ones, which is what decides how many answers it timestamps late. A
/// collection that finished between two polls is counted as missed (GC indexes are consecutive).
/// </summary>
internal sealed class GcLog : IDisposable
{
    private readonly List<(int Generation, double PauseMs)> _collections = [];
    private readonly Thread _poller;
    private volatile bool _stopped;
    private long _missed;

    public GcLog()
    {
        _poller = new Thread(Poll) { IsBackground = true, Name = "gc-log", Priority = ThreadPriority.AboveNormal };
        _poller.Start();
    }

    private void Poll()
    {
        var last = GC.GetGCMemoryInfo(GCKind.Any).Index;
        var seen = CollectionsSoFar();
        while (!_stopped)
        {
            Thread.Sleep(1);
            // Counting is free; GetGCMemoryInfo allocates, so it is read only after a collection.
            var now = CollectionsSoFar();
            if (now == seen)
            {
                continue;
            }
            seen = now;
            var info = GC.GetGCMemoryInfo(GCKind.Any);
            if (info.Index == last)
            {
                continue;
            }
            _missed += Math.Max(0, info.Index - last - 1);
            last = info.Index;
            var pause = info.PauseDurations.Length > 1 ? info.PauseDurations[0] + info.PauseDurations[1] : info.PauseDurations[0];
            lock (_collections)
            {
                _collections.Add((info.Generation, pause.TotalMilliseconds));
            }
        }
    }

    private static int CollectionsSoFar() => GC.CollectionCount(0);

    /// <summary>The collections seen so far, per generation, and how many finished unseen.</summary>
    public GcFigures Figures()
    {
        lock (_collections)
        {
            var perGeneration = Enumerable.Range(0, 3).Select(g =>
            {
                var pauses = _collections.Where(c => c.Generation == g).Select(c => c.PauseMs).ToList();
                return new GcGenerationFigures(g, pauses.Count, LatencySummary.Of(pauses), pauses.Sum());
            }).ToList();
            return new GcFigures(perGeneration, Interlocked.Read(ref _missed));
        }
    }

    public void Dispose()
    {
        _stopped = true;
        _poller.Join(TimeSpan.FromSeconds(1));
    }
}

/// <param name="Pauses">Each collection's pause (ms) of this generation.</param>
internal sealed record GcGenerationFigures(int Generation, int Count, LatencySummary Pauses, double TotalPauseMs);

/// <param name="Missed">Collections that began and ended between two polls (their generation and pause unknown).</param>
internal sealed record GcFigures(IReadOnlyList<GcGenerationFigures> Generations, long Missed);
