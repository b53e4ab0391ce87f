using Dragonfly.PubSub.IntegrationTests.Infrastructure;
using Xunit.Abstractions;
using static Dragonfly.PubSub.IntegrationTests.Infrastructure.Sizes;

namespace Dragonfly.PubSub.IntegrationTests.Swarm;

/// <summary>The path of one artifact: publish, announce, swarm download, land in the output dir.</summary>
public sealed class PublishSubscribeTests(ITestOutputHelper output)
{
    private const string Topic = "releases/app";

    [Fact]
    public Task Publish_To6Subscribers_AllGetIdenticalFile_PublisherUploadsAtMost1_5x() => TestCluster.RunAsync(output, async cluster =>
    {
        await cluster.StartBrokerAsync();
        var creating = cluster.CreateFileAsync("app-128m.bin", 128 * MiB, seed: 1);
        var starting = cluster.StartAgentAsync("pub");
        var subscribers = await cluster.StartAgentsAsync("sub", 6, [Topic]);
        var publisher = await starting;
        var file = await creating;

        await cluster.PublishAsync(publisher, file, Topic);
        await cluster.WaitForFileOnAllAsync(subscribers, Topic, file);

        // Every piece has to leave the publisher once; the swarm should carry the rest.
        var uploaded = (await publisher.GetMetricsAsync()).Require("dragonfly_agent_upload_bytes_total");
        cluster.Log($"publisher uploaded {uploaded} bytes = {uploaded / file.Size:0.00} x the file");
        Assert.True(uploaded >= file.Size && uploaded <= 1.5 * file.Size,
            $"publisher uploaded {uploaded} bytes ({uploaded / file.Size:0.00} x the file); expected between 1.0 and 1.5 x {file.Size}");
    });

    [Fact]
    public Task Subscribe_AfterAnnouncement_ReceivesRetainedArtifact() => TestCluster.RunAsync(output, async cluster =>
    {
        await cluster.StartBrokerAsync();
        var publisher = await cluster.StartAgentAsync("pub");
        var file = await cluster.CreateFileAsync("late.bin", 32 * MiB, seed: 2);
        await cluster.PublishAsync(publisher, file, Topic);

        var late = await cluster.StartAgentAsync("late", [Topic]);

        await late.WaitForFileAsync(late.OutputPathOf(Topic, file.Name), file, TestCluster.TransferTimeout);
    });

    [Fact]
    public Task Agent_OfflineWhileTwoFilesArePublished_ReceivesBothAfterRestart() => TestCluster.RunAsync(output, async cluster =>
    {
        var broker = await cluster.StartBrokerAsync();
        var publisher = await cluster.StartAgentAsync("pub");
        var sub = await cluster.StartAgentAsync("sub", ["releases/#"]);

        // A first artifact proves the subscription (and so the persistent session) exists.
        var first = await cluster.CreateFileAsync("first.bin", 8 * MiB, seed: 3);
        await cluster.PublishAsync(publisher, first, Topic);
        await sub.WaitForFileAsync(sub.OutputPathOf(Topic, first.Name), first, TestCluster.TransferTimeout);

        // The broker exports its peer gauge from the start: a missing one fails here, not silently below.
        var peersBefore = (await broker.GetMetricsAsync()).Require("dragonfly_broker_peers");
        await sub.Process.KillAsync();
        // The broker sees the killed agent's connections close (loopback FIN); wait for that so
        // the publishes below really happen while it is offline.
        await Wait.UntilAsync("the broker to drop the killed agent", TimeSpan.FromSeconds(30),
            async () => (await broker.GetMetricsAsync()).Require("dragonfly_broker_peers") < peersBefore,
            describe: () => $"dragonfly_broker_peers was {peersBefore} before the kill");

        var second = await cluster.CreateFileAsync("second.bin", 16 * MiB, seed: 4);
        var third = await cluster.CreateFileAsync("third.bin", 16 * MiB, seed: 5);
        await cluster.PublishAsync(publisher, second, Topic);
        await cluster.PublishAsync(publisher, third, Topic);

        var restarted = await cluster.RestartAgentAsync(sub);

        // Retained alone would only bring the last one; the first proves the persistent session.
        await Task.WhenAll(
            restarted.WaitForFileAsync(restarted.OutputPathOf(Topic, second.Name), second, TestCluster.TransferTimeout),
            restarted.WaitForFileAsync(restarted.OutputPathOf(Topic, third.Name), third, TestCluster.TransferTimeout));
    });
}
