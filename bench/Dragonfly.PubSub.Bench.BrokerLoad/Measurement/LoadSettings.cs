namespace Dragonfly.PubSub.Bench.BrokerLoad.Measurement;

internal sealed record LoadSettings(
    int Agents, int Tasks, int PublishersPerTask, int Pieces, double Fill,
    double DurationSeconds, double NeedIntervalSeconds, double ReportIntervalSeconds,
    int GrpcChannels, int StreamsPerConnection, int MaxOpenFiles);
