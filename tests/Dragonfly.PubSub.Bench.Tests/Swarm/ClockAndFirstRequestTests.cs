using Dragonfly.PubSub.Bench.Common.Cli;
using Dragonfly.PubSub.Bench.Swarm;
using Dragonfly.PubSub.Bench.Swarm.Measurement;
using Dragonfly.PubSub.Bench.Swarm.Processes;
using Dragonfly.PubSub.Contracts.Cli;

namespace Dragonfly.PubSub.Bench.Tests.Swarm;

/// <summary>What each system's clock includes, announcement → first piece request, and --tls.</summary>
public sealed class ClockAndFirstRequestTests
{
    private const string Digest = "sha256:" + "ab";

    [Fact]
    public void SystemResult_FromCommand_AddsTheTimeBeforeTheClockStarted()
    {
        var result = SystemResult.From(new SystemMeasurement
        {
            Name = "dragonfly", CompletionSeconds = [10, 20, 30], ClockStart = "from the announcement", CommandToClockSeconds = 2.5,
            OriginEgressBytes = 1, PublisherUploadBytes = 1, CpuSeconds = 1, PeakRssBytes = 1, Verified = true,
        }, 1, 1000, dMinSeconds: 10);

        Assert.Equal(30, result.AllFinishedSeconds);
        Assert.Equal(32.5, result.AllFinishedFromCommandSeconds);
        Assert.Equal(22.5, result.P50FromCommandSeconds);
        Assert.Equal(3.25, result.RatioToDMinFromCommand, 9);
        Assert.Equal("from the announcement", result.ClockStart);
        Assert.Null(result.AnnouncementToFirstPieceRequest); // no agent reported it
    }

    [Fact]
    public void FirstRequestFigures_AreNearestRankOverTheAgentsThatReportedThem()
    {
        var figures = FirstRequestFigures.From([40.0, null, 10.0, 30.0, 20.0]);

        Assert.NotNull(figures);
        Assert.Equal(4, figures.Agents);
        Assert.Equal(1, figures.Missing);
        Assert.Equal(20, figures.P50Milliseconds);
        Assert.Equal(40, figures.P99Milliseconds);
        Assert.Equal([40.0, null, 10.0, 30.0, 20.0], figures.PerAgentMilliseconds);
        Assert.Null(FirstRequestFigures.From([null, null]));
    }

    [Fact]
    public void TaskTimes_ReadsTheFollowedTasksAnnouncedAtAndFirstPieceRequestedAt()
    {
        const string json = """
            [
              { "digest": "sha256:other", "announcedAt": "2026-12-03T19:00:00.000Z", "firstPieceRequestedAt": "2026-12-03T19:00:09.000Z" },
              { "digest": "sha256:ab", "state": "succeeded", "announcedAt": "2026-12-03T19:00:01.250Z", "firstPieceRequestedAt": "2026-12-03T19:00:01.287Z" }
            ]
            """;

        Assert.Equal(37, TaskTimes.AnnouncedToFirstRequest(json, Digest)!.Value, 6);
    }

    [Theory]
    [InlineData("""[{ "digest": "sha256:ab", "state": "succeeded" }]""")] // a build without the fields
    [InlineData("""[{ "digest": "sha256:ab", "announcedAt": "2026-12-03T19:00:01.250Z", "firstPieceRequestedAt": null }]""")] // never requested
    [InlineData("""[{ "digest": "sha256:cd", "announcedAt": "2026-12-03T19:00:01.250Z", "firstPieceRequestedAt": "2026-12-03T19:00:01.287Z" }]""")]
    [InlineData("""{ "error": "not an array" }""")]
    public void TaskTimes_IsNullWhenTheAgentDoesNotReportBoth(string json)
    {
        Assert.Null(TaskTimes.AnnouncedToFirstRequest(json, Digest));
    }

    [Fact]
    public void Tls_OffPassesInsecureToEveryProcess_OnPassesNothing_BothRunsOnThenOff()
    {
        Assert.Equal([TlsSetting.On], TlsFlags.Parse("on"));
        Assert.Equal([TlsSetting.Off], TlsFlags.Parse("off"));
        Assert.Equal([TlsSetting.On, TlsSetting.Off], TlsFlags.Parse("both"));
        Assert.Empty(TlsFlags.Arguments(TlsSetting.On));
        Assert.Equal(["--insecure"], TlsFlags.Arguments(TlsSetting.Off));
        Assert.Equal(ExitCodes.Usage, Assert.Throws<UserFacingException>(() => TlsFlags.Parse("maybe")).ExitCode);
    }

    [Fact]
    public void SystemNames_WithBothTlsSettings_NameThePlainTextRunNotls()
    {
        Assert.Equal("dragonfly", SwarmModes.SystemName(SwarmModes.Publish, TlsSetting.On, bothSettings: true));
        Assert.Equal("dragonfly-url-notls", SwarmModes.SystemName(SwarmModes.Url, TlsSetting.Off, bothSettings: true));
        Assert.Equal("dragonfly-url-announce", SwarmModes.SystemName(SwarmModes.UrlAnnounce, TlsSetting.Off, bothSettings: false));
    }
}
