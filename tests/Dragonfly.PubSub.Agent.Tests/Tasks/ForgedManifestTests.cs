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
    private TestArtifact? _other;

    public void Dispose() => _dir.Dispose();

    /// <param name="chain">
    /// What SHA-256 chain the forged manifest lists: the genuine one (the first piece matches its forged digest
    /// but not the chain, so the download drops the chain), the forger's own, consistent with the other bytes
    /// (every piece passes but the last, which must finish into the content id), or none. In every case the
    /// whole-file hash at the end refuses the other bytes.
    /// </param>
    [Theory]
    [InlineData("genuine")]
    [InlineData("forged")]
    [InlineData("none")]
    public async Task DownloadByDigest_OfAForgedManifest_FailsAndWritesNothing(string chain)
    {
        var (genuine, fake, parent) = await ForgeAsync();
        var forged = fake.Manifests[genuine.Digest.ToString()];
        if (chain != "genuine")
        {
            forged.PieceChain.Clear();
        }
        if (chain == "forged")
        {
            forged.PieceChain.AddRange(_other!.Manifest.PieceChain);
        }
        await using var _ = parent;
        await using var agent = await AgentUnderTest.StartAsync(_dir.Combine("agent"), fake);
        var output = _dir.Combine("out", "app.bin");

        var waiter = await agent.Tasks.DownloadAsync(genuine.Digest, output, 0, CancellationToken.None).Within();
        fake.Push(ParentsOf(genuine, parent));
        var final = await LastAsync(waiter).Within();

        Assert.Equal(TaskStates.Failed, final.State);
        Assert.Contains("not to its content id", final.Error, StringComparison.Ordinal);
        Assert.False(File.Exists(output));
        Assert.Empty(Directory.EnumerateFiles(_dir.Combine("agent"), genuine.Digest.Hex, SearchOption.AllDirectories));
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
        _other = other;
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
