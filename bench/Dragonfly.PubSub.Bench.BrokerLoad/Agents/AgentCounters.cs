namespace Dragonfly.PubSub.Bench.BrokerLoad.Agents;

/// <summary>What one simulated agent saw during the load phase (read after the phase ended).</summary>
internal sealed record AgentCounters(
    IReadOnlyList<double> LatenciesMs,
    int Requests,
    int Skipped,
    int Unanswered,
    int Unsolicited,
    int PiecesReported,
    long PieceAvailable);
