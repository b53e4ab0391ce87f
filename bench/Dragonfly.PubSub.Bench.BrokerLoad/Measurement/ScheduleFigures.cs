namespace Dragonfly.PubSub.Bench.BrokerLoad.Measurement;

/// <param name="Latency">NeedParents → ParentSet during the load phase.</param>
/// <param name="Skipped">Requests not sent because the previous one was still unanswered when the next was due.</param>
/// <param name="Unanswered">Requests still unanswered after the drain time at the end.</param>
/// <param name="Unsolicited">ParentSets that arrived with nothing outstanding: pushed by the broker, or the real answer to a
/// request for which a push was taken (so at most this many samples are too short).</param>
/// <param name="StreamsFailed">Scheduler streams the broker dropped during the load phase.</param>
internal sealed record ScheduleFigures(
    LatencySummary Latency, double RequestsPerSecond, int Requests, int Skipped, int Unanswered, int Unsolicited,
    int PiecesReported, long PieceAvailableReceived, double PieceAvailablePerSecond, int StreamsFailed);
