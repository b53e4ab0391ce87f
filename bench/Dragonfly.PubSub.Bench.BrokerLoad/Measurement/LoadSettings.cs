namespace Dragonfly.PubSub.Bench.BrokerLoad.Measurement;

/// <param name="Profile">"default" (--report-interval as given) or "swarm" (the rate a real swarm produces).</param>
/// <param name="PieceReportsPerSecondPerAgent">Mean rate of PiecesFinished per ordinary agent (interval S..2S: 1 / 1.5 S).</param>
/// <param name="PieceReportsPerSecondOffered">That rate times the ordinary agents: what the broker is offered.</param>
/// <param name="ReportRateDerivation">Where the rate comes from, in words.</param>
/// <param name="NeedParentsPerSecondOffered">Mean NeedParents rate over all ordinary agents (1 / 1.5 S each).</param>
/// <param name="TimeoutSeconds">The value a late, unanswered or unsent request counts as.</param>
/// <param name="BrokerArguments">dfbroker's command line after the executable (the first broker's; the others differ in --data-dir).</param>
/// <param name="Brokers">dfbroker processes; above 1 they share one Redis (--state) and each task's agents go to the broker rendezvous hashing picks.</param>
/// <param name="PieceNews">"peer": the agents say they poll their parents' piece maps (dfagent's default), so the broker relays no piece news; "broker": it relays every report to the reporter's children.</param>
internal sealed record LoadSettings(
    int Agents, int Tasks, int PublishersPerTask, int Pieces, double Fill,
    double DurationSeconds, double NeedIntervalSeconds, double ReportIntervalSeconds,
    string Profile, double PieceReportsPerSecondPerAgent, double PieceReportsPerSecondOffered, string ReportRateDerivation,
    double NeedParentsPerSecondOffered, double TimeoutSeconds, bool Tls, IReadOnlyList<string> BrokerArguments,
    int GrpcChannels, int StreamsPerConnection, int MaxOpenFiles, int Brokers = 1, string PieceNews = "peer");
