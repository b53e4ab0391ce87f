using Dragonfly.PubSub.IntegrationTests.Infrastructure;
using Xunit.Abstractions;
using static Dragonfly.PubSub.IntegrationTests.Infrastructure.Sizes;

namespace Dragonfly.PubSub.IntegrationTests.Resilience;

/// <summary>Pieces are verified on arrival: a peer with rotten content cannot spoil anyone's file.</summary>
public sealed class CorruptPeerTests(ITestOutputHelper output)
{
    private const string Topic = "releases/app";

    [Fact]
    public Task Download_WhenPeerServesCorruptPieces_RefetchesElsewhereAndNeverWritesWrongFile() => TestCluster.RunAsync(output, async cluster =>
    {
        var broker = await cluster.StartBrokerAsync();
        var publisher = await cluster.StartAgentAsync("pub");
        var rotten = await cluster.StartAgentAsync("rotten", [Topic]);
        var file = await cluster.CreateFileAsync("corrupt-32m.bin", 32 * MiB, seed: 21);
        await cluster.PublishAsync(publisher, file, Topic);
        await rotten.WaitForFileAsync(rotten.OutputPathOf(Topic, file.Name), file, TestCluster.TransferTimeout);

        // Rot most pieces of its content store in place (same inode, as a bad disk would).
        var manifest = await broker.GetManifestAsync(file.Digest);
        var content = Path.Combine(rotten.DataDir, "content", "sha256", file.Sha256Hex);
        Assert.True(File.Exists(content), $"the completed agent has no content file at {content}");
        int[] rottenPieces = [0, 1, 2, 4, 5, 6];
        Assert.True(manifest.PieceDigests.Count > rottenPieces.Max(), $"expected 8 pieces, the manifest has {manifest.PieceDigests.Count}");
        await TestFile.CorruptInPlaceAsync(content, rottenPieces.Select(i => (long)i * manifest.PieceSize + 1000));
        Assert.NotEqual(file.Sha256Hex, await TestFile.HashAsync(content));
        cluster.Log($"corrupted pieces {string.Join(',', rottenPieces)} of {content}");

        var newcomers = await cluster.StartAgentsAsync("new", 3, [Topic]);
        var arrivals = await cluster.WaitForFileOnAllAsync(newcomers, Topic, file);

        Assert.All(arrivals, a => Assert.True(a.Anomalies.Count == 0, $"{a.Path} held other content before the right one: {string.Join("; ", a.Anomalies)}"));
        double failures = 0;
        foreach (var agent in newcomers)
        {
            var metrics = await agent.GetMetricsAsync();
            var own = metrics.Find("dragonfly_agent_piece_verify_failures_total") ?? 0;
            cluster.Log($"{agent.Name}: {own} verify failures, {metrics.Find("dragonfly_agent_download_bytes_total", ("source", "peer"))} bytes from peers");
            failures += own;
        }
        Assert.True(failures > 0,
            "none of the 3 new agents counted a piece verify failure (dragonfly_agent_piece_verify_failures_total), "
            + "although 6 of the 8 pieces held by a full peer were corrupt: they never fetched from it, or never verified");
    });
}
