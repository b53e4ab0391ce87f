using System.Buffers;
using Dragonfly.PubSub.Contracts.Scheduler;
using Google.Protobuf;
using Grpc.Core;

namespace Dragonfly.PubSub.Bench.BrokerLoad.Agents;

/// <summary>
/// What a simulated agent needs of one SchedulerEvent: which event it is, the request a ParentSet answers, and how
/// many parents' news a PieceAvailable carries. Read straight from the wire, with nothing else kept.
/// <para>
/// Why not the generated SchedulerEvent: a ParentSet of 16 parents is ~6 KB of objects (peer ids, hosts, bitmaps),
/// and gRPC's reader keeps the last message of each stream as <c>Current</c> until the next one, 20–40 s later for
/// a simulated agent. 5,000 agents then hold a steadily replaced 30 MB that every collection of the simulator had
/// to copy up the generations; a dfagent holds its own one ParentSet in its own process.
/// </para>
/// </summary>
internal sealed class SchedulerEventSummary
{
    private static readonly SchedulerEventSummary Empty = new(SchedulerEvent.EventOneofCase.None, 0, 0);

    private SchedulerEventSummary(SchedulerEvent.EventOneofCase kind, ulong requestId, int pieceNews)
    {
        Kind = kind;
        RequestId = requestId;
        PieceNews = pieceNews;
    }

    public SchedulerEvent.EventOneofCase Kind { get; }

    /// <summary>A ParentSet's request_id (0: pushed unasked).</summary>
    public ulong RequestId { get; }

    /// <summary>A PieceAvailable's news of one parent each: its own and every entry of <c>more</c>.</summary>
    public int PieceNews { get; }

    /// <summary>Scheduler.Connect with this summary as its response type: the same method on the wire.</summary>
    public static readonly Method<PeerEvent, SchedulerEventSummary> Connect = new(
        MethodType.DuplexStreaming,
        Scheduler.Descriptor.FullName,
        "Connect",
        Marshallers.Create<PeerEvent>(
            (message, context) =>
            {
                context.SetPayloadLength(message.CalculateSize());
                message.WriteTo(context.GetBufferWriter());
                context.Complete();
            },
            context => PeerEvent.Parser.ParseFrom(context.PayloadAsReadOnlySequence())),
        Marshallers.Create<SchedulerEventSummary>(
            (_, _) => throw new NotSupportedException("the simulator only reads SchedulerEvents"),
            context => Parse(context.PayloadAsReadOnlySequence())));

    public static SchedulerEventSummary Parse(ReadOnlySequence<byte> payload)
    {
        var length = checked((int)payload.Length);
        var buffer = ArrayPool<byte>.Shared.Rent(Math.Max(1, length));
        try
        {
            payload.CopyTo(buffer);
            return Parse(buffer, length);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static SchedulerEventSummary Parse(byte[] buffer, int length)
    {
        var input = new CodedInputStream(buffer, 0, length);
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            var field = WireFormat.GetTagFieldNumber(tag);
            if (WireFormat.GetTagWireType(tag) != WireFormat.WireType.LengthDelimited)
            {
                input.SkipLastField();
                continue;
            }
            // Each case of the oneof is a message; the enum's values are the field numbers.
            var kind = (SchedulerEvent.EventOneofCase)field;
            var size = input.ReadLength();
            var start = (int)input.Position;
            return kind switch
            {
                SchedulerEvent.EventOneofCase.Parents => new SchedulerEventSummary(kind, RequestIdOf(buffer, start, size), 0),
                SchedulerEvent.EventOneofCase.PieceAvailable => new SchedulerEventSummary(kind, 0, 1 + PieceAvailable.Parser.ParseFrom(buffer, start, size).More.Count),
                _ => new SchedulerEventSummary(kind, 0, 0),
            };
        }
        return Empty;
    }

    private static ulong RequestIdOf(byte[] buffer, int start, int size)
    {
        var parentSet = new CodedInputStream(buffer, start, size);
        uint tag;
        while ((tag = parentSet.ReadTag()) != 0)
        {
            if (WireFormat.GetTagFieldNumber(tag) == ParentSet.RequestIdFieldNumber && WireFormat.GetTagWireType(tag) == WireFormat.WireType.Varint)
            {
                return parentSet.ReadUInt64();
            }
            parentSet.SkipLastField();
        }
        return 0;
    }
}
