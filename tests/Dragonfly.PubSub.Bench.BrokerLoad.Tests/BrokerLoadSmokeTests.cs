using System.Text.Json;
using Dragonfly.PubSub.Bench.BrokerLoad.Broker;
using Dragonfly.PubSub.Bench.BrokerLoad.Measurement;

namespace Dragonfly.PubSub.Bench.BrokerLoad.Tests;

public sealed class BrokerLoadSmokeTests
{
    [Fact]
    public async Task FiftyAgentsConnectGetParentSetsAndTheReportIsSane()
    {
        var output = Directory.CreateTempSubdirectory("dfbench-broker-test-").FullName;
        try
        {
            var options = new BrokerLoadOptions
            {
                Agents = 50,
                Tasks = 2,
                PublishersPerTask = 1,
                Pieces = 64,
                Duration = TimeSpan.FromSeconds(2),
                NeedInterval = TimeSpan.FromMilliseconds(100),
                ReportInterval = TimeSpan.FromMilliseconds(200),
                ParentPieceMaps = false, // the broker relays piece news: counted below
                Out = output,
            };
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));

            var report = await new BrokerLoadBenchmark(options).RunAsync(timeout.Token);
            var path = BrokerLoadBenchmark.Write(report, output);
            Assert.Equal("broker", report.Settings.PieceNews);

            Assert.Equal(50, report.Setup.ConnectedAgents);
            Assert.Equal(50, report.Setup.MqttConnected);
            Assert.Equal(48, report.Setup.JoinLatency.Count);
            // Every request due counts, answered or not; each answer was matched to its request by id.
            Assert.Equal(report.Schedule.Requests + report.Schedule.Skipped, report.Schedule.Latency.Count);
            Assert.Equal(report.Schedule.Requests, report.Schedule.Answered + report.Schedule.Late + report.Schedule.Unanswered);
            Assert.True(report.Schedule.Answered > 48, $"only {report.Schedule.Answered} NeedParents answered");
            Assert.Equal(0, report.Schedule.UnknownAnswers);
            Assert.Equal(report.Schedule.Answered, report.Schedule.AnsweredLatency.Count);
            Assert.True(report.Schedule.Latency.P50Ms > 0);
            Assert.True(report.Schedule.Latency.P99Ms >= report.Schedule.Latency.P50Ms);
            Assert.True(report.Schedule.Latency.MaxMs >= report.Schedule.Latency.P99Ms);
            Assert.Equal(0, report.Schedule.StreamsFailed);
            Assert.True(report.Schedule.PiecesReported > 0);
            Assert.True(report.Schedule.PieceAvailableReceived > 0);
            // Each event carries the news of one parent or, merged by the broker, of several.
            Assert.InRange(report.Schedule.PieceAvailableEvents, 1, report.Schedule.PieceAvailableReceived);
            Assert.True(report.ServerCompute.Count >= report.Schedule.Answered, "the broker's histogram saw fewer parent sets than we received");
            // In ms: the broker's smallest bucket bound is 10 µs = 0.01 ms (1e-5 would be seconds under a ms name).
            Assert.True(report.ServerCompute.P50MsAtMost >= 0.01, $"p50 bucket bound {report.ServerCompute.P50MsAtMost} is not in ms");
            // The broker's own NeedParents → ParentSet: one per answer we received, and inside what we measured.
            Assert.True(report.ServerLatency.Queued.Count >= report.Schedule.Answered, $"the broker timed {report.ServerLatency.Queued.Count} queued answers, we received {report.Schedule.Answered}");
            Assert.True(report.ServerLatency.Written.Count >= report.Schedule.Answered, $"the broker timed {report.ServerLatency.Written.Count} written answers, we received {report.Schedule.Answered}");
            Assert.True(report.ServerLatency.Written.MeanMs >= report.ServerLatency.Queued.MeanMs, "an answer was written before it was queued");
            Assert.True(report.ServerLatency.Queued.MeanMs >= report.ServerCompute.MeanMs, "queueing took less than the computation inside it");
            Assert.True(report.ServerLatency.Written.MeanMs <= report.Schedule.AnsweredLatency.MeanMs,
                $"the broker's share {report.ServerLatency.Written.MeanMs} ms is more than the whole {report.Schedule.AnsweredLatency.MeanMs} ms");
            Assert.Contains("inside the broker: written", ReportTable.Format(report));
            Assert.Equal("default", report.Settings.Profile);
            Assert.Equal(1 / (1.5 * 0.2), report.Settings.PieceReportsPerSecondPerAgent, 6);
            Assert.DoesNotContain("--tls", report.Settings.BrokerArguments);
            var announcement = Assert.IsType<AnnouncementFigures>(report.Announcement);
            Assert.Equal(50, announcement.Received);
            Assert.True(announcement.AllMs >= announcement.FirstMs && announcement.FirstMs > 0);
            Assert.Single(report.Brokers);
            Assert.Null(report.Redis);
            Assert.True(report.Broker.RssBytes > 0 && report.Broker.PeakRssBytes >= report.Broker.RssBytes);

            using var json = JsonDocument.Parse(await File.ReadAllBytesAsync(path));
            Assert.Equal(50, json.RootElement.GetProperty("settings").GetProperty("agents").GetInt32());
            Assert.True(json.RootElement.GetProperty("schedule").GetProperty("latency").GetProperty("p99Ms").GetDouble() > 0);
            Assert.Contains("NeedParents → ParentSet", ReportTable.Format(report));
            // The simulator's own collections during the load, and its MQTT clients kept alive by the load clock's pings.
            var collections = Assert.IsType<GcFigures>(report.BenchCollections);
            Assert.Equal(3, collections.Generations.Count);
            Assert.Equal(50, report.Setup.MqttConnectedAtEnd);
            // 50 clients pinged evenly over 15 s: those due in the 2 s load (the first at once) were answered.
            Assert.InRange(report.Setup.MqttPingsAnswered, 1, 50 * 2 / 15 + 1);
        }
        finally
        {
            Directory.Delete(output, recursive: true);
        }
    }

    [Fact]
    public async Task AgentsThatPollTheirParentsPieceMaps_GetNoPieceNewsFromTheBroker()
    {
        var output = Directory.CreateTempSubdirectory("dfbench-broker-test-").FullName;
        try
        {
            var options = new BrokerLoadOptions
            {
                Agents = 20,
                Tasks = 1,
                PublishersPerTask = 1,
                Pieces = 64,
                Duration = TimeSpan.FromSeconds(1),
                NeedInterval = TimeSpan.FromMilliseconds(200),
                ReportInterval = TimeSpan.FromMilliseconds(100),
                PiecesPerReport = 3,
                Out = output,
            };
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));

            var report = await new BrokerLoadBenchmark(options).RunAsync(timeout.Token);

            Assert.Equal("peer", report.Settings.PieceNews); // dfagent's default, and the simulator's
            Assert.True(report.Schedule.Answered > 19, $"only {report.Schedule.Answered} NeedParents answered");
            // Reports of several pieces each reached the broker (more pieces than a report each), and it relayed none.
            Assert.True(report.Schedule.PiecesReported > 19 * 3, $"only {report.Schedule.PiecesReported} pieces reported");
            Assert.Equal(0, report.Schedule.PieceAvailableReceived);
            Assert.Equal(0, report.Schedule.PieceAvailableEvents);
        }
        finally
        {
            Directory.Delete(output, recursive: true);
        }
    }

    [Fact]
    public void SwarmProfile_WithPeerPieceNews_SendsOneReportASecondCarryingThatSecondsPieces()
    {
        Assert.Equal(1.0, 1.5 * SwarmReportRate.ThrottledReportInterval.TotalSeconds, 6);
        Assert.Equal(48, SwarmReportRate.PiecesPerThrottledReport);
        Assert.Contains("one report per second", SwarmReportRate.ThrottledDerivation);
    }

    [Fact]
    public void SwarmProfile_ReportsAsFastAsA100MbitLinkFillsTheDefaultPiecesOfA256MiBFile()
    {
        // The agent's own layout for the testbed's file: 256 KiB pieces (PieceLayout.For, since session 23).
        Assert.Equal(262144, SwarmReportRate.PieceBytes);
        Assert.Equal(100e6 / 8 / 262144, SwarmReportRate.PiecesPerSecondPerAgent, 9);
        Assert.Equal(47.68, SwarmReportRate.PiecesPerSecondPerAgent, 2);
        // Intervals are drawn from S..2S: their mean 1.5 S must give that rate.
        Assert.Equal(1 / SwarmReportRate.PiecesPerSecondPerAgent, 1.5 * SwarmReportRate.ReportInterval.TotalSeconds, 3);
        Assert.Contains("47.68 pieces/s", SwarmReportRate.Derivation);
    }

    [Fact]
    public void HistogramDeltaGivesTheBucketOfAQuantile()
    {
        const string before = """
            dragonfly_broker_schedule_duration_seconds_sum 0.5
            dragonfly_broker_schedule_duration_seconds_count 10
            dragonfly_broker_schedule_duration_seconds_bucket{le="0.001"} 10
            dragonfly_broker_schedule_duration_seconds_bucket{le="0.01"} 10
            dragonfly_broker_schedule_duration_seconds_bucket{le="+Inf"} 10
            """;
        const string after = """
            dragonfly_broker_schedule_duration_seconds_sum 1.5
            dragonfly_broker_schedule_duration_seconds_count 110
            dragonfly_broker_schedule_duration_seconds_bucket{le="0.001"} 108
            dragonfly_broker_schedule_duration_seconds_bucket{le="0.01"} 109
            dragonfly_broker_schedule_duration_seconds_bucket{le="+Inf"} 110
            """;
        const string name = "dragonfly_broker_schedule_duration_seconds";

        var delta = HistogramSnapshot.Parse(after, name).Minus(HistogramSnapshot.Parse(before, name));

        Assert.Equal(100, delta.Count);
        Assert.Equal(1.0, delta.Sum, 6);
        Assert.Equal(0.001, delta.QuantileUpperBound(50));
        Assert.Equal(0.01, delta.QuantileUpperBound(99));
        Assert.Equal(double.PositiveInfinity, delta.QuantileUpperBound(100));
        Assert.Null(HistogramSnapshot.Empty.QuantileUpperBound(50));
    }

    [Fact]
    public void PercentilesAreNearestRank()
    {
        var summary = LatencySummary.Of(Enumerable.Range(1, 100).Select(i => (double)i));

        Assert.Equal((100, 50.0, 90.0, 99.0, 100.0), (summary.Count, summary.P50Ms, summary.P90Ms, summary.P99Ms, summary.MaxMs));
        Assert.Equal(LatencySummary.None, LatencySummary.Of([]));
    }
}
