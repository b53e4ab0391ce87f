using Dragonfly.PubSub.IntegrationTests.BackToSource;
using Dragonfly.PubSub.IntegrationTests.Infrastructure;
using Dragonfly.PubSub.Testing;
using Xunit.Abstractions;
using static Dragonfly.PubSub.IntegrationTests.Infrastructure.Sizes;

namespace Dragonfly.PubSub.IntegrationTests.Resilience;

/// <summary>
/// The brokers' shared Redis under Sentinel (issue 12): two dfbrokers with
/// <c>--state redis-sentinel://S1,S2,S3/dragonfly</c> (a primary, a replica, three Sentinels with quorum 2). The
/// primary is SIGKILLed while a URL task is being distributed; the Sentinels promote the replica, the brokers
/// follow, and the catalogue, the sequence numbers and the distribution all go on.
/// </summary>
public sealed class SentinelFailoverTests(ITestOutputHelper output)
{
    private const string Topic = "releases/sentinel";

    [Fact]
    public Task PrimaryKilledMidDistribution_SentinelsPromoteTheReplica_BrokersFollow_NothingLost() => TestCluster.RunAsync(output, async cluster =>
    {
        var redis = cluster.Own(await RedisSentinelGroup.StartAsync());
        var mosquitto = cluster.Own(await MosquittoServer.StartAsync());
        // 64 KiB/s per connection from the first byte (nginx lets one second's worth out at once): each 256 KiB piece
        // takes ~3 s and the seed's 8 parallel range requests ~48 s for the file, long enough to fail over under it.
        // (With the default 256k let out first, every 256 KiB range went out unslowed and the file was everywhere
        // before the kill.)
        var nginx = cluster.Own(await NginxServer.StartAsync(slowRate: "64k", slowAfter: "0"));
        var urlFile = await TestFile.CreateAsync(nginx.WwwPath("slow/sentinel.bin"), 32 * MiB, seed: 501);
        var brokers = await SeveralBrokers.StartAsync(cluster, 2, redis.Url, mosquitto.Url);
        await SeveralBrokers.WaitForFleetAsync(brokers, 2, TimeSpan.FromSeconds(20));
        var agentArgs = SeveralBrokers.AgentArgs(brokers);
        var publisher = await cluster.StartAgentAsync("pub", extraArgs: agentArgs);
        var agents = await cluster.StartAgentsAsync("agent", 3, [Topic], agentArgs);
        await Task.WhenAll(agents.Append(publisher).Select(a => SeveralBrokers.WaitUntilConnectedToAllAsync(a, 2, TimeSpan.FromSeconds(30))));
        var first = await cluster.CreateFileAsync("first.bin", 3 * MiB + 5, seed: 502);
        await cluster.PublishAsync(publisher, first, Topic);
        await cluster.WaitForFileOnAllAsync(agents, Topic, first);

        // A URL task in progress on every agent.
        var url = nginx.Http("slow/sentinel.bin");
        var outputs = agents.Select(a => cluster.OutputPath(a.Name, "sentinel.bin")).ToList();
        var downloads = agents.Select((a, i) => cluster.DfgetAsync(a, url, outputs[i], TimeSpan.FromMinutes(3))).ToList();
        await Wait.ForAsync("an agent to be a tenth through the URL task", TestCluster.TransferTimeout, async () =>
            (await agents[0].GetTasksAsync()).FirstOrDefault(t => t.Name == "sentinel.bin" && t.CompletedPieces * 10 >= t.TotalPieces),
            guard: cluster.Launcher.ThrowIfAnyCrashed);
        Assert.True(!downloads.Any(d => d.IsCompleted), "a dfget had finished before the Redis primary was killed; is nginx's limit_rate on /slow/ honoured?");

        cluster.AllowErrorLogs("the Redis primary is killed on purpose; the brokers may log that they lost it until Sentinel names the replica");
        var failover = await redis.KillPrimaryAndAwaitFailoverAsync(TimeSpan.FromSeconds(60));
        cluster.Log($"Redis primary killed; the Sentinels promoted the replica {failover.TotalSeconds:0.0} s later; "
            + $"{downloads.Count(d => !d.IsCompleted)} of {downloads.Count} downloads still running");

        // The distribution finishes, from the origin once.
        var results = await Task.WhenAll(downloads);
        for (var i = 0; i < agents.Count; i++)
        {
            await UrlTasks.AssertDownloadedAsync(results[i], outputs[i], urlFile);
        }
        UrlTasks.AssertOriginEgress(cluster, "nginx", await nginx.ServedBodyBytesAsync("/slow/sentinel.bin"), urlFile.Size);

        // Heartbeats go to the promoted replica, and the catalogue written before the failover is there.
        var rejoin = System.Diagnostics.Stopwatch.StartNew();
        await SeveralBrokers.WaitForFleetAsync(brokers, 2, TimeSpan.FromSeconds(30));
        cluster.Log($"both brokers list the fleet of 2 again ({rejoin.Elapsed.TotalSeconds:0.0} s after the downloads ended)");
        foreach (var broker in brokers)
        {
            Assert.Contains(first.Digest, await SeveralBrokers.ListedTasksAsync(broker));
            Assert.Equal(first.Size, (await broker.GetManifestAsync(first.Digest)).Size);
        }

        // A new announcement on the topic after the failover: its sequence number must be above the first one's (or the subscribers ignore it).
        var second = await cluster.CreateFileAsync("second.bin", 2 * MiB + 9, seed: 503);
        await cluster.PublishAsync(publisher, second, Topic);
        await cluster.WaitForFileOnAllAsync(agents, Topic, second);
    }, TimeSpan.FromMinutes(4));
}
