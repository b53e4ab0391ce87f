using System.Security.Cryptography;
using System.Text;
using Dragonfly.PubSub.Broker.Diagnostics;
using Dragonfly.PubSub.Broker.Scheduling;
using Dragonfly.PubSub.Broker.Swarm;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Contracts.Scheduler;
using Google.Protobuf;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Kind = Dragonfly.PubSub.Contracts.Scheduler.SchedulerEvent.EventOneofCase;
using static Dragonfly.PubSub.Broker.Tests.Support.SessionOutbound;

namespace Dragonfly.PubSub.Broker.Tests.Swarm;

/// <summary>URL tasks in the coordinator: source choice and failover, digest relay, TaskSourced/TaskFailed. No network.</summary>
public sealed class UrlTaskSourcingTests
{
    private const int Pieces = 8;
    private const string Url = "https://origin.test/files/app.tar?X-Amz-Signature=secret";
    private static readonly string TaskId = Digest("url-task");

    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2025, 1, 1, 0, 0, 0, TimeSpan.Zero));
    private readonly Dictionary<string, Manifest> _catalogue = new(StringComparer.Ordinal);
    private readonly List<Manifest> _stored = [];
    private SwarmCoordinator _coordinator;

    public UrlTaskSourcingTests()
    {
        _coordinator = NewCoordinator(new SourceOptions());
    }

    [Fact]
    public void Register_WithSeedsConnected_SendsFetchSourceToTheLeastLoadedSeed()
    {
        var s1 = Connect("s1", seed: true);
        var s2 = Connect("s2", seed: true);
        var other = Digest("other-task");

        var first = Register(TaskId, headers: [new Header { Name = "Authorization", Value = "Bearer t" }], expected: Digest("content"));
        Register(other, key: "other");

        var fetch = Assert.Single(Drain(s1)).FetchSource;
        Assert.Equal(Url, fetch.Url);
        Assert.Equal(("Authorization", "Bearer t"), (fetch.Headers.Single().Name, fetch.Headers.Single().Value));
        Assert.Equal(Digest("content"), fetch.ExpectedDigest);
        Assert.True(fetch.Manifest.UrlTask);
        Assert.Equal(TaskId, fetch.Manifest.Digest);
        Assert.Equal(Pieces, fetch.Manifest.PieceDigests.Count);
        Assert.All(fetch.Manifest.PieceDigests, d => Assert.True(d.IsEmpty));
        // s1 already fetches one task: the next goes to s2.
        Assert.Equal(other, Assert.Single(Drain(s2)).FetchSource.Manifest.Digest);
        Assert.True(first.UrlTask);
        Assert.Equal(Digest("content"), first.ContentDigest); // --digest is known up front
    }

    [Fact]
    public void Register_WithoutSeed_MakesExactlyOneMemberAgentTheSource()
    {
        Register(TaskId);
        var a = Connect("a");
        var b = Connect("b");

        Join(a);
        Join(b);

        Assert.Single(Drain(a), m => m.EventCase == Kind.FetchSource);
        Assert.DoesNotContain(Drain(b), m => m.EventCase == Kind.FetchSource);
    }

    [Fact]
    public void Register_WithoutSeed_InSecureMode_NoMemberWithoutTheSeedRoleIsTheSource_TheTaskFailsClearly()
    {
        Register(TaskId);
        var a = Connect("a", maySource: false);
        var b = Connect("b", maySource: false);
        Join(a);
        Join(b);
        Assert.DoesNotContain(Drain(a).Concat(Drain(b)), m => m.EventCase is Kind.FetchSource or Kind.TaskFailed);

        _time.Advance(TimeSpan.FromSeconds(11));
        _coordinator.Apply(new SwarmCommand.Tick());

        foreach (var messages in new[] { Drain(a), Drain(b) })
        {
            Assert.DoesNotContain(messages, m => m.EventCase == Kind.FetchSource);
            Assert.Contains("seed role", Assert.Single(messages, m => m.EventCase == Kind.TaskFailed).TaskFailed.Error, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void HelloSeed_WithoutTheRightToSource_IsNoSeed()
    {
        Assert.False(new PeerSession("x", "127.0.0.1", 4000, seed: true, maySource: false).Seed);
        Assert.True(new PeerSession("x", "127.0.0.1", 4000, seed: true).Seed);
    }

    [Fact]
    public void Register_WithCredentialsAndNoSeed_OnlyTheRegisteringAgentMayFetch_OthersNeverSeeTheHeaders()
    {
        Register(TaskId, headers: [new Header { Name = "Authorization", Value = "Basic dXNlcjpwdw==" }]);
        var other = Connect("other");
        Join(other);
        Assert.DoesNotContain(Drain(other), m => m.EventCase == Kind.FetchSource);

        var requester = Connect("requester");
        Join(requester);

        var fetch = Assert.Single(Drain(requester), m => m.EventCase == Kind.FetchSource).FetchSource;
        Assert.Equal("Basic dXNlcjpwdw==", fetch.Headers.Single().Value);
        Assert.DoesNotContain(Drain(other), m => m.EventCase == Kind.FetchSource);
    }

    [Fact]
    public void Register_WithCredentialsAndNoSeed_WhenTheRegistrantNeverJoins_FailsClearlyInsteadOfLeakingOrHanging()
    {
        Register(TaskId, headers: [new Header { Name = "authorization", Value = "Basic dXNlcjpwdw==" }]);
        var other = Connect("other");
        Join(other);
        _time.Advance(TimeSpan.FromSeconds(5));
        _coordinator.Apply(new SwarmCommand.Tick());
        Assert.DoesNotContain(Drain(other), m => m.EventCase is Kind.FetchSource or Kind.TaskFailed);

        _time.Advance(TimeSpan.FromSeconds(6));
        _coordinator.Apply(new SwarmCommand.Tick());

        var messages = Drain(other);
        Assert.DoesNotContain(messages, m => m.EventCase == Kind.FetchSource);
        Assert.Contains("needs credentials", Assert.Single(messages, m => m.EventCase == Kind.TaskFailed).TaskFailed.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Register_WhileTheOwnSeedStarts_WaitsForItUpToTheDeadline_ThenFallsBackToAMember()
    {
        _coordinator = NewCoordinator(new SourceOptions { OwnSeedWait = TimeSpan.FromSeconds(10) });
        Register(TaskId);
        var a = Connect("a");
        Join(a);
        _time.Advance(TimeSpan.FromSeconds(9));
        _coordinator.Apply(new SwarmCommand.Tick());
        Assert.DoesNotContain(Drain(a), m => m.EventCase == Kind.FetchSource);

        _time.Advance(TimeSpan.FromSeconds(2));
        _coordinator.Apply(new SwarmCommand.Tick());

        Assert.Single(Drain(a), m => m.EventCase == Kind.FetchSource);
    }

    [Fact]
    public void Register_WhileTheOwnSeedStarts_GivesTheTaskToTheSeedOnceItConnects()
    {
        _coordinator = NewCoordinator(new SourceOptions { OwnSeedWait = TimeSpan.FromSeconds(10) });
        Register(TaskId);
        var a = Connect("a");
        Join(a);
        _time.Advance(TimeSpan.FromSeconds(3));

        var seed = Connect("seed", seed: true);

        Assert.Single(Drain(seed), m => m.EventCase == Kind.FetchSource);
        Assert.DoesNotContain(Drain(a), m => m.EventCase == Kind.FetchSource);
    }

    [Fact]
    public void SourceStreamEnds_TheNextSourceGetsTheKnownDigests_AndTheFailedPeerIsNotAskedAgain()
    {
        var s1 = Connect("s1", seed: true);
        var s2 = Connect("s2", seed: true);
        Register(TaskId);
        Join(s1, publisher: true);
        Finished(s1, 0, 1);
        Drain(s2);

        _coordinator.Apply(new SwarmCommand.Disconnect(s1));

        var fetch = Assert.Single(Drain(s2)).FetchSource;
        Assert.Equal(PieceDigest(0), fetch.Manifest.PieceDigests[0]);
        Assert.Equal(PieceDigest(1), fetch.Manifest.PieceDigests[1]);
        Assert.True(fetch.Manifest.PieceDigests[2].IsEmpty);

        // s1 comes back: it failed this task, so a member agent is next after s2.
        var back = Connect("s1", seed: true);
        var a = Connect("a");
        Join(a);
        SourceFailed(s2, "origin unavailable: https://origin.test/files/app.tar", permanent: false);
        Assert.DoesNotContain(Drain(back), m => m.EventCase == Kind.FetchSource);
        Assert.Single(Drain(a), m => m.EventCase == Kind.FetchSource);
    }

    [Fact]
    public void ThreeFailedSourceAttempts_SendTaskFailedToEveryMember_AndForgetTheTask()
    {
        Register(TaskId, key: "k");
        var members = new[] { "a", "b", "c" }.Select(id => Connect(id)).ToList();
        members.ForEach(m => Join(m));

        foreach (var expected in members)
        {
            Assert.Single(Drain(expected), m => m.EventCase == Kind.FetchSource);
            SourceFailed(expected, $"connection refused by origin ({expected.PeerId})", permanent: false, SourceErrorKind.Unavailable);
        }

        foreach (var member in members)
        {
            var failed = Assert.Single(Drain(member), m => m.EventCase == Kind.TaskFailed).TaskFailed;
            Assert.Equal(TaskId, failed.Digest);
            Assert.StartsWith("connection refused by origin (c)", failed.Error);
            Assert.Contains("3 failed source attempts", failed.Error);
            Assert.Equal(SourceErrorKind.Unavailable, failed.Kind); // the last source's reason, as data
        }
        Assert.Null(LiveManifest(TaskId));
        Assert.Null(Find("k"));
        Assert.Empty(Snapshot().TaskPeers);
    }

    [Fact]
    public void PiecesFinished_TakesDigestsOnlyFromTheSource()
    {
        var seed = Connect("seed", seed: true);
        Register(TaskId);
        Join(seed, publisher: true);
        var a = Connect("a");
        Join(a);
        Drain(seed);
        Drain(a);

        Finished(a, 0);
        Assert.True(LiveManifest(TaskId)!.PieceDigests[0].IsEmpty);
        Assert.DoesNotContain(Drain(seed), m => m.EventCase == Kind.PieceDigests);

        Finished(seed, 1);
        Assert.Equal(PieceDigest(1), LiveManifest(TaskId)!.PieceDigests[1]);
    }

    [Fact]
    public void PiecesFinished_FromTheSource_SendsPieceDigestsToEveryMemberBeforeAnyPieceNews()
    {
        var seed = Connect("seed", seed: true);
        Register(TaskId);
        Join(seed, publisher: true);
        var a = Connect("a");
        Join(a);
        var b = Connect("b");
        Join(b);
        Drain(a);
        Drain(b);
        var before = BrokerMetrics.SourceBytes.Value;

        Finished(seed, 0);
        Finished(seed, 1);

        foreach (var member in new[] { a, b })
        {
            var messages = Drain(member);
            Assert.Equal([Kind.PieceDigests, Kind.Parents, Kind.PieceDigests, Kind.PieceAvailable], messages.Select(m => m.EventCase));
            Assert.Equal([0], messages[0].PieceDigests.Indexes);
            Assert.Equal(PieceDigest(0), messages[0].PieceDigests.Digests.Single());
            var parent = Assert.Single(messages[1].Parents.Parents);
            Assert.Equal(("seed", true), (parent.PeerId, parent.LastResort));
            Assert.Equal([1], messages[2].PieceDigests.Indexes);
            Assert.Equal([1], messages[3].PieceAvailable.Indexes);
        }
        Assert.Equal(2.0 * TestManifests.PieceSize, BrokerMetrics.SourceBytes.Value - before);
    }

    [Fact]
    public void Join_OfAUrlTask_SendsTheKnownDigestsBeforeTheFirstParentSet()
    {
        var seed = Connect("seed", seed: true);
        Register(TaskId);
        Join(seed, publisher: true);
        Finished(seed, 0, 3);
        var c = Connect("c");

        Join(c);

        var messages = Drain(c);
        Assert.Equal([Kind.PieceDigests, Kind.Parents], messages.Select(m => m.EventCase));
        Assert.Equal([0, 3], messages[0].PieceDigests.Indexes);
        Assert.Equal([PieceDigest(0), PieceDigest(3)], messages[0].PieceDigests.Digests);
    }

    [Fact]
    public void MemberAgentSource_IsAParentOfLastResort()
    {
        Register(TaskId);
        var a = Connect("a");
        Join(a);
        Finished(a, 0);
        var b = Connect("b");

        Join(b);

        var parent = Assert.Single(Drain(b).Single(m => m.EventCase == Kind.Parents).Parents.Parents);
        Assert.Equal(("a", true), (parent.PeerId, parent.LastResort));
    }

    [Fact]
    public void SourceDone_StoresTheFullManifest_AndSendsTaskSourcedToEveryMember()
    {
        var seed = Connect("seed", seed: true);
        Register(TaskId);
        Join(seed, publisher: true);
        var a = Connect("a");
        Join(a);
        Finished(seed, Enumerable.Range(0, Pieces).ToArray());
        Drain(a);
        Drain(seed);

        Handle(seed, new PeerEvent { SourceDone = new SourceDone { Digest = TaskId, ContentDigest = Digest("content") } });

        Assert.Equal(Digest("content"), Assert.Single(Drain(a)).TaskSourced.ContentDigest);
        Assert.Equal(TaskId, Assert.Single(Drain(seed)).TaskSourced.Digest);
        var stored = Assert.Single(_stored);
        Assert.True(stored.UrlTask);
        Assert.Equal(Digest("content"), stored.ContentDigest);
        Assert.Equal(Enumerable.Range(0, Pieces).Select(PieceDigest), stored.PieceDigests);
        Assert.Equal(Digest("content"), LiveManifest(TaskId)!.ContentDigest);

        // A later member hears the digests and that the task is sourced at once.
        var late = Connect("late");
        Join(late);
        Assert.Equal([Kind.PieceDigests, Kind.TaskSourced, Kind.Parents], Drain(late).Select(m => m.EventCase));
    }

    [Fact]
    public void SourceDone_WhenTheContentIsNotTheExpectedDigest_FailsTheTask()
    {
        var seed = Connect("seed", seed: true);
        Register(TaskId, expected: Digest("wanted"));
        Join(seed, publisher: true);
        var a = Connect("a");
        Join(a);
        Finished(seed, Enumerable.Range(0, Pieces).ToArray());
        Drain(a);

        Handle(seed, new PeerEvent { SourceDone = new SourceDone { Digest = TaskId, ContentDigest = Digest("other") } });

        var failed = Assert.Single(Drain(a)).TaskFailed;
        var error = failed.Error;
        Assert.Equal(SourceErrorKind.DigestMismatch, failed.Kind);
        Assert.Contains($"hashes to {Digest("other")}, not to --digest {Digest("wanted")}", error);
        Assert.DoesNotContain("secret", error);
        Assert.Empty(_stored);
        Assert.Null(LiveManifest(TaskId));
    }

    [Fact]
    public void SourceFailed_WhenPermanent_FailsTheTaskForEveryMemberWithItsKind_AndALaterRegistrationStartsAfresh()
    {
        var seed = Connect("seed", seed: true);
        Register(TaskId, key: "k");
        var a = Connect("a");
        Join(a);
        Drain(seed);
        Drain(a);

        SourceFailed(seed, "not found at origin: https://origin.test/files/app.tar", permanent: true, SourceErrorKind.NotFound);

        var failed = Assert.Single(Drain(a)).TaskFailed;
        Assert.Equal("not found at origin: https://origin.test/files/app.tar", failed.Error);
        Assert.Equal(SourceErrorKind.NotFound, failed.Kind);
        Assert.Equal(1, TaskFailedCount(Drain(seed)));
        Assert.Null(Find("k"));
        Assert.Null(LiveManifest(TaskId));

        Register(TaskId, key: "k");
        Assert.Single(Drain(seed), m => m.EventCase == Kind.FetchSource); // the seed failed the old task, not this one
    }

    [Fact]
    public void SourceFailed_FromAPeerThatIsNotTheSource_IsIgnored()
    {
        var seed = Connect("seed", seed: true);
        Register(TaskId);
        var a = Connect("a");
        Join(a);
        Drain(a);

        SourceFailed(a, "nope", permanent: true);

        Assert.Empty(Drain(a));
        Assert.NotNull(LiveManifest(TaskId));
        Assert.Single(Drain(seed), m => m.EventCase == Kind.FetchSource);
    }

    [Fact]
    public void Register_AgainstTheLiveTask_RefusesWithTheConflictsKind()
    {
        Connect("seed", seed: true);
        Register(TaskId, key: "first");

        var resized = Apply(Registration(TaskId, "resized") with { Size = (Pieces + 1) * (long)TestManifests.PieceSize });
        var repieced = Apply(Registration(TaskId, "repieced") with { PieceSize = 2 * TestManifests.PieceSize, PieceSizeRequested = true });

        Assert.Contains("the object changed", resized.Conflict);
        Assert.Equal(TaskErrorKind.SourceChanged, resized.ConflictKind); // the registrar's dragonfly-error-kind trailer
        Assert.NotNull(repieced.Conflict);
        Assert.Equal(TaskErrorKind.Other, repieced.ConflictKind); // the request's doing, not the origin's
    }

    [Fact]
    public void Register_TheSameIdAgain_JoinsTheLiveTask_AndItsKeyFindsIt()
    {
        var seed = Connect("seed", seed: true);
        Register(TaskId, key: "first");

        var again = Register(TaskId, key: "second", expected: Digest("late --digest"));

        Assert.Equal(TaskId, again.Digest);
        Assert.Single(Drain(seed), m => m.EventCase == Kind.FetchSource);
        Assert.Equal(TaskId, Find("first")!.Manifest!.Digest);
        Assert.Equal(TaskId, Find("second")!.Manifest!.Digest);
        Assert.Null(Find("third"));
    }

    [Fact]
    public void Register_WithAnotherSizeThanTheLiveTask_IsRefused()
    {
        Register(TaskId, key: "k");

        var result = Apply(Registration(TaskId, "k2") with { Size = 3 * TestManifests.PieceSize });

        Assert.Null(result.Manifest);
        Assert.Contains("bytes now", result.Conflict);
    }

    [Fact]
    public void Register_ContentAddressed_WhenThePublishedContentIsInTheSwarm_IsSourcedWithoutAFetch()
    {
        var published = TestManifests.Create("layer", Pieces);
        _catalogue[published.Digest] = published;
        var seed = Connect("seed", seed: true);
        var publisher = Connect("pub");
        Handle(publisher, new PeerEvent
        {
            Join = new JoinTask { Digest = published.Digest, Bitmap = ByteString.CopyFrom(PieceBitmap.Full(Pieces).ToBytes()), Publisher = true },
        });

        var manifest = Apply(Registration(published.Digest, "content") with { ContentAddressed = true, ExpectedDigest = published.Digest }).Manifest!;

        Assert.Equal(published.PieceDigests, manifest.PieceDigests);
        Assert.Equal(published.Digest, manifest.ContentDigest);
        Assert.Empty(Drain(seed));
        Assert.Equal(published.Digest, Assert.Single(Drain(publisher), m => m.EventCase == Kind.TaskSourced).TaskSourced.ContentDigest);
    }

    [Fact]
    public void Register_ContentAddressed_WithAnotherPieceSizeThanThePublishedContent_IsRefused()
    {
        var published = TestManifests.Create("layer", Pieces);
        _catalogue[published.Digest] = published;

        var result = Apply(Registration(published.Digest, "content") with
        {
            ContentAddressed = true,
            ExpectedDigest = published.Digest,
            PieceSize = 2 * TestManifests.PieceSize,
            PieceSizeRequested = true,
            Size = published.Size,
        });

        Assert.Contains($"{TestManifests.PieceSize}-byte pieces", result.Conflict);
    }

    [Fact]
    public void SourcedTask_WhenThePeersHoldingItLeave_GetsANewSourceAfterTheGrace()
    {
        var seed = Connect("seed", seed: true);
        Register(TaskId);
        Join(seed, publisher: true);
        var a = Connect("a");
        Join(a);
        Finished(seed, Enumerable.Range(0, Pieces).ToArray());
        Handle(seed, new PeerEvent { SourceDone = new SourceDone { Digest = TaskId, ContentDigest = Digest("content") } });
        Drain(a);

        _coordinator.Apply(new SwarmCommand.Disconnect(seed));
        _coordinator.Apply(new SwarmCommand.Tick());
        _time.Advance(TimeSpan.FromSeconds(11));
        _coordinator.Apply(new SwarmCommand.Tick());

        var fetch = Assert.Single(Drain(a), m => m.EventCase == Kind.FetchSource).FetchSource;
        Assert.Equal(Pieces, fetch.Manifest.PieceDigests.Count(d => !d.IsEmpty));
    }

    [Fact]
    public void LoopbackParent_IsHandedToARemoteChildUnderTheBrokerAddressThatChildUses()
    {
        var seed = new PeerSession("seed", "127.0.0.1", 8003, seed: true);
        _coordinator.Apply(new SwarmCommand.Connect(seed));
        Register(TaskId);
        Join(seed, publisher: true);
        Finished(seed, 0);
        var remote = new PeerSession("remote", "10.0.0.7", 4000, uploadSlots: 4, brokerAddress: "10.0.0.1");
        _coordinator.Apply(new SwarmCommand.Connect(remote));

        Join(remote);

        var parent = Drain(remote).Single(m => m.EventCase == Kind.Parents).Parents.Parents.Single();
        Assert.Equal(("10.0.0.1", 8003), (parent.Host, parent.Port));
    }

    [Fact]
    public void UntouchedTask_WithoutMembersOrSource_IsForgottenAfterTheIdleExpiry()
    {
        Register(TaskId, key: "k");

        _time.Advance(new SourceOptions().IdleExpiry);
        _coordinator.Apply(new SwarmCommand.Tick());

        Assert.Null(Find("k"));
    }

    private SwarmCoordinator NewCoordinator(SourceOptions sources) => new(
        "broker-test",
        digest => _catalogue.GetValueOrDefault(digest),
        new ParentSelectionPolicy(_time, new Random(7), maxParents: 2),
        _time,
        NullLogger<SwarmCoordinator>.Instance,
        sources,
        _stored.Add);

    private static string Digest(string seed) => ContentDigest.FromHash(SHA256.HashData(Encoding.UTF8.GetBytes(seed))).ToString();

    private static ByteString PieceDigest(int index) => ByteString.CopyFrom(SHA256.HashData(Encoding.UTF8.GetBytes($"piece/{index}")));

    private static UrlTaskRegistration Registration(string taskId, string key) => new()
    {
        Key = key,
        TaskId = taskId,
        Url = new Uri(Url),
        RedactedUrl = "https://origin.test/files/app.tar?X-Amz-Signature=***",
        Size = Pieces * (long)TestManifests.PieceSize,
        PieceSize = TestManifests.PieceSize,
        Name = "app.tar",
        Topic = "releases/app",
        Requester = "requester",
    };

    private Manifest Register(string taskId, string? key = null, IReadOnlyList<Header>? headers = null, string? expected = null)
    {
        var result = Apply(Registration(taskId, key ?? taskId) with { Headers = headers ?? [], ExpectedDigest = expected });
        Assert.Null(result.Conflict);
        return result.Manifest!;
    }

    private UrlTaskResult Apply(UrlTaskRegistration registration)
    {
        var reply = new TaskCompletionSource<UrlTaskResult>();
        _coordinator.Apply(new SwarmCommand.RegisterUrl(registration, reply));
        return reply.Task.Result;
    }

    private UrlTaskResult? Find(string key)
    {
        var reply = new TaskCompletionSource<UrlTaskResult?>();
        _coordinator.Apply(new SwarmCommand.FindUrl(key, null, reply));
        return reply.Task.Result;
    }

    private Manifest? LiveManifest(string digest)
    {
        var reply = new TaskCompletionSource<Manifest?>();
        _coordinator.Apply(new SwarmCommand.UrlManifest(digest, reply));
        return reply.Task.Result;
    }

    private SwarmSnapshot Snapshot()
    {
        var reply = new TaskCompletionSource<SwarmSnapshot>();
        _coordinator.Apply(new SwarmCommand.Snapshot(reply));
        return reply.Task.Result;
    }

    private PeerSession Connect(string peerId, bool seed = false, bool maySource = true)
    {
        var session = new PeerSession(peerId, "10.0.0.1", 4000, uploadSlots: 4, seed: seed, maySource: maySource);
        _coordinator.Apply(new SwarmCommand.Connect(session));
        return session;
    }

    private void Handle(PeerSession session, PeerEvent message) => _coordinator.Apply(new SwarmCommand.Event(session, message));

    private void Join(PeerSession session, bool publisher = false) => Handle(session, new PeerEvent
    {
        Join = new JoinTask { Digest = TaskId, Bitmap = ByteString.CopyFrom(new PieceBitmap(Pieces).ToBytes()), Publisher = publisher },
    });

    private void Finished(PeerSession session, params int[] indexes) => Handle(session, new PeerEvent
    {
        PiecesFinished = new PiecesFinished { Digest = TaskId, Indexes = { indexes }, Digests = { indexes.Select(PieceDigest) } },
    });

    private void SourceFailed(PeerSession session, string error, bool permanent, SourceErrorKind kind = SourceErrorKind.Unspecified) => Handle(session, new PeerEvent
    {
        SourceFailed = new SourceFailed { Digest = TaskId, Error = error, Permanent = permanent, Kind = kind },
    });

    private static int TaskFailedCount(List<SchedulerEvent> messages) => messages.Count(m => m.EventCase == Kind.TaskFailed);
}
