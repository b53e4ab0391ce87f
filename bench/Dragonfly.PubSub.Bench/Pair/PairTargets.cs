namespace Dragonfly.PubSub.Bench.Pair;

/// <summary>The targets from design/performance.md and whether the medians met them.</summary>
internal sealed record PairTargets(double MinRatio, long MaxAgentPeakRssBytes, bool RatioMet, bool PeakRssMet);
