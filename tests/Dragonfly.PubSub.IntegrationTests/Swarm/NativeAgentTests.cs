using System.Text;
using Dragonfly.PubSub.IntegrationTests.Infrastructure;
using Xunit.Abstractions;
using static Dragonfly.PubSub.IntegrationTests.Infrastructure.Sizes;

namespace Dragonfly.PubSub.IntegrationTests.Swarm;

/// <summary>
/// The published dfagent is Native AOT: trimmed, without a JIT, so code that needs reflection or runtime
/// code generation fails only there (JSON without a source-generated context, LiteDB's mapping of
/// TaskRecord). The other tests run the JIT build; this one runs the executable users get.
/// </summary>
public sealed class NativeAgentTests(ITestOutputHelper output)
{
    private const string Topic = "releases/native";

    [Fact]
    public Task NativeAgents_PublishAndSubscribe_DeliverVerifiedFile_AndResumeStateAfterRestart() => TestCluster.RunAsync(output, async cluster =>
    {
        var native = Product.NativeAgent;
        // A native executable carries its code: no dfagent.dll beside it, no JIT.
        Assert.False(File.Exists(Path.Combine(Path.GetDirectoryName(native)!, "dfagent.dll")), $"{native} has a dfagent.dll beside it: not a Native AOT publish");
        Assert.Equal("\u007fELF", Encoding.ASCII.GetString(File.ReadAllBytes(native).AsSpan(0, 4)));

        await cluster.StartBrokerAsync();
        var file = await cluster.CreateFileAsync("native.bin", 24 * MiB, seed: 61);
        var publisher = await cluster.StartAgentAsync("pub", executable: native);
        var subscribers = await Task.WhenAll(
            cluster.StartAgentAsync("sub-1", [Topic], executable: native),
            cluster.StartAgentAsync("sub-2", [Topic], executable: native));

        await cluster.PublishAsync(publisher, file, Topic);
        await cluster.WaitForFileOnAllAsync(subscribers, Topic, file);

        // The local API's JSON and the metrics work without reflection.
        var task = Assert.Single(await subscribers[0].GetTasksAsync());
        Assert.Equal(file.Digest, task.Digest);
        Assert.Equal("succeeded", task.State);
        Assert.Equal(file.Size, task.BytesFromPeers);
        var downloaded = (await subscribers[0].GetMetricsAsync()).Require("dragonfly_agent_download_bytes_total");
        Assert.True(downloaded >= file.Size, $"sub-1 counted {downloaded} downloaded bytes for a {file.Size}-byte file");

        // LiteDB reads TaskRecord back (the reflection path a trimmed executable could lose): the restarted
        // agent still knows the task as succeeded, with its pieces, and does not fetch it again.
        await subscribers[0].Process.KillAsync();
        var restarted = await cluster.RestartAgentAsync(subscribers[0]);
        var again = Assert.Single(await restarted.GetTasksAsync());
        Assert.Equal(file.Digest, again.Digest);
        Assert.Equal("succeeded", again.State);
        Assert.Equal(again.TotalPieces, again.CompletedPieces);
        Assert.Equal(file.Size, again.BytesFromPeers);
    });
}
