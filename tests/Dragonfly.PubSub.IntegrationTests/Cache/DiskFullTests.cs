using Dragonfly.PubSub.IntegrationTests.Infrastructure;
using Xunit.Abstractions;
using static Dragonfly.PubSub.IntegrationTests.Infrastructure.Sizes;

namespace Dragonfly.PubSub.IntegrationTests.Cache;

/// <summary>
/// An agent whose data dir fills up mid-download, on a real (small tmpfs) filesystem: one clear
/// error, the verified pieces kept, and the download resuming by itself when space returns.
/// </summary>
public sealed class DiskFullTests(ITestOutputHelper output)
{
    private const string Topic = "releases/big";

    [Fact]
    public Task Download_OnAFullDisk_StopsWithOneClearError_KeepsItsPieces_AndResumesWhenSpaceReturns() => TestCluster.RunAsync(output, async cluster =>
    {
        await cluster.StartBrokerAsync();
        var publisher = await cluster.StartAgentAsync("pub");
        // Owned by the cluster: unmounted after its processes are stopped, also when the test fails.
        var disk = cluster.Own(TmpfsMount.Create(Path.Combine(cluster.Root, "disk"), 24 * MiB));
        var spec = new AgentSpec("full", Path.Combine(disk.Path, "data"), Path.Combine(disk.Path, "out"), [Topic], ["--pieces-in-flight", "2"]);
        // Started outside the cluster's own folders; the cluster's launcher still stops it.
        var agent = await AgentProcess.StartAsync(cluster.Launcher, cluster.Broker.Ports, spec);
        cluster.Own(agent.Http);

        // Leave about 7 MiB free for a 16 MiB artifact of 1 MiB pieces.
        var filler = Path.Combine(disk.Path, "filler");
        await FillAsync(filler, disk.AvailableBytes - (7 * MiB));
        cluster.Log($"tmpfs: {disk.AvailableBytes} bytes free after the filler");
        var file = await cluster.CreateFileAsync("big.bin", 16 * MiB, seed: 41);
        await cluster.PublishAsync(publisher, file, Topic, "--piece-size", "1MiB");

        var stopped = await Wait.ForAsync("the download to stop on the full disk", TestCluster.TransferTimeout,
            async () => await agent.GetTaskAsync(file.Digest) is { State: "failed" } t ? t : null,
            guard: cluster.Launcher.ThrowIfAnyCrashed, describe: agent.DescribeTasks);
        cluster.Log($"stopped: {stopped}");
        Assert.NotNull(stopped.Error);
        Assert.Contains("is full", stopped.Error, StringComparison.Ordinal);
        Assert.Contains("resumes by itself once space is free", stopped.Error, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', stopped.Error);
        Assert.InRange(stopped.CompletedPieces, 1, stopped.TotalPieces - 1);
        Assert.True(File.Exists(Path.Combine(spec.DataDir, "partial", file.Sha256Hex)), "the verified pieces were thrown away");
        Assert.False(File.Exists(agent.OutputPathOf(Topic, file.Name)), "a partial file reached the output path");
        Assert.True((await agent.GetMetricsAsync()).Require("dragonfly_agent_disk_full_total") >= 1, "the full disk is not counted");

        // Still failed a moment later: nothing resumes while the disk is full.
        await Task.Delay(TimeSpan.FromSeconds(3));
        Assert.Equal("failed", (await agent.GetTaskAsync(file.Digest))?.State);

        File.Delete(filler);
        await agent.WaitForFileAsync(agent.OutputPathOf(Topic, file.Name), file, TestCluster.TransferTimeout);

        // Resumed, not restarted: every byte fetched once, give or take the pieces in flight when it stopped.
        var fetched = (await agent.GetMetricsAsync()).Require("dragonfly_agent_download_bytes_total", ("source", "peer"));
        cluster.Log($"fetched {fetched} bytes from peers for a {file.Size}-byte file; {stopped.CompletedPieces} pieces were kept");
        Assert.True(fetched <= file.Size + (3 * MiB),
            $"the agent fetched {fetched} bytes for a {file.Size}-byte file: more than the file plus the pieces in flight when it stopped, so it did not resume from the {stopped.CompletedPieces} pieces it kept");
    });

    private static async Task FillAsync(string path, long bytes)
    {
        var chunk = new byte[1 << 20];
        await using var stream = File.Create(path);
        for (long written = 0; written < bytes; written += chunk.Length)
        {
            await stream.WriteAsync(chunk.AsMemory(0, (int)Math.Min(chunk.Length, bytes - written)));
        }
    }
}
