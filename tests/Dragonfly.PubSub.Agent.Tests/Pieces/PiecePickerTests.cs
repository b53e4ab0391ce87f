using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Transfer.Pieces;
using Dragonfly.PubSub.Transfer.Swarm;

namespace Dragonfly.PubSub.Agent.Tests.Pieces;

public sealed class PiecePickerTests
{
    private static readonly TimeSpan Now = TimeSpan.FromSeconds(1);

    [Fact]
    public void TryPick_WithOneParent_GoesInOrderFromTheFirstPiece()
    {
        var picker = new PiecePicker(10, maxInFlight: 8, new Random(3), Bits(10, 1), parentLimit: 8);
        picker.SetParents([Parent("a", Full(10))]);

        var picked = PickAll(picker);

        Assert.Equal([0, 2, 3, 4, 5, 6, 7, 8], picked.Select(p => p.Index));
    }

    [Fact]
    public void TryPick_WithSeveralParents_GoesInOrderFromARandomStart()
    {
        var picker = new PiecePicker(10, maxInFlight: 6, new Random(3), parentLimit: 3);
        picker.SetParents([Parent("a", Full(10)), Parent("b", Full(10))]);

        var picked = PickAll(picker);

        Assert.Equal(Enumerable.Range(0, 6).Select(k => (picker.RandomStart + k) % 10), picked.Select(p => p.Index));
        var starts = Enumerable.Range(0, 20).Select(seed => new PiecePicker(100, 1, new Random(seed)).RandomStart).Distinct().Count();
        Assert.True(starts >= 15, $"only {starts} distinct starts over 20 agents");
    }

    [Fact]
    public void TryPick_AmongEquallyLoadedHolders_SpreadsOverThem_NotTheFirstInTheSchedulersOrder()
    {
        var picker = new PiecePicker(40, maxInFlight: 1, new Random(7));
        picker.SetParents([Parent("a", Full(40)), Parent("b", Full(40)), Parent("c", Full(40))]);
        var chosen = new Dictionary<string, int>();

        for (var k = 0; k < 30; k++)
        {
            Assert.True(picker.TryPick(Now, out var index, out var parent));
            chosen[parent.PeerId] = chosen.GetValueOrDefault(parent.PeerId) + 1;
            picker.Finished(index, parent.PeerId, FetchStatus.Ok, Now);
            picker.MarkDone(index);
        }

        // Each request finds all three idle: every one of them must get some (the first alone would get 30).
        Assert.Equal(3, chosen.Count);
        Assert.All(chosen.Values, n => Assert.InRange(n, 3, 24));
    }

    [Fact]
    public void TryPick_AsksEachParentForTheRarestPieceItHolds()
    {
        for (var seed = 0; seed < 10; seed++)
        {
            var picker = new PiecePicker(4, maxInFlight: 3, new Random(seed), parentLimit: 1);
            picker.SetParents([Parent("a", Bits(4, 0, 1, 2, 3)), Parent("b", Bits(4, 0, 1, 3)), Parent("c", Bits(4, 0, 3))]);

            var picked = PickAll(picker).ToDictionary(p => p.PeerId, p => p.Index);

            // Whichever parent comes first: piece 2 (only a holds it) from a, 1 (held by two) from b.
            Assert.Equal(2, picked["a"]);
            Assert.Equal(1, picked["b"]);
            Assert.Contains(picked["c"], new[] { 0, 3 });
        }
    }

    [Fact]
    public void TryPick_KeepsEveryParentWithUsefulPiecesBusy_NotOnlyTheHoldersOfTheRarest()
    {
        // "rare" holds pieces nobody else has; the others hold only common ones. Piece first, "rare" would
        // get three of the four requests (its per-parent limit); parent first, each parent gets one.
        var picker = new PiecePicker(8, maxInFlight: 4, new Random(2), parentLimit: 3);
        picker.SetParents([Parent("rare", Bits(8, 0, 1, 2, 3)), Parent("x", Bits(8, 4, 5, 6, 7)), Parent("y", Bits(8, 4, 5, 6, 7)), Parent("z", Bits(8, 4, 5, 6, 7))]);

        var picked = PickAll(picker);

        Assert.Equal(["rare", "x", "y", "z"], picked.Select(p => p.PeerId).Order());
        Assert.Contains(picked.Single(p => p.PeerId == "rare").Index, new[] { 0, 1, 2, 3 });
    }

    [Fact]
    public void TryPick_UsesLastResortOnlyForPiecesNoOtherParentHolds()
    {
        var picker = new PiecePicker(6, maxInFlight: 8, new Random(5));
        picker.SetParents([Parent("pub", Full(6), lastResort: true), Parent("peer", Bits(6, 0, 1, 2, 3))]);

        var picked = PickAll(picker);

        // With another parent around, the publisher gets one request at a time.
        var fromPublisher = Assert.Single(picked, p => p.PeerId == "pub");
        Assert.True(fromPublisher.Index >= 4);
        Assert.All(picked.Where(p => p.PeerId == "peer"), p => Assert.True(p.Index < 4));
        Assert.Equal(3, picked.Count(p => p.PeerId == "peer"));
    }

    [Fact]
    public void TryPick_WithPeers_SpreadsLastResortRequestsAtRandom()
    {
        var chosen = new HashSet<int>();
        for (var seed = 0; seed < 20; seed++)
        {
            var picker = new PiecePicker(64, maxInFlight: 8, new Random(seed));
            picker.SetParents([Parent("pub", Full(64), lastResort: true), Parent("peer", new PieceBitmap(64))]);
            var picked = Assert.Single(PickAll(picker));
            Assert.Equal("pub", picked.PeerId);
            chosen.Add(picked.Index);
        }

        Assert.True(chosen.Count >= 15, $"only {chosen.Count} distinct pieces over 20 agents");
    }

    [Fact]
    public void TryPick_AloneWithTheLastResort_AsksItForAFewPiecesInOrder()
    {
        var picker = new PiecePicker(10, maxInFlight: 8, new Random(3));
        picker.SetParents([Parent("pub", Full(10), lastResort: true)]);

        var picked = PickAll(picker);

        Assert.Equal(Enumerable.Range(0, PiecePicker.DefaultLastResortLimit), picked.Select(p => p.Index));
        Assert.All(picked, p => Assert.Equal("pub", p.PeerId));
    }

    [Fact]
    public void TryPick_WhenTheOnlyOtherHolderIsBackedOff_FallsBackToLastResort()
    {
        var picker = new PiecePicker(2, maxInFlight: 8, new Random(5));
        picker.SetParents([Parent("pub", Full(2), lastResort: true), Parent("peer", Full(2))]);
        Assert.True(picker.TryPick(Now, out var first, out var firstParent));
        Assert.Equal("peer", firstParent.PeerId);
        picker.Finished(first, "peer", FetchStatus.Unreachable, Now);

        var picked = PickAll(picker);

        var fromPublisher = Assert.Single(picked);
        Assert.Equal("pub", fromPublisher.PeerId);
        // Once the back-off is over, the peer serves the other piece again.
        Assert.False(picker.TryPick(Now + PiecePicker.BaseBackoff - TimeSpan.FromMilliseconds(1), out _, out _));
        Assert.True(picker.TryPick(Now + PiecePicker.BaseBackoff, out var again, out var peer));
        Assert.Equal("peer", peer.PeerId);
        Assert.NotEqual(fromPublisher.Index, again);
    }

    [Fact]
    public void TryPick_InEndgame_DuplicatesOutstandingPiecesToAnotherParent()
    {
        var picker = new PiecePicker(2, maxInFlight: 8, new Random(1), parentLimit: 1);
        picker.SetParents([Parent("a", Full(2)), Parent("b", Full(2))]);
        var first = PickAll(picker);
        Assert.Equal(2, first.Count);
        Assert.NotEqual(first[0].PeerId, first[1].PeerId);
        picker.Finished(first[0].Index, first[0].PeerId, FetchStatus.Ok, Now);
        picker.MarkDone(first[0].Index);

        var endgame = PickAll(picker);

        // The parent that finished now also asks for the piece still outstanding at the other.
        var duplicate = Assert.Single(endgame);
        Assert.Equal(first[1].Index, duplicate.Index);
        Assert.Equal(first[0].PeerId, duplicate.PeerId);
    }

    [Fact]
    public void Finished_Corrupt_BansTheParentForTheTask()
    {
        var picker = new PiecePicker(4, maxInFlight: 8, new Random(2));
        picker.SetParents([Parent("bad", Full(4))]);
        Assert.True(picker.TryPick(Now, out var index, out _));
        picker.Finished(index, "bad", FetchStatus.Corrupt, Now);

        Assert.False(picker.TryPick(Now, out _, out _));
        picker.SetParents([Parent("bad", Full(4))]);
        Assert.True(picker.IsBanned("bad"));
        Assert.False(picker.TryPick(Now, out _, out _));
    }

    [Fact]
    public void Finished_Missing_ForgetsThatTheParentHasThePiece()
    {
        var picker = new PiecePicker(1, maxInFlight: 8, new Random(2));
        picker.SetParents([Parent("a", Full(1))]);
        Assert.True(picker.TryPick(Now, out var index, out _));
        picker.Finished(index, "a", FetchStatus.Missing, Now);

        Assert.False(picker.TryPick(Now, out _, out _));
        picker.AddAvailable("a", [0]);
        Assert.True(picker.TryPick(Now, out _, out _));
    }

    [Fact]
    public void Finished_Busy_DefersThatPieceAtThatParentForAMoment()
    {
        var picker = new PiecePicker(2, maxInFlight: 8, new Random(2));
        picker.SetParents([Parent("seed", Full(2))]);
        var first = PickAll(picker);
        Assert.Equal(2, first.Count);
        picker.Finished(first[0].Index, "seed", FetchStatus.Busy, Now);

        Assert.Empty(PickAll(picker));
        var later = Now + PiecePicker.BusyDefer;
        Assert.True(picker.TryPick(later, out var index, out _));
        Assert.Equal(first[0].Index, index);
    }

    [Fact]
    public void Finished_Full_PausesThatParentButItStillCountsAsHolder()
    {
        var picker = new PiecePicker(4, maxInFlight: 8, new Random(2));
        picker.SetParents([Parent("pub", Full(4), lastResort: true), Parent("peer", Full(4))]);
        Assert.True(picker.TryPick(Now, out var index, out var parent));
        Assert.Equal("peer", parent.PeerId);
        picker.Finished(index, "peer", FetchStatus.Full, Now);

        // The publisher is not asked for what the paused peer holds.
        Assert.Empty(PickAll(picker));
        Assert.Equal(3, PickAll(picker, Now + PiecePicker.FullDefer).Count);
    }

    [Fact]
    public void TryPick_RespectsThePerParentLimitAndTheWindow()
    {
        var picker = new PiecePicker(20, maxInFlight: 4, new Random(2), parentLimit: 3);
        picker.SetParents([Parent("a", Full(20)), Parent("b", Full(20))]);

        var picked = PickAll(picker);

        Assert.Equal(4, picked.Count);
        Assert.Equal(2, picked.Count(p => p.PeerId == "a"));
        Assert.Equal(4, picked.Select(p => p.Index).Distinct().Count());
    }

    [Fact]
    public void TryPick_SkipsPiecesAlreadyDone()
    {
        var done = Bits(5, 0, 1, 2, 4);
        var picker = new PiecePicker(5, maxInFlight: 8, new Random(2), done);
        picker.SetParents([Parent("a", Full(5))]);

        var picked = PickAll(picker);

        Assert.Equal([3], picked.Select(p => p.Index));
    }

    [Fact]
    public void TryPick_NeverAsksAPeerForAPieceWhoseDigestIsUnknown()
    {
        bool[] unknown = [true, false, true, false];
        var picker = new PiecePicker(4, maxInFlight: 8, new Random(1), parentLimit: 8, unknown: unknown);
        picker.SetParents([Parent("a", Full(4)), Parent("pub", Full(4), lastResort: true)]);

        Assert.Equal([1, 3], PickAll(picker).Select(p => p.Index).Order());

        picker.DigestKnown(2);
        var later = Assert.Single(PickAll(picker));
        Assert.Equal((2, "a"), later);
    }

    [Fact]
    public void TryPick_AsTheSource_ReadsInOrderWhatNoParentCanSend_UpToTheWindow()
    {
        bool[] unknown = [false, false, false, true, true, true, true, true, true, true];
        var picker = new PiecePicker(10, maxInFlight: 6, new Random(4), parentLimit: 2, unknown: unknown);
        // The peer holds 0-4 but piece 3 and 4 have no digest yet: only the origin can deliver those.
        picker.SetParents([Parent("peer", Bits(10, 0, 1, 2, 3, 4))]);
        picker.SetSource(true);

        var picked = PickAll(picker);

        Assert.Equal(6, picked.Count);
        Assert.Equal(2, picked.Count(p => p.PeerId == "peer"));
        Assert.All(picked.Where(p => p.PeerId == "peer"), p => Assert.True(p.Index < 3));
        Assert.Equal([3, 4, 5, 6], picked.Where(p => p.PeerId == PiecePicker.SourceId).Select(p => p.Index));
        Assert.Equal(4, picker.SourceInFlight);
    }

    [Fact]
    public void TryPick_AsTheSource_LeavesWhatAnyParentHoldsToThatParent()
    {
        var picker = new PiecePicker(4, maxInFlight: 8, new Random(4));
        picker.SetParents([Parent("pub", Bits(4, 0, 1), lastResort: true), Parent("peer", Bits(4, 2))]);
        picker.SetSource(true);

        var picked = PickAll(picker);

        Assert.Equal([(3, PiecePicker.SourceId)], picked.Where(p => p.PeerId == PiecePicker.SourceId));
        Assert.DoesNotContain(picked, p => p.PeerId == PiecePicker.SourceId && p.Index != 3);
        Assert.True(picker.TryPick(Now, out _, out _) is false);
    }

    [Fact]
    public void SetSource_False_StopsNewSourceRequests_AndAParentSetDoesNotDropTheSource()
    {
        var picker = new PiecePicker(4, maxInFlight: 8, new Random(4));
        picker.SetSource(true);
        picker.SetParents([]);
        Assert.True(picker.TryPick(Now, out var index, out var parent));
        Assert.True(parent.Source);
        Assert.Equal(0, index);

        picker.SetSource(false);
        Assert.False(picker.TryPick(Now, out _, out _));
        picker.Finished(index, parent.PeerId, FetchStatus.Canceled, Now);
        Assert.Equal(0, picker.InFlight);
        Assert.Equal(0, picker.SourceInFlight);
    }

    private static List<(int Index, string PeerId)> PickAll(PiecePicker picker, TimeSpan? at = null)
    {
        var picked = new List<(int, string)>();
        while (picker.TryPick(at ?? Now, out var index, out var parent))
        {
            picked.Add((index, parent.PeerId));
        }
        return picked;
    }

    private static ParentPeer Parent(string id, PieceBitmap bitmap, bool lastResort = false) => new(id, "127.0.0.1", 1, bitmap, lastResort);

    private static PieceBitmap Full(int count) => PieceBitmap.Full(count);

    private static PieceBitmap Bits(int count, params int[] set)
    {
        var bitmap = new PieceBitmap(count);
        foreach (var i in set)
        {
            bitmap.Set(i);
        }
        return bitmap;
    }
}
