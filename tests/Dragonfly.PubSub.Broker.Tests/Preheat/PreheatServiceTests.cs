using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text.Json;
using Dragonfly.PubSub.Broker.Announcing;
using Dragonfly.PubSub.Broker.Catalogue;
using Dragonfly.PubSub.Broker.Diagnostics;
using Dragonfly.PubSub.Broker.Http;
using Dragonfly.PubSub.Broker.Preheat;
using Dragonfly.PubSub.Broker.Scheduling;
using Dragonfly.PubSub.Broker.Swarm;
using Dragonfly.PubSub.Broker.UrlTasks;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Contracts.Scheduler;
using Dragonfly.PubSub.Origins;
using Dragonfly.PubSub.Registry.Client;
using Dragonfly.PubSub.Registry.Manifests;
using Dragonfly.PubSub.Registry.Platforms;
using Dragonfly.PubSub.Registry.References;
using Google.Protobuf;
using Microsoft.Extensions.Logging.Abstractions;

namespace Dragonfly.PubSub.Broker.Tests.Preheat;

/// <summary>
/// Preheat jobs against the real registrar and coordinator (a simulated seed session fetches), with the
/// registry resolution faked in memory (<see cref="FakeImageResolver"/>). No network.
/// </summary>
public sealed class PreheatServiceTests : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    private readonly string _dir = Directory.CreateTempSubdirectory("dfbroker-preheat-").FullName;
    private readonly ManifestCatalogue _catalogue;
    private readonly UrlTaskNews _news = new();
    private readonly SwarmCoordinator _coordinator;
    private readonly OriginRegistry _origins = new();
    private readonly FakeRegistryOrigin _origin = new();
    private readonly ConcurrentQueue<Announcement> _announced = new();
    private readonly RecordingIntake _intake;
    private readonly RecordingAnnouncer _announcer;
    private readonly FakeImageResolver _resolver = new();
    private readonly PeerSession _seed = new("seed", "127.0.0.1", 8003, uploadSlots: 4, seed: true);
    private readonly PreheatService _service;

    public PreheatServiceTests()
    {
        _catalogue = new ManifestCatalogue(_dir);
        _origins.Register(_origin);
        _coordinator = new SwarmCoordinator(
            "broker-test",
            _ => null,
            new ParentSelectionPolicy(TimeProvider.System, new Random(7), maxParents: 4),
            TimeProvider.System,
            NullLogger<SwarmCoordinator>.Instance,
            news: _news);
        _intake = new RecordingIntake(new UrlTaskRegistrar(new OriginClient(_origins), _coordinator, NullLogger<UrlTaskRegistrar>.Instance), _announced);
        _announcer = new RecordingAnnouncer(_announced);
        _service = NewService();
    }

    public async Task InitializeAsync()
    {
        await _coordinator.StartAsync(CancellationToken.None);
        await _service.StartAsync(CancellationToken.None);
        _coordinator.Connect(_seed);
    }

    public async Task DisposeAsync()
    {
        await _service.StopAsync(CancellationToken.None);
        await _coordinator.StopAsync(CancellationToken.None);
        _origins.Dispose();
        _catalogue.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task Submit_OnePlatform_RegistersItsConfigAndLayersOnce_AsContentAddressedTasksOnTheTopic()
    {
        _resolver.Authorize = true;

        var job = await SubmitAsync("linux/arm64");

        Assert.Equal((FakeImageResolver.Image, "images/app", PreheatStates.Pending), (job.Image, job.Topic, job.State));
        Assert.Equal(["linux/arm64"], job.Platforms);
        var manifest = Assert.Single(job.Manifests);
        Assert.Equal(("linux/arm64", MediaTypes.OciManifest), (manifest.Platform, manifest.MediaType));
        Assert.Equal(Digests(FakeImageResolver.ArmConfig, FakeImageResolver.ArmLayer, FakeImageResolver.SharedLayer), job.Blobs.Select(b => b.Digest));
        Assert.All(job.Blobs, b => Assert.Equal(["linux/arm64"], b.Platforms));
        Assert.Equal(FakeImageResolver.ArmLayer.Size, job.Blobs[1].Size);

        var fetches = await FetchesAsync(3);
        Assert.Equal(Digests(FakeImageResolver.ArmConfig, FakeImageResolver.ArmLayer, FakeImageResolver.SharedLayer).Order(),
            fetches.Select(f => f.Manifest.Digest).Order());
        foreach (var fetch in fetches)
        {
            var digest = ContentDigest.Parse(fetch.Manifest.Digest);
            Assert.Equal(FakeImageResolver.BlobUrl(digest).AbsoluteUri, fetch.Url);
            Assert.Equal(("Authorization", "Bearer token-1"), (fetch.Headers.Single().Name, fetch.Headers.Single().Value));
            Assert.Equal(digest.ToString(), fetch.ExpectedDigest);
        }
        foreach (var request in _intake.Requests)
        {
            Assert.True(request.ContentAddressed);
            Assert.Equal(request.ExpectedDigest, ContentDigest.Prefix + request.Name);
            Assert.Equal("images/app", request.Topic);
            Assert.Equal("image-blob", request.Labels[ImageBlobLabels.Kind]);
            Assert.Equal(FakeImageResolver.Image, request.Labels[ImageBlobLabels.Image]);
            Assert.Equal("linux/arm64", request.Labels[ImageBlobLabels.Platforms]);
            Assert.Equal(job.Blobs.Single(b => b.Digest == request.ExpectedDigest).MediaType, request.Labels[ImageBlobLabels.MediaType]);
        }
        var running = await WaitAsync(job.Id, j => j.Blobs.All(b => b.State == PreheatStates.Running));
        Assert.Equal(PreheatStates.Running, running.State);
        Assert.DoesNotContain("token", JsonSerializer.Serialize(running, BrokerJsonContext.Default.PreheatJob));
    }

    [Fact]
    public async Task Submit_AllPlatforms_TakesEveryBlobOnce_WithThePlatformsThatUseIt()
    {
        var job = await SubmitAsync("all");

        Assert.Equal(["all"], job.Platforms);
        Assert.Equal(2, job.Manifests.Count);
        Assert.Equal(5, job.Blobs.Count);
        Assert.Equal(["linux/amd64", "linux/arm64"], job.Blobs.Single(b => b.Digest == FakeImageResolver.SharedLayer.Digest.ToString()).Platforms);
        await FetchesAsync(5);
        Assert.Equal("linux/amd64,linux/arm64",
            _intake.Requests.Single(r => r.ExpectedDigest == FakeImageResolver.SharedLayer.Digest.ToString()).Labels[ImageBlobLabels.Platforms]);
    }

    [Fact]
    public async Task Job_SucceedsOnceTheSourceHasFetchedEveryBlob_AndIsStored()
    {
        var before = BrokerMetrics.PreheatJobs.WithLabels("succeeded").Value;
        var job = await SubmitAsync("linux/arm64");
        var fetches = await FetchesAsync(3);

        Fetched(fetches[0]);
        var partial = await WaitAsync(job.Id, j => j.Blobs.Count(b => b.State == PreheatStates.Succeeded) == 1);
        Assert.Equal(PreheatStates.Running, partial.State);
        Assert.Null(partial.FinishedAt);
        Fetched(fetches[1]);
        Fetched(fetches[2]);

        var done = await WaitAsync(job.Id, j => j.State == PreheatStates.Succeeded);
        Assert.All(done.Blobs, b => Assert.Equal(PreheatStates.Succeeded, b.State));
        Assert.NotNull(done.FinishedAt);
        Assert.Null(done.Error);
        Assert.Equal(1, BrokerMetrics.PreheatJobs.WithLabels("succeeded").Value - before);
        Assert.Equal(PreheatStates.Succeeded, Assert.Single(new PreheatStore(_catalogue).LoadAll(), j => j.Id == job.Id).State);
        Assert.Equal(job.Id, Assert.Single(_service.List()).Id);
    }

    [Fact]
    public async Task SucceededJob_AnnouncesTheImageLast_WithEveryBlobDigest_AndSucceedsOnlyOnceItIsOut()
    {
        _announcer.Gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var job = await SubmitAsync("linux/arm64");
        foreach (var fetch in await FetchesAsync(3))
        {
            Fetched(fetch);
        }

        // Every blob is in the swarm, the image announcement is on its way: the job is not done before it is out.
        var announcing = await WaitAsync(job.Id, j => j.Blobs.All(b => b.State == PreheatStates.Succeeded));
        while (_announcer.Held == 0)
        {
            await Task.Delay(5);
        }
        Assert.Equal(PreheatStates.Running, announcing.State);
        Assert.Equal(PreheatStates.Running, _service.Find(job.Id)!.State);
        _announcer.Gate.SetResult();
        var done = await WaitAsync(job.Id, j => PreheatStates.IsFinished(j.State));
        Assert.Equal(PreheatStates.Succeeded, done.State);

        // The three per-blob announcements first (live subscribers start at once), the image one last (retained).
        var announced = _announced.ToList();
        Assert.Equal(4, announced.Count);
        Assert.All(announced.Take(3), a => Assert.True(ImageBlobLabels.IsImageBlob(a.Labels)));
        var image = announced[^1];
        Assert.True(ImageBlobLabels.IsImage(image.Labels));
        Assert.Null(image.Validate());
        Assert.Equal(done.Blobs.Select(b => b.Digest), image.Blobs);
        Assert.Equal(Digests(FakeImageResolver.ArmConfig, FakeImageResolver.ArmLayer, FakeImageResolver.SharedLayer), image.Blobs);
        Assert.Equal((job.Digest, ContentDigest.Parse(job.Digest).Hex, "images/app", "preheat-" + job.Id),
            (image.Digest, image.Name, image.Topic, image.Publisher));
        Assert.Equal(FakeImageResolver.ArmConfig.Size + FakeImageResolver.ArmLayer.Size + FakeImageResolver.SharedLayer.Size, image.Size);
        Assert.Equal((0, 0, false, (string?)null), (image.PieceSize, image.PieceCount, image.UrlTask, image.ContentDigest));
        Assert.Equal(FakeImageResolver.Image, image.Labels[ImageBlobLabels.Image]);
        Assert.Equal("linux/arm64", image.Labels[ImageBlobLabels.Platforms]);
        Assert.True(image.CreatedAt >= announced.Take(3).Max(a => a.CreatedAt));
        Assert.Equal(image.Blobs, Announcement.TryParse(image.ToJsonUtf8(), out _)!.Blobs);
    }

    [Fact]
    public async Task SucceededJob_ForAllPlatforms_ListsEveryBlobOnce_AndEveryPlatform()
    {
        var job = await SubmitAsync("all");
        foreach (var fetch in await FetchesAsync(5))
        {
            Fetched(fetch);
        }

        Assert.Equal(PreheatStates.Succeeded, (await WaitAsync(job.Id, j => PreheatStates.IsFinished(j.State))).State);
        var image = _announced.Last();
        Assert.True(ImageBlobLabels.IsImage(image.Labels));
        Assert.Equal(FakeImageResolver.AllBlobs.Select(b => b.Digest.ToString()).Order(), image.Blobs.Order());
        Assert.Equal("linux/amd64,linux/arm64", image.Labels[ImageBlobLabels.Platforms]);
        Assert.Equal(FakeImageResolver.AllBlobs.Sum(b => b.Size), image.Size);
    }

    [Fact]
    public async Task FailedJob_DoesNotAnnounceTheImage()
    {
        var job = await SubmitAsync("linux/arm64");
        var fetches = await FetchesAsync(3);
        var failing = fetches.Single(f => f.Manifest.Digest == FakeImageResolver.ArmLayer.Digest.ToString());
        _coordinator.Handle(_seed, new PeerEvent { SourceFailed = new SourceFailed { Digest = failing.Manifest.Digest, Error = "gone", Permanent = true } });
        foreach (var fetch in fetches.Where(f => f != failing))
        {
            Fetched(fetch);
        }

        Assert.Equal(PreheatStates.Failed, (await WaitAsync(job.Id, j => PreheatStates.IsFinished(j.State))).State);
        await Task.Delay(50);
        Assert.Equal(3, _announced.Count);
        Assert.DoesNotContain(_announced, a => ImageBlobLabels.IsImage(a.Labels));
        Assert.Equal(0, _announcer.Calls);
    }

    [Fact]
    public async Task ImageAnnouncementThatCannotBePublished_FailsTheJob_SayingWhy()
    {
        _announcer.Error = new InvalidOperationException("the MQTT server is gone");
        var job = await SubmitAsync("linux/arm64");
        foreach (var fetch in await FetchesAsync(3))
        {
            Fetched(fetch);
        }

        var done = await WaitAsync(job.Id, j => PreheatStates.IsFinished(j.State));
        Assert.Equal(PreheatStates.Failed, done.State);
        Assert.All(done.Blobs, b => Assert.Equal(PreheatStates.Succeeded, b.State));
        Assert.Equal("every blob was fetched, but the image announcement could not be published (InvalidOperationException); submit the preheat again", done.Error);
        Assert.NotNull(done.FinishedAt);
    }

    [Fact]
    public async Task BlobFailure_WithoutAuthorization_FailsTheBlobAndTheJobWithItsError()
    {
        var job = await SubmitAsync("linux/arm64");
        var fetches = await FetchesAsync(3);
        var failing = fetches.Single(f => f.Manifest.Digest == FakeImageResolver.ArmLayer.Digest.ToString());

        _coordinator.Handle(_seed, new PeerEvent
        {
            SourceFailed = new SourceFailed { Digest = failing.Manifest.Digest, Error = "not found at origin: https://registry.test/v2/app/blobs/x", Permanent = true },
        });
        foreach (var fetch in fetches.Where(f => f != failing))
        {
            Fetched(fetch);
        }

        var done = await WaitAsync(job.Id, j => PreheatStates.IsFinished(j.State));
        Assert.Equal(PreheatStates.Failed, done.State);
        var blob = done.Blobs.Single(b => b.State == PreheatStates.Failed);
        Assert.Equal(failing.Manifest.Digest, blob.Digest);
        Assert.Equal("not found at origin: https://registry.test/v2/app/blobs/x", blob.Error);
        Assert.Equal($"blob {blob.Digest} failed: {blob.Error}", done.Error);
        Assert.Equal(1, _resolver.Locates(FakeImageResolver.ArmLayer.Digest)); // no Authorization: nothing to refresh
    }

    [Fact]
    public async Task BlobFailure_WithAuthorization_IsRetriedOnceWithAFreshAuthorization()
    {
        _resolver.Authorize = true;
        var job = await SubmitAsync("linux/arm64");
        var fetches = await FetchesAsync(3);
        var layer = fetches.Single(f => f.Manifest.Digest == FakeImageResolver.ArmLayer.Digest.ToString());
        foreach (var fetch in fetches.Where(f => f != layer))
        {
            Fetched(fetch);
        }

        _coordinator.Handle(_seed, new PeerEvent
        {
            SourceFailed = new SourceFailed { Digest = layer.Manifest.Digest, Error = "access denied by origin (401): https://registry.test/v2/app/blobs/x", Permanent = true },
        });

        var again = Assert.Single(await FetchesAsync(1));
        Assert.Equal(layer.Manifest.Digest, again.Manifest.Digest);
        Assert.Equal("Bearer token-2", again.Headers.Single().Value);
        // The blob is back to running (not failed); the service records that just after it registers the retry,
        // so it is waited for rather than read at once (it read "pending" once under load).
        await WaitAsync(job.Id, j => j.Blobs.Single(b => b.Digest == layer.Manifest.Digest).State == PreheatStates.Running);
        Fetched(again);
        var done = await WaitAsync(job.Id, j => PreheatStates.IsFinished(j.State));
        Assert.Equal(PreheatStates.Succeeded, done.State);
        Assert.Equal(2, _resolver.Locates(FakeImageResolver.ArmLayer.Digest));
    }

    [Fact]
    public async Task BlobFailure_AfterItsRetry_FailsTheJob()
    {
        _resolver.Authorize = true;
        var job = await SubmitAsync("linux/arm64");
        var fetches = await FetchesAsync(3);
        var layer = fetches.Single(f => f.Manifest.Digest == FakeImageResolver.ArmLayer.Digest.ToString());
        var denied = new PeerEvent { SourceFailed = new SourceFailed { Digest = layer.Manifest.Digest, Error = "access denied by origin (401)", Permanent = true } };

        _coordinator.Handle(_seed, denied);
        await FetchesAsync(1);
        _coordinator.Handle(_seed, denied);
        foreach (var fetch in fetches.Where(f => f != layer))
        {
            Fetched(fetch);
        }

        var done = await WaitAsync(job.Id, j => PreheatStates.IsFinished(j.State));
        Assert.Equal(PreheatStates.Failed, done.State);
        Assert.Equal("access denied by origin (401)", done.Blobs.Single(b => b.Digest == layer.Manifest.Digest).Error);
    }

    [Fact]
    public async Task RegistrationFailure_FailsTheBlob()
    {
        var url = FakeImageResolver.BlobUrl(FakeImageResolver.ArmConfig.Digest);
        _origin.Errors[url] = new OriginException(OriginErrorKind.NotFound, $"not found at origin: {url}", url.AbsoluteUri, 404);

        var job = await SubmitAsync("linux/arm64");
        foreach (var fetch in await FetchesAsync(2))
        {
            Fetched(fetch);
        }

        var done = await WaitAsync(job.Id, j => PreheatStates.IsFinished(j.State));
        Assert.Equal(PreheatStates.Failed, done.State);
        var failed = Assert.Single(done.Blobs, b => b.State == PreheatStates.Failed);
        Assert.Equal((FakeImageResolver.ArmConfig.Digest.ToString(), $"not found at origin: {url}"), (failed.Digest, failed.Error));
    }

    [Fact]
    public async Task SecondJob_ForBlobsAlreadyInTheSwarm_SucceedsWithoutAnotherFetch()
    {
        var first = await SubmitAsync("linux/arm64");
        foreach (var fetch in await FetchesAsync(3))
        {
            Fetched(fetch);
        }
        await WaitAsync(first.Id, j => j.State == PreheatStates.Succeeded);

        var second = await SubmitAsync("linux/arm64", topic: "images/other");

        var done = await WaitAsync(second.Id, j => PreheatStates.IsFinished(j.State));
        Assert.Equal(PreheatStates.Succeeded, done.State);
        Assert.False(_seed.Outbound.TryRead(out var extra) && extra.EventCase == SchedulerEvent.EventOneofCase.FetchSource);
        Assert.Equal(3, _intake.Requests.Count(r => r.Topic == "images/other")); // announced on the second topic too
        Assert.Equal(["images/app", "images/other"], _announced.Where(a => ImageBlobLabels.IsImage(a.Labels)).Select(a => a.Topic));
    }

    [Fact]
    public async Task NewsThatOvertakesTheRegistrationAnswer_IsNotLost()
    {
        _intake.Gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var job = await SubmitAsync("linux/arm64");
        foreach (var fetch in await FetchesAsync(3))
        {
            Fetched(fetch);
        }
        // The Sourced news reach the jobs while every registration's answer is held back.
        await _coordinator.SnapshotAsync(CancellationToken.None); // SourceDone applied: the news are out
        while (_news.Reader.Count > 0 || _intake.Held < 3)
        {
            await Task.Delay(5);
        }
        await Task.Delay(50);
        Assert.All(_service.Find(job.Id)!.Blobs, b => Assert.Equal(PreheatStates.Pending, b.State));

        _intake.Gate.SetResult();

        Assert.Equal(PreheatStates.Succeeded, (await WaitAsync(job.Id, j => PreheatStates.IsFinished(j.State))).State);
    }

    [Theory]
    [InlineData(RegistryErrorKind.NotFound, 404)]
    [InlineData(RegistryErrorKind.UnknownPlatform, 400)]
    [InlineData(RegistryErrorKind.Unauthorized, 403)]
    [InlineData(RegistryErrorKind.Denied, 403)]
    [InlineData(RegistryErrorKind.Unsupported, 422)]
    [InlineData(RegistryErrorKind.Unavailable, 502)]
    [InlineData(RegistryErrorKind.DigestMismatch, 502)]
    public async Task Submit_WhenTheRegistryRefuses_IsRefusedAtOnce_AndNoJobIsKept(RegistryErrorKind kind, int status)
    {
        _resolver.Error = new RegistryException(kind, "manifest registry.test/app:v1: the registry says no");

        var submission = await _service.SubmitAsync(Request("linux/arm64"), CancellationToken.None).WaitAsync(Timeout);

        Assert.Null(submission.Job);
        Assert.Equal(status, submission.Status);
        Assert.StartsWith("manifest registry.test/app:v1: the registry says no", submission.Error);
        if (status == 403)
        {
            Assert.Contains("give the broker a login for registry.test", submission.Error);
        }
        Assert.Empty(_service.List());
        Assert.Empty(_intake.Requests);
    }

    [Fact]
    public async Task Submit_AnUnknownImageOrPlatform_SaysWhatExists()
    {
        var image = await _service.SubmitAsync(new PreheatRequest(ImageReference.Parse("registry.test/nothing:v1"), PlatformSelector.Parse("linux/arm64"), "t"), CancellationToken.None);
        var platform = await _service.SubmitAsync(Request("linux/s390x,linux/arm64"), CancellationToken.None);

        Assert.Equal((404, "manifest registry.test/nothing:v1 not found on registry.test (404: MANIFEST_UNKNOWN)"), (image.Status, image.Error));
        Assert.Equal(400, platform.Status);
        Assert.Contains("has no linux/s390x image; it has only linux/amd64, linux/arm64", platform.Error);
    }

    [Fact]
    public async Task UnfinishedJobs_AreFailedAfterARestart_AndFinishedOnesAreKept()
    {
        var store = new PreheatStore(_catalogue);
        var created = new DateTimeOffset(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);
        var blobs = new[]
        {
            new PreheatBlob("sha256:" + new string('a', 64), 10, "m", ["linux/arm64"], PreheatStates.Succeeded),
            new PreheatBlob("sha256:" + new string('b', 64), 20, "m", ["linux/arm64"], PreheatStates.Running),
        };
        store.Save(new PreheatJob("running1", FakeImageResolver.Image, "sha256:" + new string('c', 64), ["linux/arm64"], "t",
            PreheatStates.Running, null, created, null, [], blobs));
        store.Save(new PreheatJob("done1", FakeImageResolver.Image, "sha256:" + new string('c', 64), ["linux/arm64"], "t",
            PreheatStates.Succeeded, null, created.AddMinutes(-1), created, [], [.. blobs.Select(b => b with { State = PreheatStates.Succeeded })]));

        var restarted = NewService();

        var interrupted = restarted.Find("running1")!;
        Assert.Equal((PreheatStates.Failed, PreheatService.Restarted), (interrupted.State, interrupted.Error));
        Assert.NotNull(interrupted.FinishedAt);
        Assert.Equal([PreheatStates.Succeeded, PreheatStates.Failed], interrupted.Blobs.Select(b => b.State));
        Assert.Equal("the broker restarted", interrupted.Blobs[1].Error);
        Assert.Equal(PreheatStates.Succeeded, restarted.Find("done1")!.State);
        Assert.Equal(["running1", "done1"], restarted.List().Select(j => j.Id));
        Assert.Equal(PreheatStates.Failed, store.LoadAll().Single(j => j.Id == "running1").State);
    }

    private PreheatService NewService() => new(
        _resolver, _intake, _announcer, new PreheatStore(_catalogue), TimeProvider.System, NullLogger<PreheatService>.Instance, _news);

    private static PreheatRequest Request(string platforms, string topic = "images/app") =>
        new(ImageReference.Parse(FakeImageResolver.Image), PlatformSelector.Parse(platforms), topic);

    private async Task<PreheatJob> SubmitAsync(string platforms, string topic = "images/app")
    {
        var submission = await _service.SubmitAsync(Request(platforms, topic), CancellationToken.None).WaitAsync(Timeout);
        Assert.Null(submission.Error);
        Assert.Equal(202, submission.Status);
        return submission.Job!;
    }

    private static IEnumerable<string> Digests(params Descriptor[] blobs) => blobs.Select(b => b.Digest.ToString());

    /// <summary>The next <paramref name="count"/> FetchSource messages the seed receives.</summary>
    private async Task<List<FetchSource>> FetchesAsync(int count)
    {
        using var timeout = new CancellationTokenSource(Timeout);
        var fetches = new List<FetchSource>();
        while (fetches.Count < count)
        {
            var message = await _seed.Outbound.ReadAsync(timeout.Token);
            if (message.EventCase == SchedulerEvent.EventOneofCase.FetchSource)
            {
                fetches.Add(message.FetchSource);
            }
        }
        return fetches;
    }

    /// <summary>The seed joins, reports every piece with its digest, and the whole blob verified.</summary>
    private void Fetched(FetchSource fetch)
    {
        var digest = fetch.Manifest.Digest;
        var pieces = fetch.Manifest.PieceDigests.Count;
        _coordinator.Handle(_seed, new PeerEvent
        {
            Join = new JoinTask { Digest = digest, Bitmap = ByteString.CopyFrom(new PieceBitmap(pieces).ToBytes()), Publisher = true },
        });
        _coordinator.Handle(_seed, new PeerEvent
        {
            PiecesFinished = new PiecesFinished
            {
                Digest = digest,
                Indexes = { Enumerable.Range(0, pieces) },
                Digests = { Enumerable.Range(0, pieces).Select(i => ByteString.CopyFrom(SHA256.HashData(BitConverter.GetBytes(i)))) },
            },
        });
        _coordinator.Handle(_seed, new PeerEvent { SourceDone = new SourceDone { Digest = digest, ContentDigest = digest } });
    }

    private async Task<PreheatJob> WaitAsync(string id, Func<PreheatJob, bool> until)
    {
        var deadline = DateTime.UtcNow + Timeout;
        while (true)
        {
            var job = _service.Find(id) ?? throw new InvalidOperationException($"no job {id}");
            if (until(job))
            {
                return job;
            }
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"job {id} is still {JsonSerializer.Serialize(job, BrokerJsonContext.Default.PreheatJob)}");
            }
            await Task.Delay(5);
        }
    }

    /// <summary>
    /// The registrar, with the announcement recorded in <paramref name="announced"/> where UrlTaskIntake
    /// publishes it (no MQTT here); records requests, can hold answers back.
    /// </summary>
    private sealed class RecordingIntake(UrlTaskRegistrar registrar, ConcurrentQueue<Announcement> announced) : IUrlTaskIntake
    {
        private readonly ConcurrentQueue<RegisterUrlTaskRequest> _requests = new();
        private int _held;

        public IReadOnlyList<RegisterUrlTaskRequest> Requests => [.. _requests];

        public TaskCompletionSource? Gate { get; set; }

        public int Held => Volatile.Read(ref _held);

        public async Task<UrlTaskOutcome> RegisterAsync(RegisterUrlTaskRequest request, CancellationToken cancellationToken)
        {
            _requests.Enqueue(request.Clone());
            var outcome = await registrar.RegisterAsync(request, cancellationToken);
            if (outcome.Manifest is { Topic.Length: > 0 } manifest)
            {
                announced.Enqueue(AnnouncementPublisher.ToAnnouncement(manifest));
            }
            if (Gate is { } gate)
            {
                Interlocked.Increment(ref _held);
                await gate.Task.WaitAsync(cancellationToken);
            }
            return outcome;
        }
    }

    /// <summary>Records image announcements in the same sequence as the per-blob ones; can hold them back or fail.</summary>
    private sealed class RecordingAnnouncer(ConcurrentQueue<Announcement> announced) : IImageAnnouncer
    {
        private int _calls;
        private int _held;

        public TaskCompletionSource? Gate { get; set; }

        public Exception? Error { get; set; }

        public int Calls => Volatile.Read(ref _calls);

        public int Held => Volatile.Read(ref _held);

        public async Task AnnounceAsync(Announcement image, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _calls);
            if (Gate is { } gate)
            {
                Interlocked.Increment(ref _held);
                await gate.Task.WaitAsync(cancellationToken);
            }
            if (Error is { } error)
            {
                throw error;
            }
            announced.Enqueue(image);
        }
    }
}
