using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Transfer.Pieces;
using Microsoft.Extensions.Time.Testing;

namespace Dragonfly.PubSub.Agent.Tests.Pieces;

public sealed class FirstRoundTests
{
    private static readonly ContentDigest Digest = ContentDigest.Parse("sha256:0000000000000000000000000000000000000000000000000000000000000003");
    private static readonly DigestKey Key = DigestKey.From(Digest);
    private const int PieceSize = 64 * 1024;
    private readonly FakeTimeProvider _time = new();

    [Fact]
    public void APieceSentToOnePeer_IsNotSentToAnother_UntilEveryPieceWentOutOnce()
    {
        var round = new FirstRound(3, _time);

        Assert.True(round.TryClaim(0, "a"));
        Assert.False(round.TryClaim(0, "b"));
        Assert.True(round.TryClaim(0, "a")); // a retry of the same receiver
        Assert.True(round.TryClaim(1, "b"));
        Assert.False(round.TryClaim(1, "c"));
        Assert.True(round.TryClaim(2, "c"));

        // Every piece went out once: repeats are served.
        Assert.True(round.TryClaim(0, "b"));
        Assert.True(round.TryClaim(1, "c"));
    }

    [Fact]
    public void AClaimNotSentAfterAll_IsFreeForTheNextRequester()
    {
        var round = new FirstRound(2, _time);

        Assert.True(round.TryClaim(0, "a"));
        round.Release(0, "a");

        Assert.True(round.TryClaim(0, "b"));
        Assert.False(round.TryClaim(0, "a"));
    }

    [Fact]
    public void WithoutNewPiecesAskedFor_RepeatsAreServedAfterTheStall()
    {
        // The first receiver of piece 0 left; the one left needs exactly that piece and nothing new.
        var round = new FirstRound(2, _time);
        Assert.True(round.TryClaim(0, "a"));
        Assert.False(round.TryClaim(0, "b"));

        _time.Advance(FirstRound.StallAfter);

        Assert.True(round.TryClaim(0, "b"));
    }

    [Fact]
    public void LocalPieces_HoldsTheRoundOnlyForAFirstCopy()
    {
        var pieces = new LocalPieces(_time);
        var layout = new PieceLayout(4L * PieceSize, PieceSize);
        pieces.AddComplete(Digest, layout, "/tmp/first-copy", firstCopy: true);

        Assert.True(pieces.TryClaimFirstRound(Key, PieceSize, "a"));
        Assert.False(pieces.TryClaimFirstRound(Key, PieceSize, "b"));

        // A copy downloaded from the swarm (not its first) serves repeats at once.
        pieces.AddComplete(Digest, layout, "/tmp/downloaded");
        Assert.True(pieces.TryClaimFirstRound(Key, PieceSize, "a"));
        Assert.True(pieces.TryClaimFirstRound(Key, PieceSize, "b"));

        // A source's download, once complete, is the first copy.
        pieces.AddPartial(Digest, layout, "/tmp/partial", new PieceBitmap(4));
        pieces.MoveToComplete(Digest, "/tmp/sourced", firstCopy: true);
        Assert.True(pieces.TryClaimFirstRound(Key, 0, "a"));
        Assert.False(pieces.TryClaimFirstRound(Key, 0, "b"));
    }

    [Fact]
    public void MoveToComplete_KeepsWhenThePiecesWereLastServed()
    {
        var pieces = new LocalPieces(_time);
        var layout = new PieceLayout(4L * PieceSize, PieceSize);
        var have = new PieceBitmap(4);
        have.Set(0);
        pieces.AddPartial(Digest, layout, "/tmp/partial", have);
        Assert.True(pieces.TryResolve(Key, 0, PieceSize, out _));
        var served = pieces.LastServed(Digest);
        Assert.NotNull(served);

        _time.Advance(TimeSpan.FromMinutes(1));
        pieces.MoveToComplete(Digest, "/tmp/done");

        Assert.Equal(served, pieces.LastServed(Digest));
    }
}
