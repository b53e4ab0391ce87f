using Prometheus;

namespace Dragonfly.PubSub.Broker.Diagnostics;

/// <summary>The broker's Prometheus metrics (names fixed by the contract).</summary>
public static class BrokerMetrics
{
    public static readonly Gauge Peers = Metrics.CreateGauge(
        "dragonfly_broker_peers", "Agents with an open scheduler session.");

    public static readonly Gauge Tasks = Metrics.CreateGauge(
        "dragonfly_broker_tasks", "Tasks with at least one peer in the swarm.");

    public static readonly Counter Announcements = Metrics.CreateCounter(
        "dragonfly_broker_announcements_total", "Announcements published on MQTT.");

    public static readonly Histogram ScheduleDuration = Metrics.CreateHistogram(
        "dragonfly_broker_schedule_duration_seconds", "Time to compute one parent set.",
        new HistogramConfiguration { Buckets = Histogram.ExponentialBuckets(0.00001, 2, 16) });

    /// <summary>
    /// A NeedParents from its arrival (read off the agent's stream) to its ParentSet: <c>stage="queued"</c> when the
    /// answer is queued for the agent (the shard's queue and the computation), <c>stage="written"</c> when it is
    /// handed to the agent's HTTP/2 stream (plus the session's outbound queue). What a client measures beyond
    /// "written" is the transport and the client itself: this is how a benchmark tells the broker's share from its own.
    /// </summary>
    public static readonly Histogram ScheduleLatency = Metrics.CreateHistogram(
        "dragonfly_broker_schedule_latency_seconds", "Time from a NeedParents's arrival to its ParentSet queued (stage=queued) or written to the agent's stream (stage=written).",
        new HistogramConfiguration { LabelNames = ["stage"], Buckets = Histogram.ExponentialBuckets(0.0001, Math.Sqrt(2), 32) });

    public static readonly Histogram.Child ScheduleQueued = ScheduleLatency.WithLabels("queued");
    public static readonly Histogram.Child ScheduleWritten = ScheduleLatency.WithLabels("written");

    public static readonly Counter SourceBytes = Metrics.CreateCounter(
        "dragonfly_broker_source_bytes_total", "Bytes of URL task pieces their sources fetched from origins (reported with their digests).");

    public static readonly Counter PreheatJobs = Metrics.CreateCounter(
        "dragonfly_broker_preheat_jobs_total", "Preheat jobs that finished, by state (succeeded, failed).",
        new CounterConfiguration { LabelNames = ["state"] });

    /// <summary>
    /// Scheduler sessions the broker ended to keep its memory bounded (issue 11, attack 7), by why:
    /// <c>slow_reader</c> (its outbound queue was full), <c>flood</c> (it sent events faster than they were applied).
    /// </summary>
    public static readonly Counter SessionsDropped = Metrics.CreateCounter(
        "dragonfly_broker_sessions_dropped_total", "Scheduler sessions ended because a queue of theirs was full, by reason.",
        new CounterConfiguration { LabelNames = ["reason"] });

    private static Func<(int Peers, int Tasks)>? _counts;
    private static int _callbackAdded;

    /// <summary>
    /// Sets <see cref="Peers"/> and <see cref="Tasks"/> from <paramref name="counts"/> before every scrape
    /// (the swarm's loops do not touch the gauges). A later call replaces the source: one broker per process,
    /// but tests start several hosts, and the callback is registered once.
    /// </summary>
    public static void CountFrom(Func<(int Peers, int Tasks)> counts)
    {
        Volatile.Write(ref _counts, counts);
        if (Interlocked.Exchange(ref _callbackAdded, 1) == 0)
        {
            Metrics.DefaultRegistry.AddBeforeCollectCallback(() =>
            {
                if (Volatile.Read(ref _counts) is { } source)
                {
                    var (peers, tasks) = source();
                    Peers.Set(peers);
                    Tasks.Set(tasks);
                }
            });
        }
    }

    /// <summary>Touches the fields so every metric is exported (at 0) from the first scrape on.</summary>
    public static void EnsureRegistered()
    {
        _ = Peers;
        _ = Tasks;
        _ = Announcements;
        _ = ScheduleDuration;
        _ = ScheduleQueued;
        _ = ScheduleWritten;
        _ = SourceBytes;
        PreheatJobs.WithLabels("succeeded");
        PreheatJobs.WithLabels("failed");
        SessionsDropped.WithLabels("slow_reader");
        SessionsDropped.WithLabels("flood");
    }
}
