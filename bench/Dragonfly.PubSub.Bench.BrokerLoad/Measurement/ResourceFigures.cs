namespace Dragonfly.PubSub.Bench.BrokerLoad.Measurement;

/// <param name="RssBytes">VmRSS at the end of the load phase.</param>
/// <param name="PeakRssBytes">VmHWM (broker) or the largest sampled RSS (bench).</param>
/// <param name="CpuSecondsDuringLoad">user + system CPU during the load phase.</param>
internal sealed record ResourceFigures(long IdleRssBytes, long RssBytes, long PeakRssBytes, double CpuSecondsDuringLoad, long OutputLines);
