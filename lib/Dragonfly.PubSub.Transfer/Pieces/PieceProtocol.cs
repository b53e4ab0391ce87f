using System.Buffers.Binary;
using System.Net.Sockets;
using Dragonfly.PubSub.Contracts;

namespace Dragonfly.PubSub.Transfer.Pieces;

/// <summary>
/// The peer piece protocol, spoken on the agent's peer port (default 4000), inside TLS 1.3 with
/// both sides' fleet certificates (the default; see <see cref="PeerTls"/>) or on plain TCP
/// (<c>--insecure</c>). Plain TCP is raw sockets because the
/// framework alternatives were measured slower on this machine kind (Kestrel range GETs 0.86-1.06
/// GiB/s, gRPC streams 0.65-0.78, against 1.8-1.9 for nginx sendfile): the server hands file bytes
/// to the kernel (sendfile) and the client reads them straight into its piece buffer.
/// <code>
/// connection  (TLS: after the handshake) client sends the 4-byte magic "DFP1" once, then any number of requests;
///             the server reads and answers them one at a time, in order, so a client may send the next
///             requests before the answers come (pipelined: clients keep one connection per parent for
///             several pieces in flight, a connection per piece in flight to a parent that streams faster
///             than one connection carries, and one for its piece map). The connection stays open between requests.
/// request     44 bytes, big-endian:
///               [32] content hash: the raw SHA-256 of the whole artifact (the content id)
///               [8]  int64 offset of the first byte wanted
///               [4]  int32 length, 1 .. 64 MiB
/// ticket      (TLS, issue 11) a request whose length is -1: its content hash names the task, its offset
///             is the length of the ticket bytes that follow (1 .. 4096). No response: the server notes the
///             task as allowed on this connection until the ticket expires, or refuses its requests
/// piece map   (issue 10) a request whose length is -2: its content hash names the task, its offset is the
///             version of the task's piece map the client holds (0 at first). The server answers at once when
///             its map is of another version, otherwise when the map changes (but no sooner than the gap of
///             <see cref="MapAnswerGapAfter"/> after the previous answer on the connection) or after
///             <see cref="MapPollWait"/>, whichever comes first: status ok, length 8 + ceil(pieces / 8):
///             [8] int64 version (<see cref="CompleteMapVersion"/> = the server holds every piece; no
///             need to ask again), then the map (bit i = byte[i / 8] >> (i % 8) & 1). "missing" when the
///             task is not here, "forbidden" without a ticket. Children keep one connection per parent
///             for it: the "have" news of BitTorrent and Kraken, peer to peer instead of through the
///             broker, which then carries only what scheduling needs.
/// response    [1]  status: 0 ok, 1 missing, 2 bad request, 3 busy, 4 full, 5 forbidden
///             [4]  int32 length: the requested length when ok, otherwise 0
///             [length] the bytes, when ok
/// </code>
/// Requests name byte ranges, not piece indexes, so peers need not agree on a piece size: a peer
/// answers "missing" unless it holds every piece the range touches. A peer holding the complete
/// artifact (the publisher, a seed) answers "busy" for a range it is sending to someone else right
/// now or sent within the last second: the requester takes another piece and gets this one from
/// the swarm, so the seed's upload goes to pieces the swarm does not have yet. Any peer answers
/// "full" when all its upload slots are taken and as many requests already wait: a short queue
/// keeps its link busy, a long one only delays requesters that other parents could serve. The requester verifies the bytes
/// against its manifest's piece digest; the server never vouches for content. A server closes a
/// connection after a bad magic, a bad request, or two minutes without a request.
/// With TLS a peer serves a task's ranges only on a connection that presented a valid ticket for that
/// task (<see cref="Dragonfly.PubSub.Security.PeerTicket"/>: signed by the broker for the caller's own
/// peer id); other requests are answered "forbidden".
/// </summary>
internal static class PieceProtocol
{
    public const int MagicLength = 4;
    public const int RequestLength = DigestKey.Size + 8 + 4;
    public const int ResponseHeaderLength = 1 + 4;
    public const int MaxRangeLength = PieceLayout.MaxPieceSize;

    /// <summary>The length field of a ticket frame (a range request never has a negative length).</summary>
    public const int TicketMarker = -1;

    /// <summary>The length field of a piece-map poll.</summary>
    public const int MapMarker = -2;

    /// <summary>The version a complete artifact's piece map carries.</summary>
    public const long CompleteMapVersion = long.MaxValue;

    /// <summary>
    /// The least time between two answers to map polls on one connection: a change within it is answered at its
    /// end, together with the pieces that finished meanwhile.
    /// </summary>
    public static readonly TimeSpan MapAnswerGap = TimeSpan.FromSeconds(1);

    /// <summary>
    /// The gap in a connection's first <see cref="MapFastStart"/>: while few pieces are around, a child that hears
    /// of a new one sooner keeps its parents' uploads busy (8 x 64 MiB at 100 Mbit/s: 1.37 x D_min with 1 s, 1.31
    /// with 250 ms throughout); later the answers would cost more CPU than they gain (16 x 256 MiB: +0.7 CPU-s/GB
    /// with 250 ms throughout).
    /// </summary>
    public static readonly TimeSpan MapAnswerGapAtStart = TimeSpan.FromMilliseconds(250);

    /// <summary>How long after its first map poll a connection is answered with <see cref="MapAnswerGapAtStart"/>.</summary>
    public static readonly TimeSpan MapFastStart = TimeSpan.FromSeconds(8);

    /// <summary>The answer gap of a connection whose first map poll was <paramref name="sinceFirstPoll"/> ago.</summary>
    public static TimeSpan MapAnswerGapAfter(TimeSpan sinceFirstPoll) =>
        sinceFirstPoll < MapFastStart ? MapAnswerGapAtStart : MapAnswerGap;

    /// <summary>How long a piece-map poll waits for a change before it is answered with the same map.</summary>
    public static readonly TimeSpan MapPollWait = TimeSpan.FromSeconds(10);

    /// <summary>"DFP1": Dragonfly pieces, version 1.</summary>
    public static ReadOnlySpan<byte> Magic => "DFP1"u8;

    /// <summary>Socket buffers asked for on both ends: several pieces' worth keeps the pipe full.</summary>
    public const int SocketBufferSize = 4 * 1024 * 1024;

    public static void WriteRequest(Span<byte> destination, in DigestKey key, long offset, int length)
    {
        key.WriteTo(destination);
        BinaryPrimitives.WriteInt64BigEndian(destination[DigestKey.Size..], offset);
        BinaryPrimitives.WriteInt32BigEndian(destination[(DigestKey.Size + 8)..], length);
    }

    /// <summary>The 44-byte head of a ticket frame; the ticket's bytes follow it.</summary>
    public static void WriteTicketHead(Span<byte> destination, in DigestKey key, int ticketLength) =>
        WriteRequest(destination, key, ticketLength, TicketMarker);

    public static (DigestKey Key, long Offset, int Length) ReadRequest(ReadOnlySpan<byte> source) => (
        DigestKey.FromBytes(source),
        BinaryPrimitives.ReadInt64BigEndian(source[DigestKey.Size..]),
        BinaryPrimitives.ReadInt32BigEndian(source[(DigestKey.Size + 8)..]));

    public static void WriteResponseHeader(Span<byte> destination, PieceStatus status, int length)
    {
        destination[0] = (byte)status;
        BinaryPrimitives.WriteInt32BigEndian(destination[1..], length);
    }

    public static (PieceStatus Status, int Length) ReadResponseHeader(ReadOnlySpan<byte> source) =>
        ((PieceStatus)source[0], BinaryPrimitives.ReadInt32BigEndian(source[1..]));

    public static void Configure(Socket socket)
    {
        socket.NoDelay = true;
        socket.ReceiveBufferSize = SocketBufferSize;
        socket.SendBufferSize = SocketBufferSize;
    }

    /// <summary>
    /// Fills <paramref name="buffer"/>; false when the peer closed the connection before the first
    /// byte (a clean end), <see cref="EndOfStreamException"/> when it closed in the middle.
    /// </summary>
    public static async ValueTask<bool> ReceiveExactlyAsync(PeerStream stream, Memory<byte> buffer, CancellationToken ct)
    {
        var received = 0;
        while (received < buffer.Length)
        {
            var n = await stream.ReadAsync(buffer[received..], ct).ConfigureAwait(false);
            if (n == 0)
            {
                return received == 0 ? false : throw new EndOfStreamException("the peer closed the connection in the middle of a message");
            }
            received += n;
        }
        return true;
    }
}
