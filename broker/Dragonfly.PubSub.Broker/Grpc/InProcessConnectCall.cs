using System.Threading.Channels;
using Dragonfly.PubSub.Contracts.Scheduler;
using Grpc.Core;

namespace Dragonfly.PubSub.Broker.Grpc;

/// <summary>
/// One <c>Connect</c> call without a network: two bounded queues between the client (the seed's BrokerLink) and
/// the scheduler's session loop. It ends as a gRPC call does: the server's end completes the client's reads (with
/// its RpcException, if it threw) and fails its writes; the client's cancellation or dispose ends the server's
/// reads and fails its writes.
/// </summary>
internal sealed class InProcessConnectCall
{
    /// <summary>
    /// Events in flight each way. A full queue makes the writer wait, as HTTP/2 flow control does; the session's
    /// own bounds (PeerSession.MaxPending, MaxOutbound) still apply behind it, and so does their drop.
    /// </summary>
    internal const int StreamCapacity = 64;

    private static readonly Status Cancelled = new(StatusCode.Cancelled, "the call was cancelled");

    private readonly Channel<PeerEvent> _requests = Bounded<PeerEvent>();
    private readonly Channel<SchedulerEvent> _responses = Bounded<SchedulerEvent>();
    // Not linked to the caller's token: only a registration on it, which Dispose removes (no CTS to dispose).
    private readonly CancellationTokenSource _cancelled = new();
    private readonly CancellationToken _callEnded;
    private readonly CancellationTokenRegistration _fromCaller;
    private readonly Lock _lock = new();
    private Status? _status;

    public InProcessConnectCall(CancellationToken cancellationToken)
    {
        _callEnded = _cancelled.Token;
        _callEnded.UnsafeRegister(static state => ((InProcessConnectCall)state!).End(Cancelled), this);
        _fromCaller = cancellationToken.UnsafeRegister(static state => ((InProcessConnectCall)state!).Cancel(), this);
    }

    /// <summary>Runs the server's side of the call on the thread pool (not on the caller's stack).</summary>
    /// <param name="serve">The session loop: its requests, its responses, and the token of the call's end.</param>
    public void Serve(Func<IAsyncStreamReader<PeerEvent>, IServerStreamWriter<SchedulerEvent>, CancellationToken, Task> serve) =>
        _ = Task.Run(async () =>
        {
            Status status;
            try
            {
                await serve(new QueueReader<PeerEvent>(_requests.Reader), new QueueWriter<SchedulerEvent>(_responses.Writer), _callEnded).ConfigureAwait(false);
                status = Status.DefaultSuccess;
            }
            catch (RpcException e)
            {
                status = e.Status;
            }
            catch (OperationCanceledException) when (_callEnded.IsCancellationRequested)
            {
                status = Cancelled;
            }
            catch (Exception e)
            {
                // As gRPC answers a handler's unexpected exception: Unknown, and the client reconnects.
                status = new Status(StatusCode.Unknown, $"{e.GetType().Name}: {e.Message}");
            }
            End(status);
        });

    /// <summary>The call as the client sees it.</summary>
    public AsyncDuplexStreamingCall<PeerEvent, SchedulerEvent> ClientSide() => new(
        new QueueWriter<PeerEvent>(_requests.Writer),
        new QueueReader<SchedulerEvent>(_responses.Reader),
        Task.FromResult(new Metadata()),
        FinalStatus,
        () => new Metadata(),
        Cancel);

    private Status FinalStatus()
    {
        lock (_lock)
        {
            return _status ?? throw new InvalidOperationException("the call has not ended yet");
        }
    }

    private void Cancel()
    {
        _fromCaller.Dispose();
        _cancelled.Cancel();
    }

    /// <summary>Ends both directions once; the first end's status stands.</summary>
    private void End(Status status)
    {
        lock (_lock)
        {
            if (_status is not null)
            {
                return;
            }
            _status = status;
        }
        _requests.Writer.TryComplete();
        _responses.Writer.TryComplete(status.StatusCode == StatusCode.OK ? null : new RpcException(status));
    }

    private static Channel<T> Bounded<T>() =>
        Channel.CreateBounded<T>(new BoundedChannelOptions(StreamCapacity) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });

    /// <summary>Reads a queue as a gRPC stream; a queue completed with an RpcException throws it, as the call's end would.</summary>
    private sealed class QueueReader<T>(ChannelReader<T> reader) : IAsyncStreamReader<T>
    {
        public T Current { get; private set; } = default!;

        public async Task<bool> MoveNext(CancellationToken cancellationToken)
        {
            while (await reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            {
                if (reader.TryRead(out var item))
                {
                    Current = item;
                    return true;
                }
            }
            return false;
        }
    }

    /// <summary>
    /// Writes a gRPC stream into a queue; after the call's end a write throws (ChannelClosedException, an
    /// InvalidOperationException as gRPC's write after the end is). Write flags mean nothing here: nothing is flushed.
    /// Each message is copied, as the wire would: the coordinator sends one message to many sessions and keeps
    /// catalogue manifests inside them, and the seed keeps what it receives, so neither side may see the other's
    /// later changes.
    /// </summary>
    private sealed class QueueWriter<T>(ChannelWriter<T> writer) : IServerStreamWriter<T>, IClientStreamWriter<T>
        where T : Google.Protobuf.IDeepCloneable<T>
    {
        public WriteOptions? WriteOptions { get; set; }

        public Task WriteAsync(T message) => WriteAsync(message, CancellationToken.None);

        public Task WriteAsync(T message, CancellationToken cancellationToken) => writer.WriteAsync(message.Clone(), cancellationToken).AsTask();

        public Task CompleteAsync()
        {
            writer.TryComplete();
            return Task.CompletedTask;
        }
    }
}
