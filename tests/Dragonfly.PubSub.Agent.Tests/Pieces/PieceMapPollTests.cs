using System.Threading.Channels;
using Dragonfly.PubSub.Agent.Tests.Support;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Transfer;
using Dragonfly.PubSub.Transfer.Pieces;
using Microsoft.Extensions.Logging.Abstractions;

namespace Dragonfly.PubSub.Agent.Tests.Pieces;

/// <summary>
/// Piece-map polls (issue 10): a child hears of its parent's pieces from the parent, over the peer protocol,
/// the moment the parent has them, instead of through the broker.
/// </summary>
[Collection(MetricsCollection.Name)]
public sealed class PieceMapPollTests : IAsyncLifetime
{
    private readonly TempDirectory _dir = new();
    private TestArtifact _artifact = null!;
    private TestPeer _parent = null!;
    private PieceFetcher _fetcher = null!;

    public async Task InitializeAsync()
    {
        _artifact = await TestArtifact.CreateAsync(_dir.Path, 12 * TestArtifact.SmallPiece + 100);
        _parent = await TestPeer.StartAsync("parent");
        _fetcher = new PieceFetcher(new TransferOptions { DataDir = _dir.Path }, NullLogger<PieceFetcher>.Instance);
    }

    public async Task DisposeAsync()
    {
        await _fetcher.DisposeAsync();
        await _parent.DisposeAsync();
        _dir.Dispose();
    }

    [Fact]
    public async Task Watch_OfAPartialParent_HearsEachNewPieceThenTheCompleteMapAndStops()
    {
        var pieces = _artifact.Layout.PieceCount;
        _parent.Pieces.AddPartial(_artifact.Digest, _artifact.Layout, _artifact.Path, Holding(pieces, 0, 9));
        var maps = Channel.CreateUnbounded<PieceBitmap>();
        var watch = _fetcher.WatchMapAsync("127.0.0.1", _parent.Port, "parent", DigestKey.From(_artifact.Digest),
            map => maps.Writer.TryWrite(PieceBitmap.FromBytes(map, pieces)), CancellationToken.None);

        var firstMap = await maps.Reader.ReadAsync().AsTask().Within();
        Assert.Equal(new[] { 0, 9 }, Set(firstMap));

        // Answered when the map changes, not after the poll's 10 s wait.
        var asked = DateTime.UtcNow;
        _parent.Pieces.MarkPiece(_artifact.Digest, 4);
        var secondMap = await maps.Reader.ReadAsync().AsTask().Within();
        Assert.Equal(new[] { 0, 4, 9 }, Set(secondMap));
        Assert.True(DateTime.UtcNow - asked < PieceProtocol.MapPollWait, "the poll waited for its timeout, not for the change");

        _parent.Pieces.MoveToComplete(_artifact.Digest, _artifact.Path);
        Assert.True((await maps.Reader.ReadAsync().AsTask().Within()).IsComplete);
        await watch.Within(); // a complete parent gains nothing more: the watch ends by itself
    }

    [Fact]
    public async Task Watch_OfATaskTheParentDoesNotHold_GivesUpWithoutAMap()
    {
        var maps = 0;

        await _fetcher.WatchMapAsync("127.0.0.1", _parent.Port, "parent", DigestKey.From(_artifact.Digest),
            _ => maps++, CancellationToken.None, backoff: TimeSpan.FromMilliseconds(10)).Within();

        Assert.Equal(0, maps);
    }

    [Fact]
    public async Task ParentMapWatches_HandTheLoopOnlyThePiecesAParentAdded_AndStopWhenItLeaves()
    {
        var pieces = _artifact.Layout.PieceCount;
        _parent.Pieces.AddPartial(_artifact.Digest, _artifact.Layout, _artifact.Path, Holding(pieces, 1, 2));
        var gained = Channel.CreateUnbounded<(string Peer, int[] Indexes)>();
        using var watches = new ParentMapWatches(_fetcher, DigestKey.From(_artifact.Digest), "me", (peer, indexes) => gained.Writer.TryWrite((peer, indexes)));

        // A complete parent and the agent itself need no watch.
        await using var seed = await TestPeer.StartAsync("seed");
        watches.Follow([_parent.AsParent(Holding(pieces, 1)), seed.AsParent(PieceBitmap.Full(pieces)), new("me", "127.0.0.1", 1, new PieceBitmap(pieces), false)], CancellationToken.None);
        Assert.Equal(1, watches.Count);

        var first = await gained.Reader.ReadAsync().AsTask().Within();
        Assert.Equal("parent", first.Peer);
        Assert.Equal(new[] { 1, 2 }, first.Indexes);
        _parent.Pieces.MarkPiece(_artifact.Digest, 7);
        var next = await gained.Reader.ReadAsync().AsTask().Within();
        Assert.Equal(new[] { 7 }, next.Indexes);

        watches.Follow([], CancellationToken.None);
        Assert.Equal(0, watches.Count);
    }

    [Fact]
    public async Task Download_FromAPartialParent_FinishesOnItsPieceMapAlone_WithoutBrokerNews()
    {
        var pieces = _artifact.Layout.PieceCount;
        _parent.Pieces.AddPartial(_artifact.Digest, _artifact.Layout, _artifact.Path, Holding(pieces, 0));
        await using var agent = new DownloadingAgent();
        var downloader = agent.CreateDownloader(_artifact);
        // The scheduler's view: the parent holds piece 0. No PiecesAvailable ever follows.
        downloader.UpdateParents([_parent.AsParent(Holding(pieces, 0))]);
        var run = downloader.RunAsync(CancellationToken.None);
        await TestTimeout.UntilAsync(() => downloader.Progress.CompletedPieces == 1, "piece 0 downloaded");

        for (var i = 1; i < pieces; i++)
        {
            _parent.Pieces.MarkPiece(_artifact.Digest, i);
        }

        var outcome = await run.Within();
        Assert.True(outcome.Succeeded, outcome.Error);
        Assert.Equal(_artifact.Bytes, await File.ReadAllBytesAsync(agent.Content.ContentPath(_artifact.Digest)));
    }

    [Fact]
    public async Task Download_WithPieceNewsFromTheBroker_FinishesOnTheBrokersNews()
    {
        var pieces = _artifact.Layout.PieceCount;
        _parent.Pieces.AddPartial(_artifact.Digest, _artifact.Layout, _artifact.Path, Holding(pieces, 0));
        await using var agent = new DownloadingAgent(new TransferOptions { DataDir = Path.Combine(_dir.Path, "agent"), FollowParentMaps = false });
        var downloader = agent.CreateDownloader(_artifact);
        downloader.UpdateParents([_parent.AsParent(Holding(pieces, 0))]);
        using var cts = new CancellationTokenSource();
        var run = downloader.RunAsync(cts.Token);
        await TestTimeout.UntilAsync(() => downloader.Progress.CompletedPieces == 1, "piece 0 downloaded");
        for (var i = 1; i < pieces; i++)
        {
            _parent.Pieces.MarkPiece(_artifact.Digest, i);
        }

        // --piece-news broker: the broker's news tells it of the new pieces.
        downloader.PiecesAvailable("parent", [.. Enumerable.Range(1, pieces - 1)]);
        var outcome = await run.Within();
        Assert.True(outcome.Succeeded, outcome.Error);
    }

    private static PieceBitmap Holding(int pieces, params int[] indexes)
    {
        var bitmap = new PieceBitmap(pieces);
        foreach (var i in indexes)
        {
            bitmap.Set(i);
        }
        return bitmap;
    }

    private static int[] Set(PieceBitmap bitmap) => [.. Enumerable.Range(0, bitmap.PieceCount).Where(i => bitmap[i])];
}
