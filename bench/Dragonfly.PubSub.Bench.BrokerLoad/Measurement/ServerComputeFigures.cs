namespace Dragonfly.PubSub.Bench.BrokerLoad.Measurement;

/// <summary>dragonfly_broker_schedule_duration_seconds over the load phase: computing a ParentSet, without queueing.</summary>
/// <param name="P50MsAtMost">Upper bound of the histogram bucket holding the median (null: no observations).</param>
internal sealed record ServerComputeFigures(long Count, double MeanMs, double? P50MsAtMost, double? P99MsAtMost, double BusySeconds);
