namespace Dragonfly.PubSub.Bench.BrokerLoad.Measurement;

/// <summary>The dashboard readers during the load phase: how many, what they got, how long a poll took.</summary>
internal sealed record DashboardFigures(int Pollers, int Streams, long Polls, long Events, long Failures, double BytesPerSecond, LatencySummary PollLatency);
