using Dragonfly.PubSub.Bench.BrokerLoad.Agents;

namespace Dragonfly.PubSub.Bench.BrokerLoad.Measurement;

/// <summary>
/// Every garbage collection of this process while it runs: generation and pause, read by a thread that polls
/// <see cref="GC.GetGCMemoryInfo(GCKind)"/> every 2 ms. A sum of pauses cannot say whether the simulator stopped
/// for one long collection or many short ones, which is what decides how many answers it timestamps late. A
/// collection that finished between two polls is counted as missed (GC indexes are consecutive).
/// </summary>
internal sealed class GcLog : IDisposable
{
    private readonly List<(int Generation, double PauseMs)> _collections = [];
    // A collection of the simulator takes several ms; two within one poll are counted as unseen.
    private static readonly TimeSpan PollEvery = TimeSpan.FromMilliseconds(2);
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
            Thread.Sleep(PollEvery);
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

    /// <summary>The collections seen so far, by generation, with what the no-GC region of the phase did.</summary>
    public GcFigures Figures(NoGcRegion region, bool regionHeld)
    {
        lock (_collections)
        {
            return new GcFigures(
                [.. Enumerable.Range(0, 3).Select(g =>
                {
                    var pauses = _collections.Where(c => c.Generation == g).Select(c => c.PauseMs).ToList();
                    return new GcGenerationFigures(g, pauses.Count, LatencySummary.Of(pauses), pauses.Sum());
                })],
                Interlocked.Read(ref _missed), region.Bytes, regionHeld);
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
/// <param name="NoGcRegionBytes">Memory set aside to run the load without collections (0: none).</param>
/// <param name="NoGcRegionHeld">Whether the load stayed within it (false: it allocated more, and collections happened).</param>
internal sealed record GcFigures(IReadOnlyList<GcGenerationFigures> Generations, long Missed, long NoGcRegionBytes = 0, bool NoGcRegionHeld = false);
