using Dragonfly.PubSub.Bench.BrokerLoad.Measurement;

namespace Dragonfly.PubSub.Bench.BrokerLoad.Tests;

/// <summary>
/// <c>dfbench broker --brokers 2</c> against two real dfbrokers on one real redis-server (Debian's, started
/// by the benchmark): every agent connects to the broker an agent's rendezvous placement picks for its task,
/// and the report's per-broker figures add up to the totals. Checks the harness, never the speed.
/// </summary>
public sealed class SeveralBrokersSmokeTests
{
    [Fact]
    public async Task TwoBrokersOnOneRedis_AgentsFollowTheirTasksOwnerAndPerBrokerFiguresAddUp()
    {
        var output = Directory.CreateTempSubdirectory("dfbench-brokers-test-").FullName;
        try
        {
            var options = new BrokerLoadOptions
            {
                Brokers = 2,
                Agents = 60,
                Tasks = 6,
                PublishersPerTask = 1,
                Pieces = 64,
                Duration = TimeSpan.FromSeconds(2),
                NeedInterval = TimeSpan.FromMilliseconds(100),
                ReportInterval = TimeSpan.FromMilliseconds(200),
                Out = output,
            };
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));

            var report = await new BrokerLoadBenchmark(options).RunAsync(timeout.Token);

            Assert.Equal(2, report.Brokers.Count);
            Assert.Equal(2, report.Settings.Brokers);
            Assert.Contains("--state", report.Settings.BrokerArguments);
            Assert.Equal(60, report.Setup.ConnectedAgents);
            Assert.Equal(60, report.Brokers.Sum(b => b.Agents));
            Assert.Equal(60, report.Brokers.Sum(b => b.Connected));
            Assert.Equal(6, report.Brokers.Sum(b => b.Tasks));
            // Each broker got the agents of the tasks rendezvous hashing gives it (10 agents per task here).
            foreach (var broker in report.Brokers)
            {
                Assert.Equal(broker.Tasks * 10, broker.Agents);
            }
            Assert.Equal(report.Schedule.Latency.Count, report.Brokers.Sum(b => b.Latency.Count));
            Assert.All(report.Brokers.Where(b => b.Agents > 0), b =>
            {
                Assert.True(b.Latency.Count > 0, $"broker {b.Name} answered nothing");
                Assert.True(b.Resources.RssBytes > 0 && b.Resources.PeakRssBytes >= b.Resources.RssBytes);
                Assert.True(b.ServerCompute.Count > 0, $"broker {b.Name} computed no parent set");
            });
            Assert.Equal(report.Brokers.Sum(b => b.Resources.RssBytes), report.Broker.RssBytes);
            Assert.Equal(0, report.Schedule.UnknownAnswers);
            Assert.Equal(0, report.Schedule.StreamsFailed);
            Assert.True(report.Schedule.Answered > 50, $"only {report.Schedule.Answered} NeedParents answered");
            Assert.NotNull(report.Redis);
            Assert.Null(report.Announcement);
            Assert.Equal(BrokerLoadBenchmark.TargetP99MsSeveral, report.Target.ScheduleP99Ms);
            Assert.Contains("broker 1 (", ReportTable.Format(report));
        }
        finally
        {
            Directory.Delete(output, recursive: true);
        }
    }
}
