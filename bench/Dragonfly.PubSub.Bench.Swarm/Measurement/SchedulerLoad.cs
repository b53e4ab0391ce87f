using Dragonfly.PubSub.Bench.Swarm.Systems;

namespace Dragonfly.PubSub.Bench.Swarm.Measurement;

/// <summary>
/// The load the receiving agents put on the broker's scheduler while they downloaded, per agent and second
/// of its own download (from each agent's <c>dragonfly_agent_scheduler_events_*_total</c>): the rates a
/// <c>dfbench broker</c> run should simulate to claim "the rate a real swarm produces".
/// </summary>
internal sealed record SchedulerLoad(
    double NeedParentsPerAgentSecond,
    double PieceReportsPerAgentSecond,
    double ParentSetsPerAgentSecond,
    double PieceAvailablePerAgentSecond)
{
    private const string Sent = "dragonfly_agent_scheduler_events_sent_total";
    private const string Received = "dragonfly_agent_scheduler_events_received_total";

    /// <summary>The four counters, summed over the agents whose data directories are given.</summary>
    public static async Task<double[]> CountAsync(IReadOnlyList<string> agentDirs, CancellationToken cancel)
    {
        var counts = new double[4];
        foreach (var dir in agentDirs)
        {
            counts[0] += await DragonflyNodes.MetricAsync(dir, $"{Sent}{{kind=\"need_parents\"}}", cancel);
            counts[1] += await DragonflyNodes.MetricAsync(dir, $"{Sent}{{kind=\"pieces_finished\"}}", cancel);
            counts[2] += await DragonflyNodes.MetricAsync(dir, $"{Received}{{kind=\"parents\"}}", cancel);
            counts[3] += await DragonflyNodes.MetricAsync(dir, $"{Received}{{kind=\"piece_available\"}}", cancel);
        }
        return counts;
    }

    /// <param name="before">From <see cref="CountAsync"/> before the transfer; <paramref name="after"/> once all finished.</param>
    /// <param name="agentSeconds">The receivers' download times, summed.</param>
    public static SchedulerLoad? From(double[] before, double[] after, double agentSeconds) =>
        agentSeconds <= 0 || after.Sum() == 0
            ? null // an agent build without the counters
            : new((after[0] - before[0]) / agentSeconds, (after[1] - before[1]) / agentSeconds,
                (after[2] - before[2]) / agentSeconds, (after[3] - before[3]) / agentSeconds);
}
