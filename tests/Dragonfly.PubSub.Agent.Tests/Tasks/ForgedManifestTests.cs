using Dragonfly.PubSub.Agent.Tasks;
using Dragonfly.PubSub.Agent.Tests.Pieces;
using Dragonfly.PubSub.Agent.Tests.Support;
using Dragonfly.PubSub.Agent.Tests.Swarm;
using Dragonfly.PubSub.Client;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Contracts.Scheduler;
using static Dragonfly.PubSub.Agent.Tests.Tasks.TaskInboxTests;

namespace Dragonfly.PubSub.Agent.Tests.Tasks;

/// <summary>
/// A manifest registered under someone else's content id, listing the piece digests of other
/// bytes: a download request that names the digest (dfget sha256:…) must not get those bytes,
/// whether it starts the task or joins a task proven only by the manifest. The scheduler is a
/// fake stream; the parent is a real piece server on loopback serving the other bytes.
/// </summary>
[Collection(MetricsCollection.Name)]
public sealed class ForgedManifestTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <param name="withChain">
    /// The forged manifest keeps the genuine SHA-256 chain (the pieces' chained checks refuse the other bytes
    /// although they match the forged digests), or lists none (the whole-file hash refuses them at the end).
    /// </param>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task DownloadByDigest_OfAForgedManifest_FailsAndWritesNothing(bool withChain)
    {
        var (genuine, fake, parent) = await ForgeAsync();
        if (!withChain)
        {
            fake.Manifests[genuine.Digest.ToString()].PieceChain.Clear();
        }
        await using var _ = parent;
        await using var agent = await AgentUnderTest.StartAsync(_dir.Combine("agent"), fake);
        var output = _dir.Combine("out", "app.bin");

        var waiter = await agent.Tasks.DownloadAsync(genuine.Digest, output, 0, CancellationToken.None).Within();
        fake.Push(ParentsOf(genuine, parent));
        var final = await LastAsync(waiter).Within();

        Assert.Equal(TaskStates.Failed, final.State);
        Assert.Contains(withChain ? "not the manifest's SHA-256 chain" : "not to its content id", final.Error, StringComparison.Ordinal);
        Assert.False(File.Exists(output));
    }

    [Fact]
    public async Task DownloadByDigest_JoiningATaskProvenOnlyByItsManifest_FailsAndWritesNothing()
    {
        var (genuine, fake, parent) = await ForgeAsync();
        await using var _ = parent;
        await using var agent = await AgentUnderTest.StartAsync(_dir.Combine("agent"), fake);
        // A subscription trusts its publisher's manifest: that download succeeds without a whole-file hash.
        agent.Tasks.OnAnnouncement(AnnouncementOf(genuine));
        await SchedulerSessionRoutingTests.WaitUntilAsync(() => agent.Tasks.GetTask(genuine.Digest) is not null);
        fake.Push(ParentsOf(genuine, parent));
        await SchedulerSessionRoutingTests.WaitUntilAsync(() => agent.Tasks.GetTask(genuine.Digest)?.State == TaskStates.Succeeded);
        var output = _dir.Combine("out", "app.bin");

        var waiter = await agent.Tasks.DownloadAsync(genuine.Digest, output, 0, CancellationToken.None).Within();
        var final = await LastAsync(waiter).Within();

        Assert.Equal(TaskStates.Failed, final.State);
        Assert.Contains("does not hash to it", final.Error, StringComparison.Ordinal);
        Assert.False(File.Exists(output));
    }

    /// <summary>The genuine artifact, a scheduler holding a forged manifest for it, and a parent serving the other bytes.</summary>
    private async Task<(TestArtifact Genuine, FakeScheduler Fake, TestPeer Parent)> ForgeAsync()
    {
        var genuine = await TestArtifact.CreateAsync(_dir.Path, 6 * TestArtifact.SmallPiece, seed: 1);
        var other = await TestArtifact.CreateAsync(_dir.Path, 6 * TestArtifact.SmallPiece, seed: 2);
        var forged = WithTopic(genuine.Manifest);
        forged.PieceDigests.Clear();
        forged.PieceDigests.AddRange(other.Manifest.PieceDigests);
        var fake = new FakeScheduler();
        fake.Manifests[forged.Digest] = forged;
        var parent = await TestPeer.StartAsync("forger");
        parent.Pieces.AddComplete(genuine.Digest, genuine.Layout, other.Path);
        return (genuine, fake, parent);
    }

    private static async Task<TaskInfo> LastAsync(DownloadWaiter waiter)
    {
        TaskInfo? last = null;
        await foreach (var info in waiter.Updates.Reader.ReadAllAsync().WithCancellation(CancellationToken.None))
        {
            last = info;
        }
        return last ?? throw new InvalidOperationException("the waiter ended without a snapshot");
    }
}
