using Dragonfly.PubSub.IntegrationTests.Infrastructure;
using Xunit.Abstractions;
using static Dragonfly.PubSub.IntegrationTests.Infrastructure.Sizes;

namespace Dragonfly.PubSub.IntegrationTests.Resilience;

/// <summary>A crashed agent resumes from the pieces it persisted instead of starting over.</summary>
public sealed class ResumeTests(ITestOutputHelper output)
{
    private const string Topic = "releases/app";

    [Fact]
    public Task Download_KilledAfterAQuarter_ResumesAndFetchesOnlyMissingPieces() => TestCluster.RunAsync(output, async cluster =>
    {
        var broker = await cluster.StartBrokerAsync();
        var publisher = await cluster.StartAgentAsync("pub");
        var agent = await cluster.StartAgentAsync("resume", [Topic], ["--download-limit", "16MiB", "--pieces-in-flight", "4"]);
        var file = await cluster.CreateFileAsync("resume-128m.bin", 128 * MiB, seed: 11);
        await cluster.PublishAsync(publisher, file, Topic);
        var manifest = await broker.GetManifestAsync(file.Digest);
        var totalPieces = manifest.PieceDigests.Count;

        var quarter = await Wait.ForAsync("the throttled agent to persist a quarter of the pieces", TestCluster.TransferTimeout,
            async () => await agent.GetTaskAsync(file.Digest) is { } t && t.CompletedPieces * 4 >= t.TotalPieces ? t : null,
            guard: cluster.Launcher.ThrowIfAnyCrashed, describe: agent.DescribeTasks);
        var completed = quarter.CompletedPieces;
        await agent.Process.KillAsync();
        cluster.Log($"killed at {quarter}");

        Assert.Equal(totalPieces, quarter.TotalPieces);
        Assert.True(quarter.State != "succeeded" && completed < totalPieces,
            $"the download finished before it could be killed ({quarter}); is --download-limit 16MiB honoured?");
        Assert.False(File.Exists(agent.OutputPathOf(Topic, file.Name)), "a killed, unfinished download left a file at the output path");

        var restarted = await cluster.RestartAgentAsync(agent, extraArgs: []);
        await restarted.WaitForFileAsync(restarted.OutputPathOf(Topic, file.Name), file, TestCluster.TransferTimeout);

        // The counter restarts with the process: it holds only what the second run fetched.
        var fetched = (await restarted.GetMetricsAsync()).Require("dragonfly_agent_download_bytes_total", ("source", "peer"));
        var allowed = (long)(totalPieces - completed + 4) * manifest.PieceSize;
        cluster.Log($"after restart fetched {fetched} bytes from peers; allowed {allowed} (C={completed}, total={totalPieces}, piece={manifest.PieceSize})");
        Assert.True(fetched <= allowed,
            $"after the restart the agent fetched {fetched} bytes from peers, more than the {allowed} bytes of the "
            + $"{totalPieces - completed} missing pieces plus 4 in flight (it had {completed}/{totalPieces} persisted)");
    });
}
