using Dragonfly.PubSub.IntegrationTests.Infrastructure;
using Xunit.Abstractions;
using static Dragonfly.PubSub.IntegrationTests.Infrastructure.Sizes;

namespace Dragonfly.PubSub.IntegrationTests.Cache;

/// <summary>
/// <c>dfagent --cache-size</c> and <c>dfagent gc</c> with real processes: least recently used
/// content that nothing needs is evicted, a download in progress never is, and a dry run only lists.
/// </summary>
public sealed class CacheEvictionTests(ITestOutputHelper output)
{
    private const string Topic = "releases/cache";
    private static readonly TimeSpan CollectorTimeout = TimeSpan.FromSeconds(40);

    [Fact]
    public Task Cache_OverItsSize_EvictsTheLeastRecentlyUsed_GcDryRunOnlyLists_AndARunningTaskIsNeverTouched() => TestCluster.RunAsync(output, async cluster =>
    {
        await cluster.StartBrokerAsync();
        var publisher = await cluster.StartAgentAsync("pub");
        // One piece at a time, so the throttled download below finishes pieces one by one.
        var agent = await cluster.StartAgentAsync("cache", [Topic], ["--cache-size", "2MiB", "--pieces-in-flight", "1"]);
        var a = await cluster.CreateFileAsync("a.bin", 1 * MiB, seed: 31);
        var b = await cluster.CreateFileAsync("b.bin", 1 * MiB, seed: 32);
        var c = await cluster.CreateFileAsync("c.bin", 1 * MiB, seed: 33);
        var d = await cluster.CreateFileAsync("d.bin", 4 * MiB, seed: 34);

        // Outputs are hard links to the store: while they exist the bytes are the user's, not the
        // cache's. The user is done with A and B and deletes them: now only the agent holds them.
        foreach (var file in new[] { a, b })
        {
            await cluster.PublishAsync(publisher, file, Topic);
            var placed = agent.OutputPathOf(Topic, file.Name);
            await agent.WaitForFileAsync(placed, file, TestCluster.TransferTimeout);
            File.Delete(placed);
        }
        await Wait.UntilAsync("the cache gauge to count A and B (2 MiB)", CollectorTimeout,
            async () => (await agent.GetMetricsAsync()).Find("dragonfly_agent_cache_bytes") >= 2 * MiB, guard: cluster.Launcher.ThrowIfAnyCrashed);
        Assert.True(File.Exists(ContentPath(agent, a)) && File.Exists(ContentPath(agent, b)), "within --cache-size 2MiB nothing may be evicted");

        // A dry run to 1 MiB names the least recently used (A), not B, and removes nothing.
        var dry = await cluster.RunCliAsync("dfagent", ["gc", "--dry-run", "--cache-size", "1MiB", "--data-dir", agent.DataDir]);
        Assert.True(dry.ExitCode == 0, $"dfagent gc --dry-run failed:\n{dry}");
        Assert.Contains($"would evict {a.Digest} content", dry.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain($"would evict {b.Digest}", dry.Stdout, StringComparison.Ordinal);
        Assert.True(File.Exists(ContentPath(agent, a)), $"a dry run removed A:\n{dry}");
        Assert.NotNull(await agent.GetTaskAsync(a.Digest));

        // C arrives and its output goes too: 3 MiB > 2 MiB, so the collector evicts A, the oldest.
        await cluster.PublishAsync(publisher, c, Topic);
        await agent.WaitForFileAsync(agent.OutputPathOf(Topic, c.Name), c, TestCluster.TransferTimeout);
        File.Delete(agent.OutputPathOf(Topic, c.Name));
        await Wait.UntilAsync("the agent to evict A", CollectorTimeout, () => Task.FromResult(!File.Exists(ContentPath(agent, a))),
            guard: cluster.Launcher.ThrowIfAnyCrashed, describe: agent.DescribeTasks);
        Assert.True(File.Exists(ContentPath(agent, b)) && File.Exists(ContentPath(agent, c)), "only the least recently used content may go");
        Assert.Null(await agent.GetTaskAsync(a.Digest));
        var metrics = await agent.GetMetricsAsync();
        Assert.True(metrics.Require("dragonfly_agent_cache_evictions_total") >= 1, "the eviction is not counted");
        Assert.True(metrics.Require("dragonfly_agent_cache_evicted_bytes_total") >= 1 * MiB, "the evicted bytes are not counted");

        // D downloads slowly (dfget --limit) on a topic the agent does not follow.
        await cluster.PublishAsync(publisher, d, "slow/d", "--piece-size", "1MiB");
        var target = Path.Combine(cluster.Root, "got", "d.bin");
        var dfget = cluster.RunCliAsync("dfget", [d.Digest, "-O", target, "--data-dir", agent.DataDir, "--limit", "256KiB"], TimeSpan.FromSeconds(90));
        await Wait.ForAsync("D to have a verified piece and be running", TestCluster.TransferTimeout,
            async () => await agent.GetTaskAsync(d.Digest) is { State: "running", CompletedPieces: >= 1 } t ? t : null,
            guard: cluster.Launcher.ThrowIfAnyCrashed, describe: agent.DescribeTasks);

        // Trimming to zero evicts B and C but keeps D's partial download, naming why.
        var gc = await cluster.RunCliAsync("dfagent", ["gc", "--cache-size", "0", "--data-dir", agent.DataDir]);
        Assert.True(gc.ExitCode == 0, $"dfagent gc failed:\n{gc}");
        Assert.Contains($"evicted {b.Digest} content", gc.Stdout, StringComparison.Ordinal);
        Assert.Contains($"evicted {c.Digest} content", gc.Stdout, StringComparison.Ordinal);
        Assert.Contains($"kept {d.Digest} partial", gc.Stdout, StringComparison.Ordinal);
        Assert.Contains("task in progress", gc.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain($"evicted {d.Digest}", gc.Stdout, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(agent.DataDir, "partial", d.Sha256Hex)), "the running download's partial file was removed");

        var got = await dfget;
        Assert.True(got.ExitCode == 0, $"the download in progress during gc failed:\n{got}");
        Assert.Equal(d.Sha256Hex, await TestFile.HashAsync(target));
    });

    private static string ContentPath(AgentProcess agent, TestFile file) => Path.Combine(agent.DataDir, "content", "sha256", file.Sha256Hex);
}
