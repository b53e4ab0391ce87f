using Dragonfly.PubSub.Broker.Scheduling;
using Dragonfly.PubSub.Broker.Swarm;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Contracts.Scheduler;
using Google.Protobuf;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using static Dragonfly.PubSub.Broker.Tests.Support.SessionOutbound;

namespace Dragonfly.PubSub.Broker.Tests.Swarm;

/// <summary>The coordinator with its tasks spread over several shards, and parent sets drawn from a sample of a large task.</summary>
public sealed class ShardedCoordinatorTests
{
    private const int Pieces = 16;
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);
    private readonly List<Manifest> _manifests = Enumerable.Range(0, 8).Select(i => TestManifests.Create($"task-{i}", Pieces)).ToList();
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2025, 1, 1, 0, 0, 0, TimeSpan.Zero));

    [Fact]
    public void Snapshot_OfFourShards_HoldsEveryTaskAndEverySessionOnce()
    {
        var coordinator = NewCoordinator(shards: 4);
        var sessions = Enumerable.Range(0, 16).Select(i => Connect(coordinator, $"peer-{i}")).ToList();
        for (var i = 0; i < sessions.Count; i++)
        {
            Join(coordinator, sessions[i], _manifests[i % _manifests.Count], new PieceBitmap(Pieces));
        }

        var snapshot = Snapshot(coordinator);

        Assert.Equal(16, snapshot.Peers);
        Assert.Equal(_manifests.Select(m => m.Digest).Order(), snapshot.TaskPeers.Keys.Order());
        Assert.All(_manifests, m => Assert.Equal(2, snapshot.PeersOf(m.Digest).Count));
    }

    [Fact]
    public void Disconnect_ReachesEveryShard_AndTheLeaverDropsOutOfEveryTask()
    {
        var coordinator = NewCoordinator(shards: 4);
        var leaver = Connect(coordinator, "leaver");
        var stayer = Connect(coordinator, "stayer");
        foreach (var manifest in _manifests)
        {
            Join(coordinator, leaver, manifest, PieceBitmap.Full(Pieces), publisher: true);
            Join(coordinator, stayer, manifest, new PieceBitmap(Pieces));
        }
        Drain(stayer);

        coordinator.Apply(new SwarmCommand.Disconnect(leaver));

        var snapshot = Snapshot(coordinator);
        Assert.Equal(1, snapshot.Peers);
        Assert.All(_manifests, m => Assert.Equal(["stayer"], snapshot.PeersOf(m.Digest).Select(p => p.PeerId)));
        // Its former children got a fresh (empty) set for every task at once.
        var sets = Drain(stayer).Where(e => e.EventCase == SchedulerEvent.EventOneofCase.Parents).ToList();
        Assert.Equal(_manifests.Count, sets.Count);
        Assert.All(sets, e => Assert.Empty(e.Parents.Parents));
    }

    [Fact]
    public async Task RunningShards_AnswerNeedParentsOfEveryTaskWithTheirRequestIds()
    {
        var coordinator = NewCoordinator(shards: 3);
        await coordinator.StartAsync(CancellationToken.None);
        try
        {
            var publisher = new PeerSession("pub", "10.0.0.1", 4000, uploadSlots: 4);
            var child = new PeerSession("child", "10.0.0.2", 4100, uploadSlots: 4);
            coordinator.Connect(publisher);
            coordinator.Connect(child);
            foreach (var manifest in _manifests)
            {
                coordinator.Handle(publisher, JoinEvent(manifest, PieceBitmap.Full(Pieces), publisher: true));
                coordinator.Handle(child, JoinEvent(manifest, new PieceBitmap(Pieces)));
            }
            for (var i = 0; i < _manifests.Count; i++)
            {
                coordinator.Handle(child, new PeerEvent { NeedParents = new NeedParents { Digest = _manifests[i].Digest, RequestId = (ulong)(100 + i) } });
            }

            var answers = new Dictionary<ulong, ParentSet>();
            while (answers.Count < _manifests.Count)
            {
                var message = await child.Outbound.ReadAsync().AsTask().WaitAsync(Wait);
                if (message.Parents is { RequestId: > 0 } set)
                {
                    answers[set.RequestId] = set;
                }
            }

            for (var i = 0; i < _manifests.Count; i++)
            {
                var set = answers[(ulong)(100 + i)];
                Assert.Equal(_manifests[i].Digest, set.Digest);
                Assert.Equal("pub", Assert.Single(set.Parents).PeerId);
            }
            Assert.Equal(3, coordinator.ShardCount);
        }
        finally
        {
            await coordinator.StopAsync(CancellationToken.None);
        }
    }

    [Fact]
    public void NeedParents_InALargeTask_RanksASampleButAlwaysOffersThePublisher()
    {
        // maxParents 2: a sample of 16 of the 60 members; the publisher is one of them only by chance.
        var coordinator = NewCoordinator(shards: 1);
        var manifest = _manifests[0];
        var publisher = Connect(coordinator, "pub");
        Join(coordinator, publisher, manifest, PieceBitmap.Full(Pieces), publisher: true);
        var peers = Enumerable.Range(0, 60).Select(i => Connect(coordinator, $"peer-{i:00}")).ToList();
        for (var i = 0; i < peers.Count; i++)
        {
            Join(coordinator, peers[i], manifest, TestManifests.Bitmap(Pieces, i % Pieces));
        }
        var asker = peers[0];
        Drain(asker);

        coordinator.Apply(new SwarmCommand.Event(asker, new PeerEvent { NeedParents = new NeedParents { Digest = manifest.Digest, RequestId = 9 } }));

        var set = Assert.Single(Drain(asker)).Parents;
        Assert.Equal(9UL, set.RequestId);
        Assert.Equal(2, set.Parents.Count(p => !p.LastResort));
        Assert.Equal("pub", Assert.Single(set.Parents, p => p.LastResort).PeerId);
        Assert.DoesNotContain(set.Parents, p => p.PeerId == "peer-00");
        // Each ordinary parent holds a piece the asker lacks (it holds only piece 0).
        Assert.All(set.Parents.Where(p => !p.LastResort), p => Assert.NotEqual(0, int.Parse(p.PeerId[5..]) % Pieces));
    }

    private SwarmCoordinator NewCoordinator(int shards) => new(
        "broker-test",
        digest => _manifests.FirstOrDefault(m => m.Digest == digest),
        new ParentSelectionPolicy(_time, new Random(7), maxParents: 2),
        _time,
        NullLogger<SwarmCoordinator>.Instance,
        shards: shards);

    private static PeerSession Connect(SwarmCoordinator coordinator, string peerId)
    {
        var session = new PeerSession(peerId, "10.0.0.1", 4100, uploadSlots: 4);
        coordinator.Apply(new SwarmCommand.Connect(session));
        return session;
    }

    private static void Join(SwarmCoordinator coordinator, PeerSession session, Manifest manifest, PieceBitmap bitmap, bool publisher = false) =>
        coordinator.Apply(new SwarmCommand.Event(session, JoinEvent(manifest, bitmap, publisher)));

    private static PeerEvent JoinEvent(Manifest manifest, PieceBitmap bitmap, bool publisher = false) => new()
    {
        Join = new JoinTask { Digest = manifest.Digest, Bitmap = ByteString.CopyFrom(bitmap.ToBytes()), Publisher = publisher },
    };

    private static SwarmSnapshot Snapshot(SwarmCoordinator coordinator)
    {
        var reply = new TaskCompletionSource<SwarmSnapshot>();
        coordinator.Apply(new SwarmCommand.Snapshot(reply));
        return reply.Task.Result;
    }
}
