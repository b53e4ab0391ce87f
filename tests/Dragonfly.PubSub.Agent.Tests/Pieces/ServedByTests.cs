using Dragonfly.PubSub.Agent.Tests.Support;
using Dragonfly.PubSub.Contracts;

namespace Dragonfly.PubSub.Agent.Tests.Pieces;

/// <summary>The fleet dashboard's who-serves-whom: each finished piece is reported with the peer it came from.</summary>
[Collection(MetricsCollection.Name)]
public sealed class ServedByTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Download_FromTwoParents_ReportsEachPieceWithThePeerThatServedIt()
    {
        var artifact = await TestArtifact.CreateAsync(_dir.Path, 12 * TestArtifact.SmallPiece);
        await using var first = await TestPeer.StartAsync("parent-a");
        await using var second = await TestPeer.StartAsync("parent-b");
        // Each parent holds half of the pieces: the reported parent of a piece is then fixed by who had it.
        var evens = new PieceBitmap(artifact.Layout.PieceCount);
        var odds = new PieceBitmap(artifact.Layout.PieceCount);
        for (var i = 0; i < artifact.Layout.PieceCount; i++)
        {
            (i % 2 == 0 ? evens : odds).Set(i);
        }
        first.Pieces.AddPartial(artifact.Digest, artifact.Layout, artifact.Path, evens);
        second.Pieces.AddPartial(artifact.Digest, artifact.Layout, artifact.Path, odds);
        await using var agent = new DownloadingAgent();
        var downloader = agent.CreateDownloader(artifact);
        downloader.UpdateParents([first.AsParent(evens), second.AsParent(odds)]);

        var outcome = await downloader.RunAsync(CancellationToken.None).Within();

        Assert.True(outcome.Succeeded, outcome.Error);
        var reported = agent.Reporter.ServedBy.OrderBy(p => p.Index).ToList();
        Assert.Equal(Enumerable.Range(0, 12), reported.Select(p => p.Index));
        Assert.All(reported, p => Assert.Equal(p.Index % 2 == 0 ? first.PeerId : second.PeerId, p.Parent));
    }
}
