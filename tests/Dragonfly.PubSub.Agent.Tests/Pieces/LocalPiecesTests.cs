using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Transfer.Pieces;

namespace Dragonfly.PubSub.Agent.Tests.Pieces;

public sealed class LocalPiecesTests
{
    private static readonly ContentDigest Digest = ContentDigest.Parse("sha256:0000000000000000000000000000000000000000000000000000000000000001");
    private static readonly DigestKey Key = DigestKey.From(Digest);
    private static readonly PieceLayout Layout = new(10 * 65536 + 5, 65536);

    [Fact]
    public void Complete_ServesAnyRangeInsideTheFile()
    {
        var pieces = new LocalPieces();
        pieces.AddComplete(Digest, Layout, "/data/complete");

        Assert.True(pieces.TryResolve(Key, 0, 65536, out var path));
        Assert.Equal("/data/complete", path);
        Assert.True(pieces.TryResolve(Key, Layout.Size - 5, 5, out _));
        Assert.False(pieces.TryResolve(Key, Layout.Size - 5, 6, out _));
        Assert.False(pieces.TryResolve(Key, -1, 10, out _));
        Assert.False(pieces.TryResolve(Key, 0, 0, out _));
        Assert.True(pieces.IsComplete(Digest));
    }

    [Fact]
    public void Partial_ServesOnlyRangesWhosePiecesAreAllHere()
    {
        var pieces = new LocalPieces();
        var have = new PieceBitmap(Layout.PieceCount);
        have.Set(1);
        pieces.AddPartial(Digest, Layout, "/data/partial", have);

        Assert.True(pieces.TryResolve(Key, 65536, 65536, out _));
        Assert.False(pieces.TryResolve(Key, 65536 + 100, 65536, out _)); // spills into piece 2
        Assert.False(pieces.TryResolve(Key, 0, 1, out _));

        pieces.MarkPiece(Digest, 2);
        Assert.True(pieces.TryResolve(Key, 65536 + 100, 65536, out _));
        pieces.UnmarkPiece(Digest, 2);
        Assert.False(pieces.TryResolve(Key, 2 * 65536, 1, out _));
    }

    [Fact]
    public void MoveToComplete_SwitchesPathAndServesEverything()
    {
        var pieces = new LocalPieces();
        pieces.AddPartial(Digest, Layout, "/data/partial", new PieceBitmap(Layout.PieceCount));

        pieces.MoveToComplete(Digest, "/data/content");

        Assert.True(pieces.TryResolve(Key, 0, 65536, out var path));
        Assert.Equal("/data/content", path);
    }

    [Fact]
    public void Remove_StopsServing_AndUnknownDigestsAreIgnored()
    {
        var pieces = new LocalPieces();
        pieces.AddComplete(Digest, Layout, "/data/complete");
        pieces.Remove(Digest);

        Assert.False(pieces.TryResolve(Key, 0, 1, out _));
        pieces.MarkPiece(Digest, 0);
        pieces.MoveToComplete(Digest, "/x");
        Assert.False(pieces.Contains(Digest));
        Assert.Equal(0, pieces.Count);
    }
}
