using System.Threading.Channels;
using Dragonfly.PubSub.Contracts.Scheduler;
using Grpc.Core;

namespace Dragonfly.PubSub.Agent.Tests.Support;

/// <summary>
/// A scheduler client with no network: <c>Connect</c> is a pair of in-memory streams the test
/// writes to (<see cref="Push"/>) and reads from (<see cref="Sent"/>); <c>GetManifest</c> answers
/// from <see cref="Manifests"/>, after <see cref="ManifestGate"/> opens.
/// </summary>
public sealed class FakeScheduler : Scheduler.SchedulerClient
{
    private readonly Channel<SchedulerEvent> _toAgent = Channel.CreateUnbounded<SchedulerEvent>();

    public Channel<PeerEvent> Sent { get; } = Channel.CreateUnbounded<PeerEvent>();

    public Dictionary<string, Manifest> Manifests { get; } = [];

    /// <summary>GetManifest waits for this (open by default).</summary>
    public TaskCompletionSource ManifestGate { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private int _manifestRequests;

    public int ManifestRequests => Volatile.Read(ref _manifestRequests);

    public FakeScheduler()
        : this(closedGate: false)
    {
    }

    private FakeScheduler(bool closedGate)
    {
        if (!closedGate)
        {
            ManifestGate.SetResult();
        }
    }

    /// <summary>A scheduler whose GetManifest answers only once the test opens <see cref="ManifestGate"/>.</summary>
    public static FakeScheduler WithClosedManifestGate() => new(closedGate: true);

    public void Push(SchedulerEvent message) => _toAgent.Writer.TryWrite(message);

    /// <summary>The broker dies: the stream fails (Unavailable), and so does every later one.</summary>
    public void Kill() => _toAgent.Writer.TryComplete(new RpcException(new Status(StatusCode.Unavailable, "broker killed")));

    /// <summary>The next event the agent sent whose case is <paramref name="kind"/>.</summary>
    public async Task<PeerEvent> NextSentAsync(PeerEvent.EventOneofCase kind)
    {
        // One deadline for the whole wait: an agent that keeps sending other events (NeedParents every few
        // seconds) must not keep a test waiting for ever.
        using var deadline = new CancellationTokenSource(TestTimeout.Default);
        try
        {
            while (true)
            {
                var message = await Sent.Reader.ReadAsync(deadline.Token).ConfigureAwait(false);
                if (message.EventCase == kind)
                {
                    return message;
                }
            }
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested)
        {
            throw new TimeoutException($"the agent sent no {kind} within {TestTimeout.Default.TotalSeconds:0} s");
        }
    }

    public override AsyncDuplexStreamingCall<PeerEvent, SchedulerEvent> Connect(CallOptions options) =>
        new(new Writer(Sent.Writer), new Reader(_toAgent.Reader, options.CancellationToken),
            Task.FromResult(new Metadata()), () => Status.DefaultSuccess, () => [], () => { });

    public override AsyncUnaryCall<Manifest> GetManifestAsync(GetManifestRequest request, CallOptions options)
    {
        Interlocked.Increment(ref _manifestRequests);
        return new AsyncUnaryCall<Manifest>(AnswerAsync(request.Digest), Task.FromResult(new Metadata()),
            () => Status.DefaultSuccess, () => [], () => { });
    }

    private async Task<Manifest> AnswerAsync(string digest)
    {
        await ManifestGate.Task;
        return Manifests.TryGetValue(digest, out var manifest)
            ? manifest
            : throw new RpcException(new Status(StatusCode.NotFound, $"no task {digest}"));
    }

    private sealed class Writer(ChannelWriter<PeerEvent> sent) : IClientStreamWriter<PeerEvent>
    {
        public WriteOptions? WriteOptions { get; set; }

        public Task WriteAsync(PeerEvent message) => sent.WriteAsync(message).AsTask();

        public Task WriteAsync(PeerEvent message, CancellationToken cancellationToken) => sent.WriteAsync(message, cancellationToken).AsTask();

        public Task CompleteAsync() => Task.CompletedTask;
    }

    private sealed class Reader(ChannelReader<SchedulerEvent> events, CancellationToken callEnded) : IAsyncStreamReader<SchedulerEvent>
    {
        public SchedulerEvent Current { get; private set; } = null!;

        public async Task<bool> MoveNext(CancellationToken cancellationToken)
        {
            using var both = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, callEnded);
            if (!await events.WaitToReadAsync(both.Token))
            {
                return false;
            }
            Current = await events.ReadAsync(both.Token);
            return true;
        }
    }
}
