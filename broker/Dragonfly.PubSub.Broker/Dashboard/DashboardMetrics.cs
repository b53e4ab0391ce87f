using Prometheus;

namespace Dragonfly.PubSub.Broker.Dashboard;

/// <summary>The broker's metrics of the swarm's traffic as the agents report it (fleet dashboard, issue 13).</summary>
public static class DashboardMetrics
{
    /// <summary>
    /// Bytes the agents received through the swarm, by where from: <c>peer</c> (another member, a URL task's seed too),
    /// <c>publisher</c> (the publisher of a published artifact: its origin), <c>unknown</c> (an agent too old to say). The origin's
    /// share of a URL task is <c>dragonfly_broker_source_bytes_total</c>.
    /// </summary>
    public static readonly Counter Delivered = Metrics.CreateCounter(
        "dragonfly_broker_delivered_bytes_total", "Bytes agents reported received through the swarm, by who served them (peer, publisher, unknown).",
        new CounterConfiguration { LabelNames = ["from"] });

    public static readonly Counter Failures = Metrics.CreateCounter(
        "dragonfly_broker_failures_total", "Failures reported to or seen by the broker, by kind (piece_corrupt, piece_unreachable, piece_missing, source_failed, task_failed, join_refused, session_dropped).",
        new CounterConfiguration { LabelNames = ["kind"] });

    public static readonly Gauge Agents = Metrics.CreateGauge(
        "dragonfly_broker_agents", "Agents the broker knows, by state (online: a scheduler session is open; offline: seen since the start, gone now).",
        new GaugeConfiguration { LabelNames = ["state"] });

    /// <summary>Every series at 0 from the first scrape (a Grafana panel then shows 0, not "no data").</summary>
    public static void EnsureRegistered()
    {
        foreach (var from in (string[])["peer", "publisher", "unknown"])
        {
            Delivered.WithLabels(from).Inc(0);
        }
        foreach (var kind in FailureLog.Kinds)
        {
            Failures.WithLabels(kind).Inc(0);
        }
        Agents.WithLabels("online").Set(0);
        Agents.WithLabels("offline").Set(0);
    }
}
