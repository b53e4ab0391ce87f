using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Transfer.Pieces;
using Microsoft.Extensions.Time.Testing;

namespace Dragonfly.PubSub.Agent.Tests.Pieces;

public sealed class LocalPiecesTests
{
    private static readonly ContentDigest Digest = ContentDigest.Parse("sha256:0000000000000000000000000000000000000000000000000000000000000001");
    private static readonly DigestKey Key = DigestKey.From(Digest);
    private static readonly PieceLayout Layout = new(10 * 65536 + 5, 65536);

    [Fact]
    public async Task MapPoll_WithinTheGapAfterTheLastAnswer_WaitsForItsEnd_ThenAnswersWithEverythingNew()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UnixEpoch);
        var pieces = new LocalPieces(time);
        pieces.AddPartial(Digest, Layout, "/data/partial", new PieceBitmap(Layout.PieceCount));
        var first = await pieces.WaitForMapAsync(Key, 0, TimeSpan.FromSeconds(10), CancellationToken.None);
        Assert.NotNull(first); // a version the client does not hold: at once
        var gapEnds = time.GetTimestamp() + time.TimestampFrequency; // the answer went now; the next not before 1 s

        pieces.MarkPiece(Digest, 1);
        var next = pieces.WaitForMapAsync(Key, first.Value.Version, TimeSpan.FromSeconds(10), CancellationToken.None, gapEnds).AsTask();
        pieces.MarkPiece(Digest, 2);
        Assert.False(next.IsCompleted);

        time.Advance(TimeSpan.FromSeconds(1));
        var answer = await next;
        Assert.NotNull(answer);
        var map = PieceBitmap.FromBytes(answer.Value.Bytes, Layout.PieceCount);
        Assert.True(map[1] && map[2] && !map[0]); // both pieces of the gap in one answer
    }

    [Fact]
    public async Task MapPoll_WithoutAChange_IsAnsweredWithTheSameVersionAfterTheWait()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UnixEpoch);
        var pieces = new LocalPieces(time);
        pieces.AddPartial(Digest, Layout, "/data/partial", new PieceBitmap(Layout.PieceCount));
        var known = (await pieces.WaitForMapAsync(Key, 0, TimeSpan.FromSeconds(10), CancellationToken.None))!.Value.Version;

        var poll = pieces.WaitForMapAsync(Key, known, TimeSpan.FromSeconds(10), CancellationToken.None).AsTask();
        time.Advance(TimeSpan.FromSeconds(9));
        Assert.False(poll.IsCompleted);
        time.Advance(TimeSpan.FromSeconds(1));

        var same = await poll;
        Assert.NotNull(same);
        Assert.Equal(known, same.Value.Version);
        Assert.Null(await pieces.WaitForMapAsync(DigestKey.From(ContentDigest.Parse("sha256:" + new string('2', 64))), 0, TimeSpan.FromSeconds(10), CancellationToken.None));
    }

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
