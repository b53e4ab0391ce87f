namespace Dragonfly.PubSub.Bench.BrokerLoad.Measurement;

/// <summary>
/// dragonfly_broker_schedule_latency_seconds over the load phase, the broker's side of NeedParents → ParentSet:
/// from the request read off the agent's stream to the answer queued (the shard's queue plus the computation), and
/// to the answer handed to the stream (plus the session's outbound queue). The rest of what the agents measure is
/// HTTP/2 both ways and the simulator. Percentiles are bucket upper bounds (buckets √2 apart from 0.1 ms). Each is
/// summarised in <see cref="ServerComputeFigures"/>' shape; its <c>BusySeconds</c> is here the latencies' sum, not busy time.
/// </summary>
internal sealed record ServerLatencyFigures(ServerComputeFigures Queued, ServerComputeFigures Written);
