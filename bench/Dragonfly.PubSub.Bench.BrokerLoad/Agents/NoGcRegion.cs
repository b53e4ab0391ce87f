namespace Dragonfly.PubSub.Bench.BrokerLoad.Agents;

/// <summary>
/// The simulator's load phase without garbage collections of its own (<see cref="GC.TryStartNoGCRegion(long)"/>).
/// <para>
/// The simulator stands for 5,000 agents, each a process with its own small heap on its own machine. Packed into
/// one process, their collections cost ~20 ms each (measured 2026-12-06: whatever the GC flavour, priority or
/// number of processes the agents were spread over), 35–55 of them in 30 s, and every answer arriving in one was
/// timestamped late: a tail of the simulator, not of the broker. So the simulator allocates from memory set aside
/// for the phase and collects afterwards. The broker keeps its own GC; its pauses are in the figures.
/// </para>
/// </summary>
internal readonly struct NoGcRegion
{
    // One region per process. Asking the runtime for a second one while the first is on ends the first (its
    // EndNoGCRegion then fails), so a second run in this process (the tests run in parallel) is refused here.
    private static int s_taken;
    private readonly bool _started;

    private NoGcRegion(bool started, long bytes)
    {
        _started = started;
        Bytes = bytes;
    }

    /// <summary>Bytes set aside (0: the runtime refused every size tried, or another run in this process holds the region, and the phase runs with collections).</summary>
    public long Bytes { get; }

    /// <summary>Sets aside room for <paramref name="duration"/> of load at up to 64 MiB a second (5,000 agents allocate ~15, 10,000 ~30).</summary>
    public static NoGcRegion TryStart(TimeSpan duration)
    {
        if (Interlocked.CompareExchange(ref s_taken, 1, 0) != 0)
        {
            return default;
        }
        for (var bytes = (long)Math.Clamp(duration.TotalSeconds * 64, 64, 4096) << 20; bytes >= 64L << 20; bytes /= 2)
        {
            try
            {
                if (GC.TryStartNoGCRegion(bytes))
                {
                    return new NoGcRegion(true, bytes);
                }
            }
            catch (ArgumentOutOfRangeException)
            {
                // More than this runtime allows in one region: try half.
            }
            catch (InvalidOperationException)
            {
                break; // started by someone else in this process
            }
        }
        Volatile.Write(ref s_taken, 0);
        return default;
    }

    /// <summary>Ends the region; false when the phase allocated more than was set aside and the runtime collected after all.</summary>
    public bool End()
    {
        if (!_started)
        {
            return false;
        }
        try
        {
            GC.EndNoGCRegion();
            return true;
        }
        catch (InvalidOperationException)
        {
            return false; // a collection happened: the pauses show in the figures
        }
        finally
        {
            Volatile.Write(ref s_taken, 0);
        }
    }
}
