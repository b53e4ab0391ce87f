using Dragonfly.PubSub.Broker.Grpc;
using Dragonfly.PubSub.Broker.Scheduling;
using Dragonfly.PubSub.Broker.Swarm;
using Dragonfly.PubSub.Broker.UrlTasks;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Contracts.Scheduler;
using Dragonfly.PubSub.Origins;
using Grpc.Core;
using Microsoft.Extensions.Logging.Abstractions;

namespace Dragonfly.PubSub.Broker.Tests.UrlTasks;

/// <summary>RegisterUrlTask up to the coordinator, against an in-memory origin (no network).</summary>
public sealed class UrlTaskRegistrarTests : IAsyncLifetime
{
    private const long Size = 10 * 1024 * 1024;
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    private readonly FakeOrigin _origin = new();
    private readonly OriginRegistry _registry = new();
    private readonly SwarmCoordinator _coordinator;
    private readonly UrlTaskRegistrar _registrar;

    public UrlTaskRegistrarTests()
    {
        _registry.Register(_origin);
        _coordinator = new SwarmCoordinator(
            "broker-test",
            _ => null,
            new ParentSelectionPolicy(TimeProvider.System, new Random(7), maxParents: 4),
            TimeProvider.System,
            NullLogger<SwarmCoordinator>.Instance);
        _registrar = new UrlTaskRegistrar(new OriginClient(_registry), _coordinator, NullLogger<UrlTaskRegistrar>.Instance);
    }

    public Task InitializeAsync() => _coordinator.StartAsync(CancellationToken.None);

    public async Task DisposeAsync()
    {
        await _coordinator.StopAsync(CancellationToken.None);
        _registry.Dispose();
    }

    [Fact]
    public async Task ConcurrentRegistrations_OfTheSameObject_StatOnceAndShareOneTask()
    {
        _origin.Gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var calls = Enumerable.Range(0, 5)
            .Select(_ => _registrar.RegisterAsync(Request("https://origin.test/app.tar?v=1&X-Amz-Signature=sig&X-Amz-Date=2025"), CancellationToken.None))
            .ToList();
        while (_origin.Stats == 0)
        {
            await Task.Delay(5);
        }

        _origin.Gate.SetResult();
        var outcomes = await Task.WhenAll(calls).WaitAsync(Timeout);

        Assert.All(outcomes, o => Assert.Null(o.Error));
        Assert.Single(outcomes.Select(o => o.Manifest!.Digest).Distinct());
        Assert.Equal(1, _origin.Stats);

        // Later requests with the same credentials for the live task skip the stat too.
        var later = await _registrar.RegisterAsync(Request("https://origin.test/app.tar?X-Amz-Date=2025&X-Amz-Signature=sig&v=1"), CancellationToken.None).WaitAsync(Timeout);
        Assert.Equal(outcomes[0].Manifest!.Digest, later.Manifest!.Digest);
        Assert.Equal(1, _origin.Stats);
    }

    [Fact]
    public async Task OtherSignatures_OfTheSameObject_AreCheckedAtTheOrigin_ThenShareOneTask()
    {
        // Issue 11, attack 4: each new signature is tried at the origin before it joins the live task.
        var first = await Register(Request("https://origin.test/app.tar?v=1&X-Amz-Signature=good1"));
        var second = await Register(Request("https://origin.test/app.tar?v=1&X-Amz-Signature=good2"));

        Assert.Equal(first.Manifest!.Digest, second.Manifest!.Digest);
        Assert.Equal(2, _origin.Stats);
        Assert.Equal(UrlTaskId.Compute(new Uri("https://origin.test/app.tar?v=1"), first.Manifest.PieceSize).ToString(), first.Manifest.Digest);
    }

    [Theory]
    [InlineData("https://origin.test/app.tar?v=1&X-Amz-Signature=bad", null)]
    [InlineData("https://origin.test/app.tar?v=1", "Bearer bad")]
    [InlineData("https://mallory:guess@origin.test/app.tar?v=1", null)]
    public async Task BadCredentials_ForALiveTask_GetTheOriginsRefusal_NotTheTask(string url, string? authorization)
    {
        var good = Request("https://origin.test/app.tar?v=1&X-Amz-Signature=good");
        good.Headers.Add(new Header { Name = "Authorization", Value = "Bearer good" });
        var live = await Register(good);
        Assert.Null(live.Error);

        _origin.Refuse = u => u.Query.Contains("=good", StringComparison.Ordinal) ? null
            : new OriginException(OriginErrorKind.AccessDenied, "origin.test answered 403 Forbidden", "https://origin.test/app.tar", 403);
        var bad = Request(url);
        if (authorization is not null)
        {
            bad.Headers.Add(new Header { Name = "Authorization", Value = authorization });
        }
        var outcome = await Register(bad);

        Assert.Null(outcome.Manifest);
        Assert.Equal(UrlTaskErrorKind.FailedPrecondition, outcome.ErrorKind);
        Assert.Equal(2, _origin.Stats);
    }

    [Fact]
    public async Task Register_DerivesLayoutAndTaskIdFromTheStat()
    {
        var request = Request("https://origin.test/dir/app%20v1.tar");
        request.Tag = "nightly";
        request.FilterParams.Add("token");

        var manifest = (await Register(request)).Manifest!;

        var layout = PieceLayout.For(Size);
        Assert.Equal(UrlTaskId.Compute(new Uri(request.Url), layout.PieceSize, "nightly", ["token"]).ToString(), manifest.Digest);
        Assert.Equal((Size, layout.PieceSize, layout.PieceCount), (manifest.Size, manifest.PieceSize, manifest.PieceDigests.Count));
        Assert.All(manifest.PieceDigests, d => Assert.True(d.IsEmpty));
        Assert.True(manifest.UrlTask);
        Assert.Equal("app v1.tar", manifest.Name);
        Assert.Equal("", manifest.ContentDigest);
    }

    [Fact]
    public async Task Register_WithARequestedPieceSize_UsesIt()
    {
        var request = Request("https://origin.test/app.tar");
        request.PieceSize = PieceLayout.MinPieceSize;

        var manifest = (await Register(request)).Manifest!;

        Assert.Equal(PieceLayout.MinPieceSize, manifest.PieceSize);
        Assert.Equal(UrlTaskId.Compute(new Uri(request.Url), PieceLayout.MinPieceSize).ToString(), manifest.Digest);
    }

    [Fact]
    public async Task Register_ContentAddressed_UsesTheExpectedDigestAsTaskId()
    {
        var digest = "sha256:" + new string('a', 64);
        var request = Request("https://mirror.test/v2/library/app/blobs/" + digest);
        request.ExpectedDigest = digest.ToUpperInvariant().Replace("SHA256:", "sha256:", StringComparison.Ordinal);
        request.ContentAddressed = true;

        var manifest = (await Register(request)).Manifest!;

        Assert.Equal(digest, manifest.Digest);
        Assert.Equal(digest, manifest.ContentDigest);
    }

    [Fact]
    public async Task Register_ReturnsTheCallersNameTopicLabelsAndRequester()
    {
        var first = Request("https://origin.test/app.tar");
        await Register(first);
        var second = Request("https://origin.test/app.tar");
        second.Name = "renamed.tar";
        second.Topic = "releases/app";
        second.Labels["arch"] = "arm64";
        second.Requester = "agent-2";

        var manifest = (await Register(second)).Manifest!;

        Assert.Equal(("renamed.tar", "releases/app", "agent-2"), (manifest.Name, manifest.Topic, manifest.Publisher));
        Assert.Equal("arm64", manifest.Labels["arch"]);
    }

    [Theory]
    [InlineData("https://origin.test/", "download")]
    [InlineData("https://origin.test/a/b/layer.tgz?x=1", "layer.tgz")]
    [InlineData("s3://bucket/path/to/object.bin", "object.bin")]
    [InlineData("https://origin.test/a/%2E%2E", "download")]
    public void DefaultName_IsTheLastPathSegmentWhenItIsAFileName(string url, string expected)
    {
        Assert.Equal(expected, UrlTaskRegistrar.DefaultName(new Uri(url)));
    }

    [Theory]
    [InlineData("not a url", "", "", false, "", "", "is not a URL")]
    [InlineData("gopher://origin.test/x", "", "", false, "", "", "unsupported URL scheme 'gopher'")]
    [InlineData("https://origin.test/x", "Bad Name", "", false, "", "", "header 'Bad Name' is malformed")]
    [InlineData("https://origin.test/x", " ", "", false, "", "", "a header has no name")]
    [InlineData("https://origin.test/x", "", "sha256:abc", false, "", "", "is not sha256:")]
    [InlineData("https://origin.test/x", "", "", true, "", "", "needs its expected digest")]
    [InlineData("https://origin.test/x", "", "", false, "../x", "", "is a path")]
    [InlineData("https://origin.test/x", "", "", false, "", "releases/#", "wildcard")]
    public async Task Register_WithABadRequest_IsInvalidArgument(
        string url, string headerName, string expected, bool contentAddressed, string name, string topic, string message)
    {
        var request = Request(url);
        if (headerName.Length > 0)
        {
            request.Headers.Add(new Header { Name = headerName, Value = "secret-value" });
        }
        request.ExpectedDigest = expected;
        request.ContentAddressed = contentAddressed;
        request.Name = name;
        request.Topic = topic;

        var outcome = await Register(request);

        Assert.Null(outcome.Manifest);
        Assert.Equal(UrlTaskErrorKind.InvalidArgument, outcome.ErrorKind);
        Assert.Contains(message, outcome.Error);
        Assert.DoesNotContain("secret-value", outcome.Error);
        Assert.Equal(0, _origin.Stats);
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(1000)]
    [InlineData(PieceLayout.MaxPieceSize + 1)]
    public async Task Register_WithAPieceSizeOutOfRange_IsInvalidArgument(int pieceSize)
    {
        var request = Request("https://origin.test/x");
        request.PieceSize = pieceSize;

        var outcome = await Register(request);

        Assert.Equal(UrlTaskErrorKind.InvalidArgument, outcome.ErrorKind);
        Assert.Contains("piece size", outcome.Error);
    }

    [Theory]
    [InlineData(OriginErrorKind.NotFound, UrlTaskErrorKind.NotFound, TaskErrorKind.NotFound)]
    [InlineData(OriginErrorKind.AccessDenied, UrlTaskErrorKind.FailedPrecondition, TaskErrorKind.AccessDenied)]
    [InlineData(OriginErrorKind.Rejected, UrlTaskErrorKind.FailedPrecondition, TaskErrorKind.Rejected)]
    public async Task Register_WhenTheOriginRefuses_MapsTheKind_AndStatsAgainNextTime(OriginErrorKind kind, UrlTaskErrorKind expected, TaskErrorKind cause)
    {
        _origin.Error = new OriginException(kind, "origin says no: https://origin.test/x", "https://origin.test/x", 404);
        var request = Request("https://origin.test/x");
        request.Headers.Add(new Header { Name = "Authorization", Value = "Bearer secret-value" });

        var outcome = await Register(request);
        await Register(request);

        Assert.Equal(expected, outcome.ErrorKind);
        Assert.Equal(cause, outcome.Cause); // the gRPC edge names it in the dragonfly-error-kind trailer
        Assert.Equal("origin says no: https://origin.test/x", outcome.Error);
        Assert.Equal(2, _origin.Stats); // a failure is not cached
    }

    [Fact]
    public async Task Register_WhenTheOriginDoesNotTellTheSize_IsAFailedPrecondition()
    {
        _origin.Size = null;

        var outcome = await Register(Request("https://origin.test/stream?token=abc"));

        Assert.Equal(UrlTaskErrorKind.FailedPrecondition, outcome.ErrorKind);
        Assert.Contains("does not tell its size", outcome.Error);
        Assert.DoesNotContain("abc", outcome.Error);
    }

    [Theory]
    [InlineData(OriginErrorKind.NotFound, UrlTaskErrorKind.NotFound)]
    [InlineData(OriginErrorKind.AccessDenied, UrlTaskErrorKind.FailedPrecondition)]
    [InlineData(OriginErrorKind.Rejected, UrlTaskErrorKind.FailedPrecondition)]
    [InlineData(OriginErrorKind.RangeNotSatisfiable, UrlTaskErrorKind.FailedPrecondition)]
    [InlineData(OriginErrorKind.Tls, UrlTaskErrorKind.FailedPrecondition)]
    [InlineData(OriginErrorKind.Protocol, UrlTaskErrorKind.FailedPrecondition)]
    [InlineData(OriginErrorKind.InvalidUrl, UrlTaskErrorKind.InvalidArgument)]
    [InlineData(OriginErrorKind.Unavailable, UrlTaskErrorKind.Unavailable)]
    [InlineData(OriginErrorKind.Timeout, UrlTaskErrorKind.Unavailable)]
    public void Map_GivesEveryOriginFailureAKind(OriginErrorKind origin, UrlTaskErrorKind expected)
    {
        Assert.Equal(expected, UrlTaskRegistrar.Map(origin));
    }

    [Theory]
    [InlineData(UrlTaskErrorKind.InvalidArgument, StatusCode.InvalidArgument)]
    [InlineData(UrlTaskErrorKind.NotFound, StatusCode.NotFound)]
    [InlineData(UrlTaskErrorKind.FailedPrecondition, StatusCode.FailedPrecondition)]
    [InlineData(UrlTaskErrorKind.Unavailable, StatusCode.Unavailable)]
    public void StatusOf_MapsEveryKindToTheStatusTheProtoNames(UrlTaskErrorKind kind, StatusCode expected)
    {
        Assert.Equal(expected, SchedulerService.StatusOf(kind));
    }

    [Theory]
    [InlineData(TaskErrorKind.AccessDenied)]
    [InlineData(TaskErrorKind.DigestMismatch)]
    [InlineData(TaskErrorKind.Other)]
    public void Refusal_NamesTheCauseInItsTrailer_AndTheAgentReadsItBack(TaskErrorKind cause)
    {
        var outcome = UrlTaskOutcome.Failed(UrlTaskErrorKind.FailedPrecondition, "origin.test answered 403 Forbidden") with { Cause = cause };

        var refusal = SchedulerService.Refusal(outcome);

        Assert.Equal(StatusCode.FailedPrecondition, refusal.StatusCode);
        Assert.Equal("origin.test answered 403 Forbidden", refusal.Status.Detail);
        Assert.Equal(TaskErrorKinds.Name(cause), refusal.Trailers.GetValue(TaskErrorKinds.TrailerKey));
        Assert.Equal(cause, Dragonfly.PubSub.Agent.Swarm.SchedulerSession.ErrorKindOf(refusal));
    }

    private Task<UrlTaskOutcome> Register(RegisterUrlTaskRequest request) =>
        _registrar.RegisterAsync(request, CancellationToken.None).WaitAsync(Timeout);

    private static RegisterUrlTaskRequest Request(string url) => new() { Url = url, Requester = "agent-1" };

    /// <summary>An origin that answers stats from memory and counts them.</summary>
    private sealed class FakeOrigin : IOrigin
    {
        private int _stats;

        public IReadOnlyCollection<string> Schemes { get; } = ["https", "s3"];

        public int Stats => Volatile.Read(ref _stats);

        public long? Size { get; set; } = UrlTaskRegistrarTests.Size;

        public OriginException? Error { get; set; }

        public TaskCompletionSource? Gate { get; set; }

        /// <summary>Refuses some URLs (e.g. a bad signature); null = accept.</summary>
        public Func<Uri, OriginException?>? Refuse { get; set; }

        public async Task<OriginObject> StatAsync(Uri url, OriginRequestOptions options, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _stats);
            if (Gate is { } gate)
            {
                await gate.Task.WaitAsync(cancellationToken);
            }
            if (Error is { } error)
            {
                throw error;
            }
            if (Refuse?.Invoke(url) is { } refused)
            {
                throw refused;
            }
            return new OriginObject { Url = url, Size = Size, SupportsRanges = true };
        }

        public Task<Stream> OpenRangeAsync(Uri url, long offset, long? length, OriginRequestOptions options, CancellationToken cancellationToken) =>
            throw new InvalidOperationException("the broker never reads an object's bytes");
    }
}
