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

    /// <summary>What this system's clock includes (our clock starts at the announcement, curl's and aria2c's before they spawn).</summary>
    public required string ClockStart { get; init; }

    /// <summary>All finished, counted from the user's command (dfpub called, dfget/curl/aria2c spawned).</summary>
    public required double AllFinishedFromCommandSeconds { get; init; }

    public required double P50FromCommandSeconds { get; init; }

    public required double RatioToDMinFromCommand { get; init; }

    /// <summary>Announcement (or request) → first piece requested, per agent and p50/p99; null when no agent reports it.</summary>
    public FirstRequestFigures? AnnouncementToFirstPieceRequest { get; init; }

    /// <summary>The transport between our processes (<c>--tls</c>); null for the baselines.</summary>
    public string? Tls { get; init; }

    /// <summary>Whether the run was TLS, checked from outside the processes (broker.json, the agents' certificates); null for the baselines.</summary>
    public bool? Encrypted { get; init; }

    /// <summary>/proc/loadavg (1, 5, 15 minutes) just before and just after this run of this system.</summary>
    public string LoadAverageBefore { get; init; } = "";

    public string LoadAverageAfter { get; init; } = "";

    public IReadOnlyList<string> Notes { get; init; } = [];

    /// <summary>What the receivers asked of the scheduler and heard from it, per agent and second of its download; null for the baselines.</summary>
    public SchedulerLoad? SchedulerLoad { get; init; }

    public static SystemResult From(SystemMeasurement m, int run, long fileBytes, double dMinSeconds)
    {
        var all = m.CompletionSeconds.Max();
        var fromCommand = m.CompletionSeconds.Select(c => c + m.CommandToClockSeconds).ToArray();
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
            Encrypted = m.Encrypted,
            PeakRssBytes = m.PeakRssBytes,
            CompletionSeconds = [.. m.CompletionSeconds.Order()],
            ClockStart = m.ClockStart,
            AllFinishedFromCommandSeconds = fromCommand.Max(),
            P50FromCommandSeconds = Statistics.Percentile(fromCommand, 50),
            RatioToDMinFromCommand = fromCommand.Max() / dMinSeconds,
            AnnouncementToFirstPieceRequest = FirstRequestFigures.From(m.AnnouncedToFirstRequestMilliseconds),
            SchedulerLoad = m.SchedulerEvents is var (before, after) ? SchedulerLoad.From(before, after, m.CompletionSeconds.Sum()) : null,
            Notes = m.Notes,
        };
    }
}
