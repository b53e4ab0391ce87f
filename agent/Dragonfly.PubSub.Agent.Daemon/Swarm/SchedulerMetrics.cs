using Dragonfly.PubSub.Contracts.Scheduler;
using Prometheus;

namespace Dragonfly.PubSub.Agent.Swarm;

/// <summary>
/// The scheduler events an agent sends and receives, by kind (<c>need_parents</c>, <c>pieces_finished</c>,
/// <c>parents</c>, <c>piece_available</c>, …): the load an agent really puts on its broker, which the
/// broker benchmark's simulated agents should match.
/// </summary>
public static class SchedulerMetrics
{
    public static readonly Counter Sent = Metrics.CreateCounter(
        "dragonfly_agent_scheduler_events_sent_total", "Events this agent sent to its brokers' schedulers, by kind (need_parents, pieces_finished, join, …).",
        new CounterConfiguration { LabelNames = ["kind"] });

    public static readonly Counter Received = Metrics.CreateCounter(
        "dragonfly_agent_scheduler_events_received_total", "Events this agent received from its brokers' schedulers, by kind (parents, piece_available, …).",
        new CounterConfiguration { LabelNames = ["kind"] });

    // One child per oneof case, made once: a label lookup per event would cost more than the count.
    private static readonly Dictionary<PeerEvent.EventOneofCase, Counter.Child> SentByKind =
        Enum.GetValues<PeerEvent.EventOneofCase>().Where(kind => kind != PeerEvent.EventOneofCase.None).ToDictionary(kind => kind, kind => Sent.WithLabels(SnakeCase(kind.ToString())));

    private static readonly Dictionary<SchedulerEvent.EventOneofCase, Counter.Child> ReceivedByKind =
        Enum.GetValues<SchedulerEvent.EventOneofCase>().Where(kind => kind != SchedulerEvent.EventOneofCase.None).ToDictionary(kind => kind, kind => Received.WithLabels(SnakeCase(kind.ToString())));

    public static void CountSent(PeerEvent message)
    {
        if (SentByKind.TryGetValue(message.EventCase, out var counter))
        {
            counter.Inc();
        }
    }

    public static void CountReceived(SchedulerEvent message)
    {
        if (ReceivedByKind.TryGetValue(message.EventCase, out var counter))
        {
            counter.Inc();
        }
    }

    /// <summary>Exports every kind at 0 from the first scrape on.</summary>
    public static void ExportAll()
    {
        _ = SentByKind.Count + ReceivedByKind.Count;
    }

    /// <summary><c>NeedParents</c> → <c>need_parents</c>, as Prometheus label values are written.</summary>
    internal static string SnakeCase(string name) => System.Text.Json.JsonNamingPolicy.SnakeCaseLower.ConvertName(name);
}
