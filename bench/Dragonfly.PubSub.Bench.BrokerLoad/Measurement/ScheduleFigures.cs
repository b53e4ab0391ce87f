namespace Dragonfly.PubSub.Bench.BrokerLoad.Measurement;

/// <param name="Latency">
/// NeedParents due → the ParentSet carrying its request id, over EVERY request due in the load phase:
/// a request answered after the timeout, never answered, or skipped counts as the timeout value.
/// </param>
/// <param name="AnsweredLatency">The same over the requests answered within the timeout only (for reference).</param>
/// <param name="SendLag">Due → the bench started writing the request: this process's own lateness on a busy machine, inside <see cref="Latency"/>.</param>
/// <param name="RequestsPerSecond">Requests due per second of load (sent or skipped).</param>
/// <param name="Skipped">Requests due in the phase but not sent: the agent's stream had failed, or its loop was still behind when the phase ended.</param>
/// <param name="Late">Answered after the timeout.</param>
/// <param name="Unanswered">No answer one timeout after the load phase ended.</param>
/// <param name="Unsolicited">ParentSets without a request id: pushed by the broker because a parent left, a peer gained pieces or a piece failed.</param>
/// <param name="UnknownAnswers">ParentSets naming a request id that was not outstanding (should be 0).</param>
/// <param name="PieceAvailableReceived">Piece news of one parent each; <paramref name="PieceAvailableEvents"/>: the events that carried them (merged per child and task by the broker).</param>
/// <param name="StreamsFailed">Scheduler streams the broker dropped during the load phase.</param>
internal sealed record ScheduleFigures(
    LatencySummary Latency, LatencySummary AnsweredLatency, LatencySummary SendLag, double RequestsPerSecond,
    int Requests, int Answered, int Skipped, int Late, int Unanswered, int Unsolicited, int UnknownAnswers,
    int PiecesReported, double PieceReportsPerSecond, long PieceAvailableReceived, double PieceAvailablePerSecond, int StreamsFailed,
    long PieceAvailableEvents = 0, double PieceAvailableEventsPerSecond = 0);
