using Dragonfly.PubSub.Broker.Announcing;
using Dragonfly.PubSub.Broker.Catalogue;
using Dragonfly.PubSub.Broker.Grpc;
using Dragonfly.PubSub.Broker.Scheduling;
using Dragonfly.PubSub.Broker.Security;
using Dragonfly.PubSub.Broker.Swarm;
using Dragonfly.PubSub.Broker.UrlTasks;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Contracts.Scheduler;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using MQTTnet.Server;
using Kind = Dragonfly.PubSub.Contracts.Scheduler.SchedulerEvent.EventOneofCase;

namespace Dragonfly.PubSub.Broker.Tests.Grpc;

/// <summary>
/// The broker's own seed on the scheduler without a network: its Connect stream runs the scheduler's session
/// loop in process (secure mode, so the seed's rights come from the in-process path, not from a certificate).
/// </summary>
public sealed class OwnSeedCallInvokerTests : IAsyncLifetime
{
    private const int Pieces = 4;
    private const string SeedHost = "127.0.0.1";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    private readonly string _dir = Directory.CreateTempSubdirectory("dfbroker-ownseed-").FullName;
    private readonly Manifest _manifest = TestManifests.Create("own-seed", Pieces);
    private readonly ManifestCatalogue _catalogue;
    private readonly MqttServer _mqtt = new MqttServerFactory().CreateMqttServer(new MqttServerOptionsBuilder().Build());
    private readonly SwarmCoordinator _coordinator;
    private readonly StoppingLifetime _lifetime = new();
    // Nothing listens on port 1: a call that went over the network fails there as Unavailable.
    private readonly GrpcChannel _network = GrpcChannel.ForAddress("http://127.0.0.1:1");
    private readonly Scheduler.SchedulerClient _client;

    public OwnSeedCallInvokerTests()
    {
        _catalogue = new ManifestCatalogue(_dir);
        _coordinator = new SwarmCoordinator(
            "broker-test",
            digest => digest == _manifest.Digest ? _manifest : null,
            new ParentSelectionPolicy(TimeProvider.System, new Random(7), maxParents: 4),
            TimeProvider.System,
            NullLogger<SwarmCoordinator>.Instance);
        var scheduler = new SchedulerService(
            _catalogue,
            new AnnouncementPublisher(_mqtt, NullLogger<AnnouncementPublisher>.Instance),
            _coordinator,
            new NoUrlTasks(),
            new SchedulerPermissions(secure: true, NullLogger<SchedulerPermissions>.Instance),
            TimeProvider.System,
            _lifetime,
            NullLogger<SchedulerService>.Instance);
        _client = new Scheduler.SchedulerClient(new OwnSeedCallInvoker(_network.CreateCallInvoker(), scheduler, SeedHost));
    }

    public Task InitializeAsync() => _coordinator.StartAsync(CancellationToken.None);

    public async Task DisposeAsync()
    {
        await _coordinator.StopAsync(CancellationToken.None);
        _lifetime.Dispose();
        _network.Dispose();
        _mqtt.Dispose();
        _catalogue.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task TheSeedsHello_IsWelcomed_ItsJoinReachesTheSwarm_AndItIsChosenAsAUrlTasksSource()
    {
        using var call = _client.Connect();
        await call.RequestStream.WriteAsync(Hello());
        Assert.Equal(Kind.Welcome, (await NextAsync(call)).EventCase);

        await call.RequestStream.WriteAsync(new PeerEvent
        {
            Join = new JoinTask { Digest = _manifest.Digest, Bitmap = ByteString.CopyFrom(PieceBitmap.Full(Pieces).ToBytes()), Publisher = true },
        });

        // No Hello.host (a wildcard listen address): the session's host is the address the seed dials from.
        var member = await EventuallyAsync(async () => (await _coordinator.SnapshotAsync(CancellationToken.None)).PeersOf(_manifest.Digest).SingleOrDefault());
        Assert.Equal(("seed-1", SeedHost, 4000), (member.PeerId, member.Host, member.Port));

        var registered = await _coordinator.RegisterUrlTaskAsync(UrlTask(), CancellationToken.None).WaitAsync(Timeout);

        Assert.Null(registered.Conflict);
        // A seed without the right to source would never be sent this (secure mode, no certificate in play).
        Assert.Equal(registered.Manifest!.Digest, (await NextAsync(call)).FetchSource.Manifest.Digest);
    }

    [Fact]
    public async Task TheSeedEndingItsCall_EndsItsSession()
    {
        var call = _client.Connect();
        await call.RequestStream.WriteAsync(Hello());
        await NextAsync(call);
        await WaitForPeersAsync(1);

        call.Dispose();

        await WaitForPeersAsync(0);
        await Assert.ThrowsAnyAsync<InvalidOperationException>(() => call.RequestStream.WriteAsync(Hello()));
    }

    [Fact]
    public async Task TheBrokerEndingTheSession_EndsTheSeedsStream_AndAStoppingBrokerRefusesANewOne()
    {
        using var call = _client.Connect();
        await call.RequestStream.WriteAsync(Hello());
        await NextAsync(call);
        await WaitForPeersAsync(1);

        _coordinator.CloseAllSessions();
        await _lifetime.StopAsync();

        Assert.False(await call.ResponseStream.MoveNext(CancellationToken.None).WaitAsync(Timeout)); // ended, as a stream the server completed
        Assert.Equal(StatusCode.OK, call.GetStatus().StatusCode);
        await WaitForPeersAsync(0);
        using var again = _client.Connect();
        await again.RequestStream.WriteAsync(Hello());
        var refused = await Assert.ThrowsAsync<RpcException>(() => again.ResponseStream.MoveNext(CancellationToken.None).WaitAsync(Timeout));
        Assert.Equal(StatusCode.Unavailable, refused.StatusCode);
    }

    [Fact]
    public async Task AFirstMessageOtherThanHello_FailsTheCall_AsOverTheNetwork()
    {
        using var call = _client.Connect();
        await call.RequestStream.WriteAsync(new PeerEvent { Leave = new LeaveTask { Digest = _manifest.Digest } });

        var refused = await Assert.ThrowsAsync<RpcException>(() => call.ResponseStream.MoveNext(CancellationToken.None).WaitAsync(Timeout));

        Assert.Equal(StatusCode.InvalidArgument, refused.StatusCode);
    }

    [Fact]
    public async Task UnaryCalls_GoOverTheNetworkChannel()
    {
        var call = _client.GetManifestAsync(new GetManifestRequest { Digest = _manifest.Digest });

        var failed = await Assert.ThrowsAsync<RpcException>(() => call.ResponseAsync.WaitAsync(Timeout));

        Assert.Equal(StatusCode.Unavailable, failed.StatusCode);
    }

    private static PeerEvent Hello() => new() { Hello = new Hello { PeerId = "seed-1", PeerPort = 4000, Seed = true, UploadSlots = 4 } };

    private static async Task<SchedulerEvent> NextAsync(AsyncDuplexStreamingCall<PeerEvent, SchedulerEvent> call)
    {
        Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None).WaitAsync(Timeout));
        return call.ResponseStream.Current;
    }

    /// <summary>Waits until the coordinator has <paramref name="count"/> sessions (Connect and Disconnect are applied on its loop).</summary>
    private async Task WaitForPeersAsync(int count) =>
        await EventuallyAsync(async () => (await _coordinator.SnapshotAsync(CancellationToken.None)).Peers == count ? true : (bool?)null);

    /// <summary>Asks until the answer is not null (the coordinator applies events on its own loop).</summary>
    private static async Task<T> EventuallyAsync<T>(Func<Task<T?>> ask)
    {
        var deadline = DateTime.UtcNow + Timeout;
        while (true)
        {
            if (await ask() is { } answer)
            {
                return answer;
            }
            Assert.True(DateTime.UtcNow < deadline, "the coordinator never got there");
            await Task.Delay(10); // polls the coordinator's loop; the interval does not matter
        }
    }

    private static UrlTaskRegistration UrlTask() => new()
    {
        Key = "https://origin.test/app.tar",
        TaskId = ContentDigest.FromHash(System.Security.Cryptography.SHA256.HashData("own-seed-url"u8)).ToString(),
        Url = new Uri("https://origin.test/app.tar"),
        RedactedUrl = "https://origin.test/app.tar",
        Size = Pieces * (long)TestManifests.PieceSize,
        PieceSize = TestManifests.PieceSize,
        Name = "app.tar",
    };

    private sealed class NoUrlTasks : IUrlTaskIntake
    {
        public Task<UrlTaskOutcome> RegisterAsync(RegisterUrlTaskRequest request, CancellationToken cancellationToken) =>
            throw new NotSupportedException("no URL task is registered over the seed's stream");
    }

    private sealed class StoppingLifetime : IHostApplicationLifetime, IDisposable
    {
        private readonly CancellationTokenSource _stopping = new();

        public CancellationToken ApplicationStarted => CancellationToken.None;

        public CancellationToken ApplicationStopping => _stopping.Token;

        public CancellationToken ApplicationStopped => CancellationToken.None;

        public void StopApplication() => _stopping.Cancel();

        public Task StopAsync() => _stopping.CancelAsync();

        public void Dispose() => _stopping.Dispose();
    }
}
