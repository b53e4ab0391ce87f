namespace Dragonfly.PubSub.Bench.BrokerLoad.Measurement;

/// <summary>dragonfly_broker_schedule_duration_seconds over the load phase: computing a ParentSet, without queueing.</summary>
/// <param name="P50MsAtMost">Upper bound, in ms, of the histogram bucket holding the median (null: no observations). Result files
/// written before 2026-12-04 hold seconds here despite the name.</param>
internal sealed record ServerComputeFigures(long Count, double MeanMs, double? P50MsAtMost, double? P99MsAtMost, double BusySeconds);
