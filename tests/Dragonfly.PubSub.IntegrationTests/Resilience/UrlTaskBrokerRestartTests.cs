using Dragonfly.PubSub.IntegrationTests.BackToSource;
using Dragonfly.PubSub.IntegrationTests.Infrastructure;
using Dragonfly.PubSub.Testing;
using Xunit.Abstractions;
using static Dragonfly.PubSub.IntegrationTests.Infrastructure.Sizes;

namespace Dragonfly.PubSub.IntegrationTests.Resilience;

/// <summary>
/// A broker keeps a URL task that is still being fetched from its origin in memory only. When it is
/// SIGKILLed and restarted mid-way, the agents running the task (dfget's, which holds the URL and its
/// headers; the broker's seed, which holds the pieces it fetched) bring it back: dfget finishes with the
/// right bytes, and the origin serves about one copy, not the pieces the swarm already had.
/// </summary>
public sealed class UrlTaskBrokerRestartTests(ITestOutputHelper output)
{
    /// <summary>Pieces the seed may have had in flight (TransferOptions.PiecesInFlight) when it was killed, plus two unpersisted ones.</summary>
    private const int PiecesLostAtKill = 8 + 2;

    [Fact]
    public Task Dfget_BrokerKilledAndRestartedMidSourcing_Finishes_OriginServesAboutOneCopy() => TestCluster.RunAsync(output, async cluster =>
    {
        // 2 MiB/s per connection after its first 256 KiB: the seed's 8 parallel range requests take ~15 s for the file.
        var nginx = cluster.Own(await NginxServer.StartAsync(slowRate: "2m"));
        var file = await TestFile.CreateAsync(nginx.WwwPath("slow/restart.bin"), 256 * MiB, seed: 361);
        await cluster.StartBrokerAsync();
        var agents = await cluster.StartAgentsAsync("agent", 2);

        var url = nginx.Http("slow/restart.bin");
        var outputs = agents.Select(a => cluster.OutputPath(a.Name, "restart.bin")).ToList();
        var downloads = agents.Select((a, i) => cluster.DfgetAsync(a, url, outputs[i], TimeSpan.FromMinutes(4))).ToList();

        var progress = await Wait.ForAsync("the agents to be a fifth through", TestCluster.TransferTimeout, async () =>
        {
            var tasks = await Task.WhenAll(agents.Select(async a => (await a.GetTasksAsync()).FirstOrDefault()));
            return tasks.Any(t => t is not null && t.CompletedPieces * 5 >= t.TotalPieces) ? tasks : null;
        }, guard: cluster.Launcher.ThrowIfAnyCrashed);
        await cluster.Broker.Process.KillAsync();
        cluster.Log($"broker killed at: {string.Join(" | ", progress.Select(t => t?.ToString() ?? "no task"))}");
        Assert.True(progress.All(t => t is not null && t.State != "succeeded"),
            "an agent had finished before the broker was killed; is nginx's limit_rate on /slow/ honoured?");
        var taskId = progress.First(t => t is not null)!.Digest;

        await Task.Delay(TimeSpan.FromSeconds(3)); // down for a few seconds, as a crash and a supervisor's restart
        var broker = await cluster.RestartBrokerAsync();
        // Until the downloads end: the fewest pieces each agent's task showed, which must never drop below
        // what it held at the kill (a task started afresh shows 0 again).
        var fewest = progress.Select(t => t!.CompletedPieces).ToArray();
        var watching = Task.Run(async () =>
        {
            while (!downloads.All(d => d.IsCompleted))
            {
                for (var i = 0; i < agents.Count; i++)
                {
                    if ((await agents[i].GetTasksAsync()).FirstOrDefault() is { } task && task.State != "succeeded")
                    {
                        fewest[i] = Math.Min(fewest[i], task.CompletedPieces);
                    }
                }
                await Task.Delay(100);
            }
        });
        var results = await Task.WhenAll(downloads);
        await watching;

        for (var i = 0; i < agents.Count; i++)
        {
            await UrlTasks.AssertDownloadedAsync(results[i], outputs[i], file);
        }
        var pieceSize = (await broker.GetManifestAsync(taskId)).PieceSize;
        var served = await nginx.ServedBodyBytesAsync("/slow/restart.bin");
        var extra = served - file.Size;
        var requests = nginx.Requests("/slow/restart.bin").Where(r => r.Method == "GET").ToList();
        var asked = requests.GroupBy(r => r.Range).Where(g => g.Count() > 1).Select(g => $"{g.Key} x{g.Count()} ({string.Join("+", g.Select(r => r.BodyBytesSent))} bytes)");
        cluster.Log($"nginx: {requests.Count} GETs; ranges asked more than once: {string.Join(", ", asked.DefaultIfEmpty("none"))}");
        cluster.Log($"nginx served {served} bytes = {UrlTasks.Ratio(served, file.Size)} x the file = F + {extra} bytes ({(double)extra / pieceSize:0.00} pieces of {pieceSize})");
        Assert.True(served >= file.Size, $"nginx served {served} bytes, less than the file ({file.Size}): the egress count is broken");
        Assert.True(served <= file.Size + (long)PiecesLostAtKill * pieceSize,
            $"nginx served {served} bytes = F + {extra}: more than the {PiecesLostAtKill} pieces the killed seed may have had in flight; was the task fetched again from the start?");
        for (var i = 0; i < agents.Count; i++)
        {
            var metrics = await agents[i].GetMetricsAsync();
            var fromPeers = metrics.Require(UrlTasks.AgentDownloadBytes, ("source", "peer"));
            var fromSource = metrics.Require(UrlTasks.AgentDownloadBytes, ("source", "source"));
            cluster.Log($"{agents[i].Name}: {progress[i]!.CompletedPieces} pieces at the kill, never fewer than {fewest[i]} after it; received {fromPeers} bytes "
                + $"from peers and {fromSource} from the origin = {UrlTasks.Ratio(fromPeers + fromSource, file.Size)} x the file");
            Assert.True(fewest[i] >= progress[i]!.CompletedPieces,
                $"{agents[i].Name} held {progress[i]!.CompletedPieces} pieces when the broker was killed and showed {fewest[i]} afterwards: it started again");
        }
    }, TimeSpan.FromMinutes(5));
}
