using Dragonfly.PubSub.Broker.Scheduling;
using Dragonfly.PubSub.Broker.Swarm;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Contracts.Scheduler;
using Google.Protobuf;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using static Dragonfly.PubSub.Broker.Tests.Support.SessionOutbound;

namespace Dragonfly.PubSub.Broker.Tests.Scheduling;

/// <summary>
/// Parent sets in a task far larger than the candidate sample (the 5,000-agent case): what the sample may
/// and may not hand out, and that the per-set scratch the policy reuses never leaks from one set into the next.
/// </summary>
public sealed class SampledParentSetTests
{
    private const int Pieces = 64;
    private const int MaxParents = 4;
    private readonly Manifest _manifest = TestManifests.Create("sampled", Pieces);
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2025, 1, 1, 0, 0, 0, TimeSpan.Zero));
    private readonly SwarmCoordinator _coordinator;

    public SampledParentSetTests()
    {
        _coordinator = new SwarmCoordinator("broker-test", d => d == _manifest.Digest ? _manifest : null,
            new ParentSelectionPolicy(_time, new Random(11), MaxParents), _time, NullLogger<SwarmCoordinator>.Instance);
    }

    [Fact]
    public void LargeTask_ParentSetsNameOnlyMembersHoldingAPieceTheChildLacks()
    {
        // 400 members hold exactly what the child holds (useless to it), 5 hold piece 63 as well.
        var child = Join("child", TestManifests.Bitmap(Pieces, 0, 1, 2));
        for (var i = 0; i < 400; i++)
        {
            Join($"same{i}", TestManifests.Bitmap(Pieces, 0, 1, 2));
        }
        var useful = Enumerable.Range(0, 5).Select(i => $"useful{i}").ToHashSet();
        foreach (var id in useful)
        {
            Join(id, TestManifests.Bitmap(Pieces, 0, 1, 2, 63));
        }
        Drain(child);

        var named = 0;
        for (var request = 1UL; request <= 50; request++)
        {
            NeedParents(child, request);
            var set = Assert.Single(Drain(child), e => e.Parents?.RequestId == request).Parents;
            Assert.True(set.Parents.Count <= MaxParents, $"{set.Parents.Count} parents for MaxParents {MaxParents}");
            Assert.All(set.Parents, p => Assert.Contains(p.PeerId, useful));
            named += set.Parents.Count;
        }
        // The bounded sample (4 draws per slot) finds the rare useful members in some sets, not in all.
        Assert.True(named > 0, "no parent set named any of the useful members");
    }

    [Fact]
    public void LargeTask_LoadedMembersLoseToUnloadedOnesInEverySample()
    {
        // All 300 members are useful; holder0 and holder1 already serve ten children each (over all tasks).
        var child = Join("child", new PieceBitmap(Pieces));
        for (var i = 0; i < 300; i++)
        {
            Join($"holder{i}", TestManifests.Bitmap(Pieces, 10));
        }
        for (var c = 0; c < 10; c++)
        {
            _coordinator.Load.AddChild("holder0");
            _coordinator.Load.AddChild("holder1");
        }
        Drain(child);

        for (var request = 1UL; request <= 100; request++)
        {
            NeedParents(child, request);
            var chosen = Assert.Single(Drain(child), e => e.Parents?.RequestId == request).Parents.Parents.Select(p => p.PeerId).ToList();
            Assert.Equal(MaxParents, chosen.Count);
            Assert.DoesNotContain("holder0", chosen);
            Assert.DoesNotContain("holder1", chosen);
        }
    }

    [Fact]
    public void ParentSets_CarryTheParentsBitmapAsItIsNow_AfterItReportedAndAfterItJoinedAgain()
    {
        var parent = Join("parent", TestManifests.Bitmap(Pieces, 0));
        var child = Join("child", new PieceBitmap(Pieces));
        Drain(parent);
        Drain(child);

        NeedParents(child, 1);
        Assert.Equal(TestManifests.Bitmap(Pieces, 0).ToBytes(), BitmapOf(child, 1, "parent"));

        _coordinator.Apply(new SwarmCommand.Event(parent, new PeerEvent { PiecesFinished = new PiecesFinished { Digest = _manifest.Digest, Indexes = { 5 } } }));
        NeedParents(child, 2);
        Assert.Equal(TestManifests.Bitmap(Pieces, 0, 5).ToBytes(), BitmapOf(child, 2, "parent"));

        _coordinator.Apply(new SwarmCommand.Event(parent, new PeerEvent
        {
            Join = new JoinTask { Digest = _manifest.Digest, Bitmap = ByteString.CopyFrom(TestManifests.Bitmap(Pieces, 7).ToBytes()) },
        }));
        NeedParents(child, 3);
        Assert.Equal(TestManifests.Bitmap(Pieces, 7).ToBytes(), BitmapOf(child, 3, "parent"));
    }

    private static byte[] BitmapOf(PeerSession child, ulong requestId, string parentId) =>
        Assert.Single(Assert.Single(Drain(child), e => e.Parents?.RequestId == requestId).Parents.Parents, p => p.PeerId == parentId).Bitmap.ToByteArray();

    [Fact]
    public void Select_TwiceInARow_SecondResultOwesNothingToTheFirstsCandidates()
    {
        var policy = new ParentSelectionPolicy(_time, new Random(3), maxParents: 2);
        var child = new ChildProfile("child", new PieceBitmap(Pieces), "", "", new HashSet<string>());
        ParentCandidate Peer(string id, bool publisher = false) => new(id, PieceBitmap.Full(Pieces), publisher, "", "", 0, 4, []);

        var first = policy.Select(child, [Peer("a"), Peer("b"), Peer("pub1", publisher: true)]);
        var second = policy.Select(child, [Peer("c"), Peer("pub2", publisher: true)]);

        Assert.Equal(["a", "b", "pub1"], first.Select(c => c.PeerId).Order(StringComparer.Ordinal));
        Assert.Equal([new ParentChoice("c", LastResort: false), new ParentChoice("pub2", LastResort: true)], second);
        // The first answer is the caller's own list: the next Select did not change it.
        Assert.Equal(3, first.Count);
    }

    [Fact]
    public void PieceBitmapAsSpan_IsTheWireFormWithoutACopy()
    {
        var bitmap = TestManifests.Bitmap(Pieces, 1, 9);
        var span = bitmap.AsSpan();

        Assert.Equal(bitmap.ToBytes(), span.ToArray());
        bitmap.Set(2);
        Assert.Equal(bitmap.ToBytes(), bitmap.AsSpan().ToArray());
        Assert.Equal(0b110, span[0] & 0b110); // the span sees the bitmap, not a snapshot
    }

    private PeerSession Join(string peerId, PieceBitmap bitmap)
    {
        var session = new PeerSession(peerId, "10.0.0.1", 4000, uploadSlots: 4);
        _coordinator.Apply(new SwarmCommand.Connect(session));
        _coordinator.Apply(new SwarmCommand.Event(session, new PeerEvent
        {
            Join = new JoinTask { Digest = _manifest.Digest, Bitmap = ByteString.CopyFrom(bitmap.ToBytes()) },
        }));
        return session;
    }

    private void NeedParents(PeerSession session, ulong requestId) =>
        _coordinator.Apply(new SwarmCommand.Event(session, new PeerEvent { NeedParents = new NeedParents { Digest = _manifest.Digest, RequestId = requestId } }));

}
