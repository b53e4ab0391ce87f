using System.Diagnostics;
using Dragonfly.PubSub.Broker.Diagnostics;
using Dragonfly.PubSub.Broker.Scheduling;
using Dragonfly.PubSub.Broker.Swarm;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Contracts.Scheduler;
using Google.Protobuf;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using static Dragonfly.PubSub.Broker.Tests.Support.SessionOutbound;

namespace Dragonfly.PubSub.Broker.Tests.Swarm;

/// <summary>Drives the coordinator's command handler directly: no network, no background loop.</summary>
public sealed class SwarmCoordinatorTests
{
    private const int Pieces = 8;
    private readonly Manifest _manifest = TestManifests.Create("artifact", Pieces);
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2025, 1, 1, 0, 0, 0, TimeSpan.Zero));
    private readonly SwarmCoordinator _coordinator;

    public SwarmCoordinatorTests()
    {
        _coordinator = new SwarmCoordinator(
            "broker-test",
            digest => digest == _manifest.Digest ? _manifest : null,
            new ParentSelectionPolicy(_time, new Random(7), maxParents: 2),
            _time,
            NullLogger<SwarmCoordinator>.Instance);
    }

    [Fact]
    public void Join_WhenIncomplete_SendsParentSetWithPublisherAsLastResort()
    {
        var publisher = Connect("pub", 4000);
        Join(publisher, PieceBitmap.Full(Pieces), isPublisher: true);
        var child = Connect("a", 4100);

        Join(child, new PieceBitmap(Pieces));

        var set = Assert.Single(Drain(child)).Parents;
        var parent = Assert.Single(set.Parents);
        Assert.Equal(("pub", "10.0.0.1", 4000, true), (parent.PeerId, parent.Host, parent.Port, parent.LastResort));
        Assert.Equal(PieceBitmap.Full(Pieces).ToBytes(), parent.Bitmap.ToByteArray());
        Assert.Empty(Drain(publisher));
    }

    [Fact]
    public void Join_WhenDigestUnknown_IsNotCounted_AndThePeerIsToldSo()
    {
        var peer = Connect("a", 4100);
        var unknown = TestManifests.Create("other", 2).Digest;

        _coordinator.Apply(new SwarmCommand.Event(peer, new PeerEvent { Join = new JoinTask { Digest = unknown } }));

        var told = Assert.Single(Drain(peer));
        Assert.Equal(unknown, told.NotJoined?.Digest);
        Assert.Empty(Snapshot().TaskPeers);
    }

    /// <summary>
    /// A peer whose Join this broker never counted (it went to a broker that did not know the task yet) and that
    /// keeps asking for parents: it is told it is not a member, once per gap however often it asks, so that it
    /// joins again instead of asking a broker that ignores it (CI, 2026-12-07: three minutes of NeedParents).
    /// </summary>
    [Fact]
    public void ReportsAboutATaskThePeerHasNotJoined_AreAnsweredWithNotJoined_OncePerGap()
    {
        var publisher = Connect("pub", 4000);
        Join(publisher, PieceBitmap.Full(Pieces), isPublisher: true);
        var stranger = Connect("a", 4100);

        for (var i = 0; i < 3; i++)
        {
            _coordinator.Apply(new SwarmCommand.Event(stranger, new PeerEvent { NeedParents = new NeedParents { Digest = _manifest.Digest } }));
        }
        Report(stranger, 0);

        var told = Assert.Single(Drain(stranger));
        Assert.Equal(_manifest.Digest, told.NotJoined?.Digest);
        Assert.DoesNotContain("a", Snapshot().TaskPeers[_manifest.Digest].Select(p => p.PeerId));

        // Joined, it gets parents like anyone else, and nothing more about not being a member.
        Join(stranger, new PieceBitmap(Pieces));
        var events = Drain(stranger);
        Assert.Contains(events, e => e.Parents is { } set && set.Parents.Any(p => p.PeerId == "pub"));
        Assert.DoesNotContain(events, e => e.NotJoined is not null);
    }

    [Fact]
    public void Join_WhenSeedJoinsLate_IncompletePeersGetItAtOnce()
    {
        var child = Connect("a", 4100);
        Join(child, new PieceBitmap(Pieces));
        Assert.Empty(Assert.Single(Drain(child)).Parents.Parents);

        var seed = Connect("seed", 4200);
        Join(seed, PieceBitmap.Full(Pieces), isPublisher: true);

        var set = Assert.Single(Drain(child)).Parents;
        Assert.Equal("seed", Assert.Single(set.Parents).PeerId);
    }

    [Fact]
    public void PiecesFinished_OffersTheReporterAsParent_ThenSendsPieceAvailableToItsChildrenOnly()
    {
        var publisher = Connect("pub", 4000);
        Join(publisher, PieceBitmap.Full(Pieces), isPublisher: true);
        var a = Connect("a", 4100);
        Join(a, new PieceBitmap(Pieces));
        var b = Connect("b", 4200);
        Join(b, new PieceBitmap(Pieces));
        Drain(a);
        Drain(b);

        _coordinator.Apply(new SwarmCommand.Event(a, new PeerEvent
        {
            PiecesFinished = new PiecesFinished { Digest = _manifest.Digest, Indexes = { 0, 1 } },
        }));

        // b was not a's child: no piece news, but a fresh parent set that carries a's bitmap.
        var parents = Assert.Single(Drain(b)).Parents;
        Assert.Equal(["a", "pub"], parents.Parents.Select(p => p.PeerId));
        Assert.Equal(PieceBitmap.FromBytes(parents.Parents[0].Bitmap.Span, Pieces).SetIndexes(), [0, 1]);
        Assert.Empty(Drain(publisher)); // complete peers need no news
        Assert.Equal(2, Snapshot().PeersOf(_manifest.Digest).Single(p => p.PeerId == "a").CompletedPieces);

        // Now b is a's child: the next piece reaches it as news.
        _coordinator.Apply(new SwarmCommand.Event(a, new PeerEvent
        {
            PiecesFinished = new PiecesFinished { Digest = _manifest.Digest, Indexes = { 2 } },
        }));
        var news = Assert.Single(Drain(b)).PieceAvailable;
        Assert.Equal("a", news.PeerId);
        Assert.Equal([2], news.Indexes);
    }

    [Fact]
    public void PiecesFinished_TellsAChildOnlyOfThePiecesItLacks()
    {
        var (a, b) = ChildOfA(new PeerSession("b", "10.0.0.1", 4200, uploadSlots: 4), 3, 4);

        Report(a, 3, 5); // b holds 3 already
        var news = Assert.Single(Drain(b)).PieceAvailable;
        Assert.Equal("a", news.PeerId);
        Assert.Equal([5], news.Indexes);

        Report(a, 4); // b holds it: nothing to tell
        Assert.Empty(Drain(b));

        Report(a, 6, 7); // b lacks both: the whole report
        Assert.Equal([6, 7], Assert.Single(Drain(b)).PieceAvailable.Indexes);
    }

    [Fact]
    public void PiecesFinished_ToAChildThatMergesNews_IsSentWhenTheCommandsAreApplied()
    {
        var (a, b) = ChildOfA(new PeerSession("b", "10.0.0.1", 4200, uploadSlots: 4) { MergesPieceNews = true }, 3);

        Report(a, 3, 5); // held for the end of the batch, which Apply is; b holds 3 already

        var news = Assert.Single(Drain(b)).PieceAvailable;
        Assert.Equal("a", news.PeerId);
        Assert.Equal([5], news.Indexes);
        Assert.Empty(news.More);
    }

    [Fact]
    public void PiecesFinished_IsNotRelayedToAChildThatAsksTheReporterForItsPieceMap()
    {
        var (a, b) = ChildOf(
            new PeerSession("a", "10.0.0.1", 4100, uploadSlots: 4) { FollowsParentMaps = true },
            new PeerSession("b", "10.0.0.1", 4200, uploadSlots: 4) { FollowsParentMaps = true, MergesPieceNews = true });

        Report(a, 5, 6);

        Assert.Empty(Drain(b)); // b polls a's piece map: it heard of 5 and 6 from a itself
    }

    [Fact]
    public void PiecesFinished_IsRelayed_WhenTheReporterServesNoPieceMaps()
    {
        // An agent of before session 16 as the parent: its child cannot poll it, so the broker still tells.
        var (a, b) = ChildOf(
            new PeerSession("a", "10.0.0.1", 4100, uploadSlots: 4),
            new PeerSession("b", "10.0.0.1", 4200, uploadSlots: 4) { FollowsParentMaps = true });

        Report(a, 5, 6);

        Assert.Equal([5, 6], Assert.Single(Drain(b)).PieceAvailable.Indexes);
    }

    /// <summary>A publisher, peer a, and <paramref name="b"/> as a's child holding <paramref name="held"/>; queues drained.</summary>
    private (PeerSession A, PeerSession B) ChildOfA(PeerSession b, params int[] held) =>
        ChildOf(new PeerSession("a", "10.0.0.1", 4100, uploadSlots: 4), b, held);

    private (PeerSession A, PeerSession B) ChildOf(PeerSession a, PeerSession b, params int[] held)
    {
        Join(Connect("pub", 4000), PieceBitmap.Full(Pieces), isPublisher: true);
        _coordinator.Apply(new SwarmCommand.Connect(a));
        Join(a, new PieceBitmap(Pieces));
        _coordinator.Apply(new SwarmCommand.Connect(b));
        Join(b, new PieceBitmap(Pieces));
        Report(a, 0);
        Assert.Contains(Drain(b), m => m.Parents?.Parents.Any(p => p.PeerId == "a") == true); // b is a's child now
        Report(b, held);
        Drain(a);
        Drain(b);
        return (a, b);
    }

    private void Report(PeerSession peer, params int[] indexes) =>
        _coordinator.Apply(new SwarmCommand.Event(peer, new PeerEvent
        {
            PiecesFinished = new PiecesFinished { Digest = _manifest.Digest, Indexes = { indexes } },
        }));

    [Fact]
    public void PiecesFinished_OffersTheReporterToAtMostMaxParentsPeers()
    {
        var peers = new[] { "a", "b", "c", "d" }.Select((id, i) => Connect(id, 4100 + i)).ToList();
        foreach (var peer in peers)
        {
            Join(peer, new PieceBitmap(Pieces));
            Drain(peer);
        }

        _coordinator.Apply(new SwarmCommand.Event(peers[0], new PeerEvent
        {
            PiecesFinished = new PiecesFinished { Digest = _manifest.Digest, Indexes = { 5 } },
        }));

        var others = peers.Skip(1).Select(Drain).ToList();
        Assert.All(others, messages => Assert.DoesNotContain(messages, m => m.EventCase == SchedulerEvent.EventOneofCase.PieceAvailable));
        Assert.Equal(2, others.Count(messages => messages.Any(m => m.EventCase == SchedulerEvent.EventOneofCase.Parents)));
    }

    [Fact]
    public void PieceFailed_WhenCorrupt_RepliesWithParentSetThatNeverContainsTheParentAgain()
    {
        var a = Connect("a", 4100);
        Join(a, PieceBitmap.Full(Pieces));
        var b = Connect("b", 4200);
        Join(b, new PieceBitmap(Pieces));
        Assert.Equal("a", Assert.Single(Assert.Single(Drain(b)).Parents.Parents).PeerId);

        _coordinator.Apply(new SwarmCommand.Event(b, new PeerEvent
        {
            PieceFailed = new PieceFailed { Digest = _manifest.Digest, Index = 3, ParentId = "a", Kind = FailureKind.Corrupt },
        }));
        Assert.Empty(Assert.Single(Drain(b)).Parents.Parents);

        _time.Advance(TimeSpan.FromMinutes(5));
        _coordinator.Apply(new SwarmCommand.Event(b, new PeerEvent { NeedParents = new NeedParents { Digest = _manifest.Digest } }));
        Assert.Empty(Assert.Single(Drain(b)).Parents.Parents);
    }

    [Fact]
    public void PieceFailed_WhenUnreachable_KeepsTheParentButRanksItLower()
    {
        var a = Connect("a", 4100);
        Join(a, PieceBitmap.Full(Pieces));
        var b = Connect("b", 4200);
        Join(b, PieceBitmap.Full(Pieces));
        var c = Connect("c", 4300);
        Join(c, new PieceBitmap(Pieces));
        Drain(c);

        _coordinator.Apply(new SwarmCommand.Event(c, new PeerEvent
        {
            PieceFailed = new PieceFailed { Digest = _manifest.Digest, Index = 0, ParentId = "a", Kind = FailureKind.Unreachable },
        }));

        // maxParents is 2: both stay, the failing one second.
        Assert.Equal(["b", "a"], Assert.Single(Drain(c)).Parents.Parents.Select(p => p.PeerId));
    }

    [Fact]
    public void Connect_WithSamePeerId_ClosesThePreviousSessionAndItsMemberships()
    {
        var old = Connect("a", 4100);
        Join(old, TestManifests.Bitmap(Pieces, 0));

        var fresh = Connect("a", 4101);

        Assert.True(old.Closed.IsCancellationRequested);
        Drain(old);
        Assert.True(old.Outbound.Completion.IsCompleted);
        Assert.False(fresh.Closed.IsCancellationRequested);
        Assert.Empty(Snapshot().PeersOf(_manifest.Digest));

        // The old stream's late Disconnect must not remove the new session.
        _coordinator.Apply(new SwarmCommand.Disconnect(old));
        Assert.Equal(1, Snapshot().Peers);
    }

    [Fact]
    public void Disconnect_LeavesAllTasks_AndChildrenOfTheLeaverGetFreshParents()
    {
        var publisher = Connect("pub", 4000);
        Join(publisher, PieceBitmap.Full(Pieces), isPublisher: true);
        var a = Connect("a", 4100);
        Join(a, PieceBitmap.Full(Pieces));
        var b = Connect("b", 4200);
        Join(b, new PieceBitmap(Pieces));
        Assert.Equal(["a", "pub"], Assert.Single(Drain(b)).Parents.Parents.Select(p => p.PeerId));

        _coordinator.Apply(new SwarmCommand.Disconnect(a));

        Assert.Equal(["pub"], Assert.Single(Drain(b)).Parents.Parents.Select(p => p.PeerId));
        Assert.Equal(["b", "pub"], Snapshot().PeersOf(_manifest.Digest).Select(p => p.PeerId));
        Assert.Equal(2, Snapshot().Peers);
    }

    [Fact]
    public void Snapshot_CountsChildrenFromTheLatestParentSets()
    {
        var publisher = Connect("pub", 4000);
        Join(publisher, PieceBitmap.Full(Pieces), isPublisher: true);
        Join(Connect("a", 4100), new PieceBitmap(Pieces));
        Join(Connect("b", 4200), new PieceBitmap(Pieces));

        var pub = Snapshot().PeersOf(_manifest.Digest).Single(p => p.PeerId == "pub");

        Assert.Equal(2, pub.Children);
        Assert.True(pub.Seeder);
    }

    [Fact]
    public async Task RunningCoordinator_AnswersSnapshotsThroughItsCommandLoop()
    {
        await _coordinator.StartAsync(CancellationToken.None);
        try
        {
            var session = new PeerSession("a", "10.0.0.1", 4100);
            _coordinator.Connect(session);
            var snapshot = await _coordinator.SnapshotAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(5));
            Assert.Equal(1, snapshot.Peers);
            Assert.True(_coordinator.IsRunning);
        }
        finally
        {
            await _coordinator.StopAsync(CancellationToken.None);
        }
    }

    [Fact]
    public void JoinAndNeedParents_EchoTheirRequestIds_WhilePushedSetsCarryNone()
    {
        // A ParentSet names the request it answers, so a client can tell answers from pushes.
        var publisher = Connect("pub", 4000);
        Join(publisher, PieceBitmap.Full(Pieces), isPublisher: true);
        var a = Connect("a", 4100);
        var b = Connect("b", 4200);

        Join(a, new PieceBitmap(Pieces), requestId: 41);
        Assert.Equal(41UL, Assert.Single(Drain(a)).Parents.RequestId);
        Join(b, new PieceBitmap(Pieces));
        Assert.Equal(0UL, Assert.Single(Drain(b)).Parents.RequestId); // an old agent sends none: gets none back

        _coordinator.Apply(new SwarmCommand.Event(a, new PeerEvent { NeedParents = new NeedParents { Digest = _manifest.Digest, RequestId = 42 } }));
        Assert.Equal(42UL, Assert.Single(Drain(a)).Parents.RequestId);

        // a gains a piece b lacks: b is offered a as a parent, unasked.
        _coordinator.Apply(new SwarmCommand.Event(a, new PeerEvent { PiecesFinished = new PiecesFinished { Digest = _manifest.Digest, Indexes = { 0 } } }));
        var pushed = Assert.Single(Drain(b), m => m.EventCase == SchedulerEvent.EventOneofCase.Parents).Parents;
        Assert.Equal(0UL, pushed.RequestId);
        Assert.Contains(pushed.Parents, p => p.PeerId == "a");
    }

    [Fact]
    public void NeedParents_IsTimedFromItsArrival_ToItsAnswerQueued_AndWritten()
    {
        // dragonfly_broker_schedule_latency_seconds: what dfbench broker sets against what its agents see.
        var publisher = Connect("pub", 4000);
        Join(publisher, PieceBitmap.Full(Pieces), isPublisher: true);
        var a = Connect("a", 4100);
        Join(a, new PieceBitmap(Pieces), requestId: 41);
        var joined = Assert.Single(Drain(a));
        Assert.Null(a.Written(joined)); // a join's answer is not a NeedParents's

        var queuedBefore = BrokerMetrics.ScheduleQueued.Count;
        var arrived = Stopwatch.GetTimestamp() - Stopwatch.Frequency / 10; // read off the stream 100 ms ago
        _coordinator.Apply(new SwarmCommand.Event(a, new PeerEvent { NeedParents = new NeedParents { Digest = _manifest.Digest, RequestId = 42 } }, arrived));
        Assert.True(BrokerMetrics.ScheduleQueued.Count > queuedBefore);
        var answer = Assert.Single(Drain(a));

        var written = a.Written(answer);
        Assert.NotNull(written);
        Assert.InRange(written.Value, TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(30));
        Assert.Null(a.Written(answer)); // timed once

        // An event without an arrival time (a test, an older caller) is answered and not timed.
        _coordinator.Apply(new SwarmCommand.Event(a, new PeerEvent { NeedParents = new NeedParents { Digest = _manifest.Digest, RequestId = 43 } }));
        Assert.Null(a.Written(Assert.Single(Drain(a))));
    }

    [Fact]
    public void JoinAs_TheConnectedPublisher_IsInTheFirstChildsFirstParentSet_AStrangerJoinsNothing()
    {
        // What Publish does before announcing: the publisher's own JoinTask could only follow Publish's answer.
        var publisher = Connect("pub", 4000);
        Assert.True(JoinAs("pub"));
        Assert.Empty(Drain(publisher)); // complete: it needs no parents

        var child = Connect("a", 4100);
        Join(child, new PieceBitmap(Pieces));
        var parent = Assert.Single(Assert.Single(Drain(child)).Parents.Parents);
        Assert.Equal(("pub", 4000, true), (parent.PeerId, parent.Port, parent.LastResort));
        Assert.Contains(Snapshot().TaskPeers[_manifest.Digest], p => p is { PeerId: "pub", Publisher: true, Seeder: true });

        // Its own join afterwards changes nothing and sends the child nothing new.
        Join(publisher, PieceBitmap.Full(Pieces), isPublisher: true);
        Assert.Empty(Drain(child));

        Assert.False(JoinAs("nobody"));
        Assert.DoesNotContain(Snapshot().TaskPeers[_manifest.Digest], p => p.PeerId == "nobody");
    }

    private bool JoinAs(string peerId)
    {
        var reply = new TaskCompletionSource<bool>();
        _coordinator.Apply(new SwarmCommand.JoinAs(peerId, new JoinTask
        {
            Digest = _manifest.Digest,
            Bitmap = ByteString.CopyFrom(PieceBitmap.Full(Pieces).ToBytes()),
            Publisher = true,
        }, reply));
        return reply.Task.Result;
    }

    private PeerSession Connect(string peerId, int port)
    {
        var session = new PeerSession(peerId, "10.0.0.1", port, uploadSlots: 4);
        _coordinator.Apply(new SwarmCommand.Connect(session));
        return session;
    }

    private void Join(PeerSession session, PieceBitmap bitmap, bool isPublisher = false, ulong requestId = 0) =>
        _coordinator.Apply(new SwarmCommand.Event(session, new PeerEvent
        {
            Join = new JoinTask { Digest = _manifest.Digest, Bitmap = ByteString.CopyFrom(bitmap.ToBytes()), Publisher = isPublisher, RequestId = requestId },
        }));

    private SwarmSnapshot Snapshot()
    {
        var reply = new TaskCompletionSource<SwarmSnapshot>();
        _coordinator.Apply(new SwarmCommand.Snapshot(reply));
        return reply.Task.Result;
    }
}
