namespace Dragonfly.PubSub.Bench.BrokerLoad.Measurement;

/// <param name="RssBytes">VmRSS at the end of the load phase.</param>
/// <param name="PeakRssBytes">VmHWM (broker) or the largest sampled RSS (bench).</param>
/// <param name="CpuSecondsDuringLoad">user + system CPU during the load phase.</param>
/// <param name="GcPauseSeconds">The .NET garbage collector's pauses during the load phase, summed (0 for Redis): time in which
/// the process answered nothing, a part of the latency's tail that no histogram inside it can see.</param>
/// <param name="Gen2Collections">Full collections during the load phase.</param>
internal sealed record ResourceFigures(long IdleRssBytes, long RssBytes, long PeakRssBytes, double CpuSecondsDuringLoad, long OutputLines,
    double GcPauseSeconds = 0, long Gen2Collections = 0);
