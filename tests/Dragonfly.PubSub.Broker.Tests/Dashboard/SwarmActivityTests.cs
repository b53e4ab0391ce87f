using Dragonfly.PubSub.Broker.Dashboard;
using Dragonfly.PubSub.Broker.Scheduling;
using Dragonfly.PubSub.Broker.Swarm;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Contracts.Scheduler;
using Google.Protobuf;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace Dragonfly.PubSub.Broker.Tests.Dashboard;

/// <summary>The dashboard's record of the swarm, fed by the coordinator's command handler (no network, no loop).</summary>
public sealed class SwarmActivityTests
{
    private const int Pieces = 4;
    private const long PieceBytes = TestManifests.PieceSize;
    private readonly Manifest _manifest = TestManifests.Create("dashboard", Pieces);
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 4, 10, 0, 0, TimeSpan.Zero));
    private readonly SwarmCoordinator _coordinator;

    public SwarmActivityTests()
    {
        _coordinator = new SwarmCoordinator(
            "broker-test",
            digest => digest == _manifest.Digest ? _manifest : null,
            new ParentSelectionPolicy(_time, new Random(7), maxParents: 2),
            _time,
            NullLogger<SwarmCoordinator>.Instance);
    }

    [Fact]
    public void PiecesFinished_WithParents_CountsWhoServedWhomAndWhenEachFinished()
    {
        var publisher = Connect("pub");
        Join(publisher, PieceBitmap.Full(Pieces), publisher: true);
        var a = Connect("a");
        var b = Connect("b");
        Join(a, new PieceBitmap(Pieces));
        Join(b, new PieceBitmap(Pieces));

        _time.Advance(TimeSpan.FromSeconds(2));
        Finished(a, [0, 1, 2, 3], ["pub", "pub", "pub", "b"]);
        _time.Advance(TimeSpan.FromSeconds(1));
        Finished(b, [0, 1, 2, 3], ["a", "a", "a", "pub"]);

        var totals = _coordinator.Activity.Totals();
        Assert.Equal(8 * PieceBytes, totals.Delivered);
        Assert.Equal(4 * PieceBytes, totals.FromPublishers);
        Assert.Equal(4 * PieceBytes, totals.FromPeers);
        Assert.Equal(0, totals.Unattributed);
        // The publisher is the origin of what it published: 4 of the 8 copies' pieces came from it.
        Assert.Equal((4 * PieceBytes, 8 * PieceBytes, 4 * PieceBytes), (totals.Origin, totals.Demand, totals.Saved));

        var task = _coordinator.Activity.Find(_manifest.Digest)!;
        lock (task.Gate)
        {
            Assert.Equal(3 * PieceBytes, task.Edges[("pub", "a")]);
            Assert.Equal(PieceBytes, task.Edges[("b", "a")]);
            Assert.Equal(3 * PieceBytes, task.Edges[("a", "b")]);
            Assert.Equal(PieceBytes, task.Edges[("pub", "b")]);
            Assert.Equal(4 * PieceBytes, task.Members["pub"].ServedBytes);
            Assert.Equal(3 * PieceBytes, task.Members["a"].ServedBytes);
            Assert.Equal(TimeSpan.FromSeconds(2), task.Members["a"].CompletedAt - task.Members["a"].JoinedAt);
            Assert.Equal(TimeSpan.FromSeconds(3), task.Members["b"].CompletedAt - task.Members["b"].JoinedAt);
        }
    }

    [Fact]
    public void PiecesFinished_FromAnOlderAgentWithoutParents_CountsTheBytesAsUnattributed()
    {
        var publisher = Connect("pub");
        Join(publisher, PieceBitmap.Full(Pieces), publisher: true);
        var a = Connect("a");
        Join(a, new PieceBitmap(Pieces));

        Finished(a, [0, 1], []);
        // A piece reported twice is counted once.
        Finished(a, [1], []);

        var totals = _coordinator.Activity.Totals();
        Assert.Equal((2 * PieceBytes, 2 * PieceBytes, 0L), (totals.Delivered, totals.Unattributed, totals.FromPublishers));
    }

    [Fact]
    public void PiecesFinished_AfterAReJoinThatAlreadyHeldThem_AreStillCountedWithTheirParents()
    {
        var publisher = Connect("pub");
        Join(publisher, PieceBitmap.Full(Pieces), publisher: true);
        var a = Connect("a");
        Join(a, new PieceBitmap(Pieces));

        // The agent joins again holding pieces 0 and 1 before their report arrives: the scheduler sees nothing new in it.
        Join(a, TestManifests.Bitmap(Pieces, 0, 1));
        Finished(a, [0, 1], ["pub", "pub"]);

        var totals = _coordinator.Activity.Totals();
        Assert.Equal((2 * PieceBytes, 2 * PieceBytes), (totals.Delivered, totals.FromPublishers));
    }

    [Fact]
    public void PieceFailed_IsCountedByKindAndKeptInTheRecentList()
    {
        var publisher = Connect("pub");
        Join(publisher, PieceBitmap.Full(Pieces), publisher: true);
        var a = Connect("a");
        Join(a, new PieceBitmap(Pieces));

        _coordinator.Apply(new SwarmCommand.Event(a, new PeerEvent
        {
            PieceFailed = new PieceFailed { Digest = _manifest.Digest, Index = 2, ParentId = "pub", Kind = FailureKind.Corrupt },
        }));

        var failures = _coordinator.Activity.Failures.View();
        Assert.Equal(1, failures.ByKind["piece_corrupt"]);
        Assert.Equal(0, failures.ByKind["piece_unreachable"]);
        var recent = Assert.Single(failures.Recent);
        Assert.Equal(("piece_corrupt", "a", "pub", _manifest.Digest), (recent.Kind, recent.Peer, recent.Parent, recent.Task));
    }

    [Fact]
    public void Fleet_KnowsVersionsSubscriptionsAndWhoLeft()
    {
        var a = Connect("a", version: "1.2.3", subscriptions: ["releases/#"]);
        var b = Connect("b", version: "1.2.4");
        _time.Advance(TimeSpan.FromSeconds(5));
        _coordinator.Apply(new SwarmCommand.Disconnect(b));

        var agents = _coordinator.Fleet.Agents();
        Assert.Equal((1, 1), (_coordinator.Fleet.Online, _coordinator.Fleet.Offline));
        var online = agents[0];
        Assert.Equal(("a", "1.2.3", true), (online.PeerId, online.Version, online.Session is not null));
        Assert.Equal(["releases/#"], online.Subscriptions);
        var gone = agents[1];
        Assert.Equal(("b", "1.2.4", null), (gone.PeerId, gone.Version, gone.Session));
        Assert.Equal(_time.GetUtcNow(), gone.SeenAt);

        // A replaced session is one agent, still online.
        Connect("a", version: "1.2.5");
        Assert.Equal((1, 1), (_coordinator.Fleet.Online, _coordinator.Fleet.Offline));
        Assert.Equal("1.2.5", _coordinator.Fleet.Agents()[0].Version);
        GC.KeepAlive(a);
    }

    [Fact]
    public void TrafficHistory_KeepsWhatMovedInEachStep_AsRatesAndOffload()
    {
        var history = new TrafficHistory(_coordinator, _time);
        var publisher = Connect("pub");
        Join(publisher, PieceBitmap.Full(Pieces), publisher: true);
        var a = Connect("a");
        Join(a, new PieceBitmap(Pieces));
        history.Sample(); // the start: nothing moved yet

        Finished(a, [0, 1], ["pub", "pub"]);
        _time.Advance(TrafficHistory.Step);
        history.Sample();
        var b = Connect("b");
        Join(b, new PieceBitmap(Pieces));
        Finished(b, [0, 1], ["a", "a"]);
        _time.Advance(TrafficHistory.Step);
        history.Sample();

        var samples = history.Samples();
        Assert.Equal(3, samples.Count);
        var seconds = TrafficHistory.Step.TotalSeconds;
        // Step 1: two pieces from the publisher (the origin): nothing saved. Step 2: two from a peer: all saved.
        Assert.Equal((2 * PieceBytes / seconds, 2 * PieceBytes / seconds, 0.0), (samples[1].DeliveredBytesPerSecond, samples[1].OriginBytesPerSecond, samples[1].Offload));
        Assert.Equal((2 * PieceBytes / seconds, 0.0, 1.0), (samples[2].DeliveredBytesPerSecond, samples[2].OriginBytesPerSecond, samples[2].Offload));
        Assert.Equal(3, samples[2].Peers);
        GC.KeepAlive(b);
    }

    private PeerSession Connect(string peerId, string version = "", IReadOnlyList<string>? subscriptions = null)
    {
        var session = new PeerSession(peerId, "10.0.0.1", 4000, uploadSlots: 4) { Version = version, Subscriptions = subscriptions ?? [] };
        _coordinator.Apply(new SwarmCommand.Connect(session));
        return session;
    }

    private void Join(PeerSession session, PieceBitmap bitmap, bool publisher = false) =>
        _coordinator.Apply(new SwarmCommand.Event(session, new PeerEvent
        {
            Join = new JoinTask { Digest = _manifest.Digest, Bitmap = ByteString.CopyFrom(bitmap.ToBytes()), Publisher = publisher },
        }));

    private void Finished(PeerSession session, int[] indexes, string[] parents)
    {
        var finished = new PiecesFinished { Digest = _manifest.Digest };
        finished.Indexes.AddRange(indexes);
        finished.Parents.AddRange(parents);
        _coordinator.Apply(new SwarmCommand.Event(session, new PeerEvent { PiecesFinished = finished }));
    }
}
