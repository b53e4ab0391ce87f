using Dragonfly.PubSub.Bench.Common.Measurement;

namespace Dragonfly.PubSub.Bench.Swarm.Measurement;

/// <summary>
/// Announcement (or download request) → first piece requested, per agent, from each agent's own task
/// record (<c>announcedAt</c>, <c>firstPieceRequestedAt</c>): the slow start the issue names, target p50 ≤ 50 ms.
/// </summary>
/// <param name="Agents">Agents that reported both times.</param>
/// <param name="Missing">Agents that did not (older builds, or a task that never requested a piece).</param>
/// <param name="PerAgentMilliseconds">In receiver order; null where missing.</param>
internal sealed record FirstRequestFigures(int Agents, int Missing, double P50Milliseconds, double P99Milliseconds, IReadOnlyList<double?> PerAgentMilliseconds)
{
    public static FirstRequestFigures? From(IReadOnlyList<double?> perAgent)
    {
        var known = perAgent.OfType<double>().ToArray();
        return known.Length == 0
            ? null
            : new FirstRequestFigures(known.Length, perAgent.Count - known.Length, Statistics.Percentile(known, 50), Statistics.Percentile(known, 99), perAgent);
    }
}
