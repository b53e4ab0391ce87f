using Dragonfly.PubSub.Broker.Scheduling;
using Dragonfly.PubSub.Broker.Swarm;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Contracts.Scheduler;
using Google.Protobuf;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace Dragonfly.PubSub.Broker.Tests.Swarm;

/// <summary>A ParentSet names the request it answers, so a client can tell answers from pushes.</summary>
public sealed class ParentSetRequestIdTests
{
    private const int Pieces = 8;
    private readonly Manifest _manifest = TestManifests.Create("artifact", Pieces);
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2025, 1, 1, 0, 0, 0, TimeSpan.Zero));
    private readonly SwarmCoordinator _coordinator;

    public ParentSetRequestIdTests()
    {
        _coordinator = new SwarmCoordinator(
            "broker-test",
            digest => digest == _manifest.Digest ? _manifest : null,
            new ParentSelectionPolicy(_time, new Random(7), maxParents: 2),
            _time,
            NullLogger<SwarmCoordinator>.Instance);
    }

    [Fact]
    public void JoinAndNeedParents_EchoTheirRequestIds_WhilePushedSetsCarryNone()
    {
        var publisher = Connect("pub");
        Send(publisher, new PeerEvent { Join = Join(PieceBitmap.Full(Pieces), publisher: true) });
        var a = Connect("a");
        var b = Connect("b");

        Send(a, new PeerEvent { Join = Join(new PieceBitmap(Pieces), requestId: 41) });
        Assert.Equal(41UL, Assert.Single(Drain(a)).Parents.RequestId);
        Send(b, new PeerEvent { Join = Join(new PieceBitmap(Pieces)) });
        Assert.Equal(0UL, Assert.Single(Drain(b)).Parents.RequestId); // an old agent sends none: gets none back

        Send(a, new PeerEvent { NeedParents = new NeedParents { Digest = _manifest.Digest, RequestId = 42 } });
        Assert.Equal(42UL, Assert.Single(Drain(a)).Parents.RequestId);

        // a gains a piece b lacks: b is offered a as a parent, unasked.
        Send(a, new PeerEvent { PiecesFinished = new PiecesFinished { Digest = _manifest.Digest, Indexes = { 0 } } });
        var pushed = Assert.Single(Drain(b), m => m.EventCase == SchedulerEvent.EventOneofCase.Parents).Parents;
        Assert.Equal(0UL, pushed.RequestId);
        Assert.Contains(pushed.Parents, p => p.PeerId == "a");
    }

    private JoinTask Join(PieceBitmap bitmap, bool publisher = false, ulong requestId = 0) =>
        new() { Digest = _manifest.Digest, Bitmap = ByteString.CopyFrom(bitmap.ToBytes()), Publisher = publisher, RequestId = requestId };

    private PeerSession Connect(string peerId)
    {
        var session = new PeerSession(peerId, "10.0.0.1", 4100, uploadSlots: 4);
        _coordinator.Apply(new SwarmCommand.Connect(session));
        return session;
    }

    private void Send(PeerSession session, PeerEvent message) => _coordinator.Apply(new SwarmCommand.Event(session, message));

    private static List<SchedulerEvent> Drain(PeerSession session)
    {
        var messages = new List<SchedulerEvent>();
        while (session.Outbound.TryRead(out var message))
        {
            messages.Add(message);
        }
        return messages;
    }
}
