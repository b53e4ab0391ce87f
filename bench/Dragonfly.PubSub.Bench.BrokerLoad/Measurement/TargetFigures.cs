namespace Dragonfly.PubSub.Bench.BrokerLoad.Measurement;

internal sealed record TargetFigures(double ScheduleP99Ms, bool Met);
