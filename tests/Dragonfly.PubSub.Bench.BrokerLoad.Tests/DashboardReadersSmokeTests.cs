namespace Dragonfly.PubSub.Bench.BrokerLoad.Tests;

/// <summary><c>dfbench broker --dashboard-pollers/--dashboard-streams</c>: the readers really read the dashboard during the load.</summary>
public sealed class DashboardReadersSmokeTests
{
    [Fact]
    public async Task Load_WithDashboardReaders_PollsAndStreamsTheDashboard_AndReportsThem()
    {
        var output = Directory.CreateTempSubdirectory("dfbench-broker-dashboard-").FullName;
        try
        {
            var options = new BrokerLoadOptions
            {
                Agents = 20,
                Tasks = 1,
                PublishersPerTask = 1,
                Pieces = 64,
                Duration = TimeSpan.FromSeconds(5),
                NeedInterval = TimeSpan.FromMilliseconds(200),
                ReportInterval = TimeSpan.FromMilliseconds(200),
                DashboardPollers = 2,
                DashboardStreams = 2,
                Out = output,
            };
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));

            var report = await new BrokerLoadBenchmark(options).RunAsync(timeout.Token);

            var dashboard = Assert.IsType<Measurement.DashboardFigures>(report.Dashboard);
            Assert.Equal((2, 2, 0L), (dashboard.Pollers, dashboard.Streams, dashboard.Failures));
            // Each reader read at least once; pollers wait a second between polls, streams get an event every 2 s
            // (the first at once): over 5 s no more than that, however fast the broker answers.
            Assert.InRange(dashboard.Polls, 2, 2 * 6);
            Assert.InRange(dashboard.Events, 2, 2 * 4);
            Assert.True(dashboard.BytesPerSecond > 0);
            Assert.Contains("dashboard readers during load", Measurement.ReportTable.Format(report));
        }
        finally
        {
            Directory.Delete(output, recursive: true);
        }
    }
}
