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

    private const string Topic = "releases/url";

    [Fact]
    public Task Dfget_BrokerKilledAndRestartedMidSourcing_Finishes_OriginServesAboutOneCopy() => TestCluster.RunAsync(output, async cluster =>
    {
        // nginx lets a response send limit_rate_after plus one second's worth at once: with nothing after and 128k,
        // each 256 KiB piece of a 64 MiB file takes ~1 s and the seed's 8 parallel range requests ~32 s for the
        // file. (At 2m every range went out at once: on a fast machine the seed had the whole file before the kill
        // and nothing was tested; on a slower one the kill caught it at full speed. The 256k after, the default,
        // let every 256 KiB piece out at once.)
        var nginx = cluster.Own(await NginxServer.StartAsync(slowRate: "128k", slowAfter: "0"));
        var file = await TestFile.CreateAsync(nginx.WwwPath("slow/restart.bin"), 64 * MiB, seed: 361);
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
        var servedAtKill = await nginx.ServedBodyBytesAsync("/slow/restart.bin");
        cluster.Log($"nginx had served {servedAtKill} bytes when the broker was killed");
        Assert.True(servedAtKill < file.Size,
            "the origin had served the whole file before the broker was killed, so the seed was not sourcing any more; is nginx's limit_rate on /slow/ low enough?");

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

    [Fact]
    public Task SubscribedUrlTask_BrokerRestartedAndNobodyHoldsTheUrl_FailsWithOneLineInsteadOfHanging() => TestCluster.RunAsync(output, async cluster =>
    {
        // dfpub --url: the subscriber never had the URL, the broker's seed had it in memory only, so after the
        // restart nobody can register the task again. The subscriber's task must end, not wait for ever.
        // 32 KiB/s from each request's first byte: the seed reads 8 pieces of 256 KiB at once, each for ~7 s, so
        // it is still sourcing when the broker is killed (at 1 MiB/s, or with the default 256 KiB unslowed, it had
        // all 128 MiB within seconds, the catalogue kept the sourced task, and the subscriber finished instead).
        var nginx = cluster.Own(await NginxServer.StartAsync(slowRate: "32k", slowAfter: "0"));
        await TestFile.CreateAsync(nginx.WwwPath("slow/topic.bin"), 128 * MiB, seed: 362);
        await cluster.StartBrokerAsync();
        var publisher = await cluster.StartAgentAsync("pub");
        var subscriber = await cluster.StartAgentAsync("sub", [Topic]);
        var published = await cluster.RunCliAsync("dfpub",
            ["--url", nginx.Http("slow/topic.bin").AbsoluteUri, "--topic", Topic, "--name", "topic.bin", "--data-dir", publisher.DataDir]);
        Assert.True(published.ExitCode == 0, $"dfpub --url failed:\n{published}");
        var taskId = published.LastStdoutLine;

        await Wait.ForAsync("the subscriber to hold a piece", TestCluster.TransferTimeout, async () =>
            await subscriber.GetTaskAsync(taskId) is { CompletedPieces: > 0 } task ? task : null, guard: cluster.Launcher.ThrowIfAnyCrashed);
        cluster.AllowErrorLogs("the lost URL task fails on purpose: the subscriber and the restarted seed log it as a failed task");
        await cluster.Broker.Process.KillAsync();
        await cluster.RestartBrokerAsync();

        // 30 s once the broker answers again, plus the reconnect.
        var failed = await Wait.ForAsync("the subscriber's task to fail", TimeSpan.FromSeconds(90), async () =>
            await subscriber.GetTaskAsync(taskId) is { State: "failed" } task ? task : null, guard: cluster.Launcher.ThrowIfAnyCrashed);
        cluster.Log($"subscriber: {failed}");
        Assert.Contains("registered it again within 30 s; download the URL again", failed.Error, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', failed.Error!);
        Assert.False(File.Exists(subscriber.OutputPathOf(Topic, "topic.bin")), "a failed URL task left an output file");
    }, TimeSpan.FromMinutes(4));
}
