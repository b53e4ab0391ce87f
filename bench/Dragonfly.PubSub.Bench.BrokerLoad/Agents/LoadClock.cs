using System.Diagnostics;

namespace Dragonfly.PubSub.Bench.BrokerLoad.Agents;

/// <summary>
/// The load phase's one clock: a thread that keeps every simulated agent's next NeedParents, next piece report and
/// next MQTT PINGREQ in one priority queue and starts each send when it falls due.
/// <para>
/// Why not a loop with Task.Delay per agent, as before 2026-12-06: 5,000 agents waiting 1–40 s each keep 5,000
/// timers, delay tasks and token registrations alive across several collections, each reachable from old objects
/// (the timer queue, the phase's token). Every gen0 collection of the simulator then copied ~2.4 MB through the card
/// table and paused it 25–30 ms, 2.3 s of 30 s, and the answers that arrived in those pauses were timestamped late:
/// the simulator's tail, not the broker's. The queue holds structs in one array; a due event allocates only the
/// message it sends.
/// </para>
/// </summary>
internal sealed class LoadClock(IReadOnlyList<SchedulerAgent> agents, IReadOnlyList<MqttSubscriber> subscribers,
    TimeSpan needInterval, TimeSpan reportInterval, int piecesPerReport, int seed = 1)
{
    private readonly Random _random = new(seed);

    /// <summary>
    /// Runs the phase from Stopwatch timestamp <paramref name="start"/> for <paramref name="duration"/> (or until
    /// <paramref name="cancellationToken"/>) on a thread of its own.
    /// </summary>
    public Task RunAsync(long start, TimeSpan duration, CancellationToken cancellationToken)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            try
            {
                Run(start, duration, cancellationToken);
                done.SetResult();
            }
            catch (Exception e)
            {
                done.SetException(e);
            }
        })
        { IsBackground = true, Name = "load-clock", Priority = ThreadPriority.AboveNormal };
        thread.Start();
        return done.Task;
    }

    private void Run(long start, TimeSpan duration, CancellationToken cancellationToken)
    {
        var end = start + Ticks(duration);
        var due = new PriorityQueue<(int Agent, Send What), long>(agents.Count * 2 + subscribers.Count);
        for (var i = 0; i < agents.Count; i++)
        {
            // Random phases so that N agents do not ask in lockstep.
            due.Enqueue((i, Send.NeedParents), start + Ticks(Jitter(needInterval) - needInterval));
            if (reportInterval > TimeSpan.Zero)
            {
                due.Enqueue((i, Send.PieceReport), start + Ticks(Jitter(reportInterval) - reportInterval));
            }
        }
        for (var i = 0; i < subscribers.Count; i++)
        {
            // Spread evenly over one interval, the first at once.
            due.Enqueue((i, Send.Ping), start + Ticks(MqttSubscriber.PingInterval * i / subscribers.Count));
        }
        while (!cancellationToken.IsCancellationRequested && due.TryPeek(out var next, out var at))
        {
            var now = Stopwatch.GetTimestamp();
            if (now >= end)
            {
                break;
            }
            if (at > now)
            {
                // Never early: a request sent before it is due would shorten its measured latency.
                var wait = Stopwatch.GetElapsedTime(now, Math.Min(at, end));
                Thread.Sleep(wait < TimeSpan.FromMilliseconds(1) ? TimeSpan.FromMilliseconds(1) : wait);
                continue;
            }
            due.Dequeue();
            switch (next.What)
            {
                case Send.NeedParents:
                    agents[next.Agent].SendNeedParents(at);
                    due.Enqueue(next, at + Ticks(Jitter(needInterval)));
                    break;
                case Send.PieceReport:
                    agents[next.Agent].SendPieceReport(piecesPerReport);
                    due.Enqueue(next, at + Ticks(Jitter(reportInterval)));
                    break;
                case Send.Ping:
                    subscribers[next.Agent].Ping();
                    due.Enqueue(next, at + Ticks(MqttSubscriber.PingInterval));
                    break;
            }
        }
        // Requests that fell due before the phase ended but were not sent (this thread was behind) count as timeouts.
        var ended = Math.Min(Stopwatch.GetTimestamp(), end);
        while (due.TryDequeue(out var left, out var at))
        {
            if (left.What != Send.NeedParents)
            {
                continue;
            }
            for (var t = at; t < ended; t += Ticks(Jitter(needInterval)))
            {
                agents[left.Agent].CountNotSent();
            }
        }
    }

    private enum Send
    {
        NeedParents,
        PieceReport,
        Ping,
    }

    private TimeSpan Jitter(TimeSpan interval) => interval * (1 + _random.NextDouble());

    private static long Ticks(TimeSpan span) => (long)(span.TotalSeconds * Stopwatch.Frequency);
}
