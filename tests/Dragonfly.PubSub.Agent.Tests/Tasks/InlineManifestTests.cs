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
/// An announcement that carries its task's manifest lets the subscriber start without asking the scheduler
/// for it (one round trip less between the announcement and the first piece requested); one whose carried
/// manifest does not hold up is downloaded as before, with the scheduler's. The scheduler is a fake stream
/// whose GetManifest stays closed until the test opens it; the parent is a real piece server on loopback.
/// </summary>
[Collection(MetricsCollection.Name)]
public sealed class InlineManifestTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Announcement_CarryingItsManifest_DownloadsWithoutAskingTheSchedulerForIt()
    {
        var artifact = await TestArtifact.CreateAsync(_dir.Path, 9 * TestArtifact.SmallPiece + 3);
        // The gate stays closed: a run that waits on GetManifest never finishes.
        var (parent, fake) = await ParentAndSchedulerAsync(artifact);
        await using var _ = parent;
        var manifest = fake.Manifests[artifact.Manifest.Digest];
        await using var agent = await AgentUnderTest.StartAsync(_dir.Combine("agent"), fake);

        agent.Tasks.OnAnnouncement(AnnouncementOf(artifact) with { Manifest = manifest.ToInline(Announcement.DefaultInlineManifestMax) });
        fake.Push(ParentsOf(artifact, parent));

        await SchedulerSessionRoutingTests.WaitUntilAsync(() => agent.Tasks.GetTask(artifact.Digest)?.State == TaskStates.Succeeded);
        Assert.Equal(0, fake.ManifestRequests);
        var output = Path.Combine(agent.Options.OutputDir, "releases", "app", artifact.Manifest.Name);
        Assert.Equal(artifact.Bytes, await File.ReadAllBytesAsync(output));
    }

    [Theory]
    [InlineData("another task")]
    [InlineData("another layout")]
    [InlineData("not base64")]
    public async Task Announcement_CarryingAManifestThatDoesNotHoldUp_DownloadsWithTheSchedulersManifest(string flaw)
    {
        var artifact = await TestArtifact.CreateAsync(_dir.Path, 9 * TestArtifact.SmallPiece + 3, seed: 7);
        var other = await TestArtifact.CreateAsync(_dir.Path, 9 * TestArtifact.SmallPiece + 3, seed: 8);
        var (parent, fake) = await ParentAndSchedulerAsync(artifact);
        await using var _ = parent;
        var manifest = fake.Manifests[artifact.Manifest.Digest];
        var carried = flaw switch
        {
            // The digests of other bytes under this task's id would fail every piece: refused before any is asked for.
            "another task" => WithTopic(other.Manifest).ToInline(Announcement.DefaultInlineManifestMax),
            "another layout" => WithPieceSize(manifest, manifest.PieceSize * 2).ToInline(Announcement.DefaultInlineManifestMax),
            _ => "not a manifest!",
        };
        await using var agent = await AgentUnderTest.StartAsync(_dir.Combine("agent"), fake);

        agent.Tasks.OnAnnouncement(AnnouncementOf(artifact) with { Manifest = carried });
        await SchedulerSessionRoutingTests.WaitUntilAsync(() => fake.ManifestRequests > 0);
        fake.Push(ParentsOf(artifact, parent));
        fake.ManifestGate.SetResult();

        await SchedulerSessionRoutingTests.WaitUntilAsync(() => agent.Tasks.GetTask(artifact.Digest)?.State == TaskStates.Succeeded);
        Assert.Equal(1, fake.ManifestRequests);
        var output = Path.Combine(agent.Options.OutputDir, "releases", "app", artifact.Manifest.Name);
        Assert.Equal(artifact.Bytes, await File.ReadAllBytesAsync(output));
    }

    private static Manifest WithPieceSize(Manifest manifest, int pieceSize)
    {
        var copy = manifest.Clone();
        copy.PieceSize = pieceSize;
        copy.PieceDigests.Clear();
        copy.PieceDigests.AddRange(manifest.PieceDigests.Take(copy.Layout().PieceCount));
        return copy;
    }
}
