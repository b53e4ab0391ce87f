namespace Dragonfly.PubSub.Bench.BrokerLoad.Agents;

/// <summary>What one simulated agent saw during the load phase (read after the phase ended).</summary>
/// <param name="AnsweredMs">Due → matching ParentSet, for requests answered within the timeout.</param>
/// <param name="SendLagMs">Due → this process started writing the request (the bench's own lateness, included in the latencies).</param>
/// <param name="Skipped">Requests due in the phase but not sent: the stream had failed, or the loop was still behind when the phase ended.</param>
/// <param name="Late">Requests answered, but after the timeout.</param>
/// <param name="Unanswered">Requests without an answer one timeout after the phase ended.</param>
/// <param name="Unsolicited">ParentSets without a request id: pushed by the broker unasked.</param>
/// <param name="UnknownAnswers">ParentSets naming a request id that was not outstanding.</param>
/// <param name="PieceAvailable">Piece news of one parent each (a PieceAvailable and every entry of its <c>more</c>).</param>
/// <param name="PieceAvailableEvents">The PieceAvailable events that carried them.</param>
internal sealed record AgentCounters(
    IReadOnlyList<double> AnsweredMs,
    IReadOnlyList<double> SendLagMs,
    int Requests,
    int Skipped,
    int Late,
    int Unanswered,
    int Unsolicited,
    int UnknownAnswers,
    int PiecesReported,
    long PieceAvailable,
    long PieceAvailableEvents);
