using System.Threading.Channels;
using Dragonfly.PubSub.Contracts.Scheduler;
using Grpc.Core;

namespace Dragonfly.PubSub.Broker.Grpc;

/// <summary>
/// Writes a session's queued events to its response stream. Events queued behind the one being written go
/// out with it: every write but the last of a burst carries BufferHint, so a burst of PieceAvailable relays
/// costs one HTTP/2 flush, one TLS record and one send instead of one per event (the broker's cost per
/// relayed event was ~80 us, most of it that flush). A lone event is flushed at once, as before.
/// </summary>
internal static class OutboundPump
{
    /// <summary>Most events held back unflushed, so that a long queue still reaches the agent in steps.</summary>
    public const int MaxBurst = 64;

    private static readonly WriteOptions Buffered = new(WriteFlags.BufferHint);

    /// <param name="written">Told of each event after its write (the session times its answers).</param>
    public static async Task RunAsync(ChannelReader<SchedulerEvent> outbound, IServerStreamWriter<SchedulerEvent> stream, CancellationToken cancellationToken,
        Action<SchedulerEvent>? written = null)
    {
        var held = 0;
        while (await outbound.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
        {
            while (outbound.TryRead(out var message))
            {
                // Count is known for the session's bounded queue; another event behind this one flushes it.
                var more = outbound.CanCount && outbound.Count > 0 && held < MaxBurst - 1;
                stream.WriteOptions = more ? Buffered : null;
                await stream.WriteAsync(message, cancellationToken).ConfigureAwait(false);
                written?.Invoke(message);
                held = more ? held + 1 : 0;
            }
        }
    }
}
