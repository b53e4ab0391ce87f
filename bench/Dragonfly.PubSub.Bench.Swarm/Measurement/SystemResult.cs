using Dragonfly.PubSub.Bench.Common.Measurement;

namespace Dragonfly.PubSub.Bench.Swarm.Measurement;

/// <summary>One system's figures as result.json and the table show them.</summary>
internal sealed record SystemResult
{
    public required string Name { get; init; }

    public required int Run { get; init; }

    public required double AllFinishedSeconds { get; init; }

    public required double P50Seconds { get; init; }

    public required double P99Seconds { get; init; }

    public required double RatioToDMin { get; init; }

    public required double OriginEgressRatio { get; init; }

    public string OriginEgressMeasure { get; init; } = "";

    public required double PublisherUploadRatio { get; init; }

    public string PublisherUploadMeasure { get; init; } = "";

    public required double CpuSecondsPerGB { get; init; }

    public required bool Verified { get; init; }

    public required long PeakRssBytes { get; init; }

    public required IReadOnlyList<double> CompletionSeconds { get; init; }

    public IReadOnlyList<string> Notes { get; init; } = [];

    public static SystemResult From(SystemMeasurement m, int run, long fileBytes, double dMinSeconds)
    {
        var all = m.CompletionSeconds.Max();
        var moved = m.CompletionSeconds.Count * (double)fileBytes;
        return new SystemResult
        {
            Name = m.Name,
            Run = run,
            AllFinishedSeconds = all,
            P50Seconds = Statistics.Percentile([.. m.CompletionSeconds], 50),
            P99Seconds = Statistics.Percentile([.. m.CompletionSeconds], 99),
            RatioToDMin = all / dMinSeconds,
            OriginEgressRatio = m.OriginEgressBytes / (double)fileBytes,
            OriginEgressMeasure = m.OriginEgressMeasure,
            PublisherUploadRatio = m.PublisherUploadBytes / (double)fileBytes,
            PublisherUploadMeasure = m.PublisherUploadMeasure,
            CpuSecondsPerGB = m.CpuSeconds / (moved / 1e9),
            Verified = m.Verified,
            PeakRssBytes = m.PeakRssBytes,
            CompletionSeconds = [.. m.CompletionSeconds.Order()],
            Notes = m.Notes,
        };
    }
}
