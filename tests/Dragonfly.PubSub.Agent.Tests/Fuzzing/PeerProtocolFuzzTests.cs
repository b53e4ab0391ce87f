using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using CsCheck;
using Dragonfly.PubSub.Agent.Tests.Support;
using Dragonfly.PubSub.Security;
using Dragonfly.PubSub.Transfer.Pieces;

namespace Dragonfly.PubSub.Agent.Tests.Fuzzing;

/// <summary>
/// Issue 11: the peer protocol's frame parser, reached by anyone who can connect to an agent's peer port,
/// fuzzed against a real <see cref="PieceServer"/> on loopback for a few seconds per run. Each generated
/// conversation (the magic or not, then range requests, ticket frames and garbage, possibly cut short) is
/// sent and the sending side closed: the server must answer only well-formed responses (a known status; bytes
/// only for a range it holds, never more than asked), close the connection promptly, keep its memory bounded
/// and still serve an honest request afterwards. Peer tickets, the part of a frame that TLS mode parses
/// further, are fuzzed as bytes too.
/// </summary>
[Collection(FuzzCollection.Name)]
public sealed class PeerProtocolFuzzTests : IAsyncLifetime
{
    private static readonly TimeSpan Answered = TimeSpan.FromSeconds(5);
    private readonly TempDirectory _dir = new();
    private TestArtifact _artifact = null!;
    private TestPeer _peer = null!;

    public async Task InitializeAsync()
    {
        _artifact = await TestArtifact.CreateAsync(_dir.Path, (3 * TestArtifact.SmallPiece) + 100);
        _peer = await TestPeer.StartAsync("fuzzed");
        _peer.Pieces.AddComplete(_artifact.Digest, _artifact.Layout, _artifact.Path);
    }

    public async Task DisposeAsync()
    {
        await _peer.DisposeAsync();
        _dir.Dispose();
    }

    [Fact]
    public async Task AnyBytesOnThePeerPort_GetWellFormedAnswersAndAClose_AndTheServerKeepsServing()
    {
        var known = _artifact.Digest;
        var size = _artifact.Layout.Size;
        var knownKey = new byte[32];
        DigestKey.From(known).WriteTo(knownKey);
        var range = Gen.Select(Gen.OneOf(Gen.Const(knownKey), Gen.Byte.Array[32]), Gen.Long[-3, size + 3], Gen.Int[-3, (64 * 1024 * 1024) + 3])
            .Select(r => Frame(r.Item1, r.Item2, r.Item3));
        var ticket = Gen.Select(Gen.Long[-2, PeerTicket.MaxLength + 2], Gen.Byte.Array[0, 300])
            .Select(t => (byte[])[.. Frame(knownKey, t.Item1, PieceProtocol.TicketMarker), .. t.Item2]);
        var frames = Gen.OneOf(range, range, ticket, Gen.Byte.Array[0, 60]).Array[0, 6];
        var conversation = Gen.Select(Gen.Frequency((9, Gen.Const(PieceProtocol.Magic.ToArray())), (1, Gen.Byte.Array[0, 6])), frames, Gen.Int[0, 4000])
            .Select(c =>
            {
                byte[] bytes = [.. c.Item1, .. c.Item2.SelectMany(f => f)];
                return c.Item3 < bytes.Length && c.Item3 % 3 == 0 ? bytes[..c.Item3] : bytes; // a third cut short somewhere
            });

        long cases = 0;
        var allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
        await FuzzBounds.WithinDeadlineAsync(() => conversation.Sample(bytes =>
        {
            cases++;
            Converse(bytes);
        }, iter: 1_000_000, time: FuzzBounds.Seconds, threads: 1));
        var allocated = GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore;

        // Client and server in this process: a connection costs both some kilobytes, never what a frame asks for.
        var bound = (cases * 256 * 1024) + (64L * 1024 * 1024);
        Assert.True(allocated <= bound, $"{cases} fuzzed connections allocated {allocated} bytes (bound {bound})");
        var honest = Converse([.. PieceProtocol.Magic, .. Frame(knownKey, 0, _artifact.Layout.LengthOf(0))], expectOk: true);
        Assert.Equal(_artifact.Layout.LengthOf(0), honest);
    }

    [Fact]
    public void PeerTicket_TryParse_OfAnyBytes_AnswersTicketOrProblem()
    {
        Gen.Byte.Array[0, PeerTicket.MaxLength + 8].Sample(bytes =>
        {
            var ticket = PeerTicket.TryParse(bytes, out var problem);
            Assert.True(ticket is null != (problem is null), "a ticket and a problem, or neither");
        }, iter: 1_000_000, time: FuzzBounds.Seconds, threads: 1);
    }

    /// <summary>A 44-byte request head: content hash, offset, length (-1 = a ticket of offset bytes follows).</summary>
    private static byte[] Frame(byte[] key, long offset, int length)
    {
        var frame = new byte[PieceProtocol.RequestLength];
        key.CopyTo(frame, 0);
        BinaryPrimitives.WriteInt64BigEndian(frame.AsSpan(32), offset);
        BinaryPrimitives.WriteInt32BigEndian(frame.AsSpan(40), length);
        return frame;
    }

    /// <summary>
    /// Sends <paramref name="bytes"/>, closes the sending side and reads the answers until the server closes:
    /// checks their form on the fly; returns the payload bytes received.
    /// </summary>
    private long Converse(byte[] bytes, bool expectOk = false)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveTimeout = (int)Answered.TotalMilliseconds };
        socket.Connect(IPAddress.Loopback, _peer.Port);
        try
        {
            socket.Send(bytes);
            socket.Shutdown(SocketShutdown.Send);
        }
        catch (SocketException)
        {
            // The server closed first (a bad magic, a bad request): what it answered is still checked below.
        }
        var buffer = new byte[64 * 1024];
        Span<byte> header = stackalloc byte[PieceProtocol.ResponseHeaderLength];
        var headerFilled = 0;
        long payloadLeft = 0;
        long payload = 0;
        var oks = 0;
        var reset = false;
        while (true)
        {
            int n;
            try
            {
                n = socket.Receive(buffer);
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset)
            {
                reset = true; // closed with our bytes unread: a close all the same, which may cut what was in flight
                break;
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.TimedOut)
            {
                Assert.Fail($"the server neither answered nor closed within {Answered.TotalSeconds:0} s after {bytes.Length} bytes: {Convert.ToHexString(bytes.AsSpan(0, Math.Min(bytes.Length, 120)))}");
                throw;
            }
            if (n == 0)
            {
                break;
            }
            var chunk = buffer.AsSpan(0, n);
            while (chunk.Length > 0)
            {
                if (payloadLeft > 0)
                {
                    var take = (int)Math.Min(payloadLeft, chunk.Length);
                    payloadLeft -= take;
                    payload += take;
                    chunk = chunk[take..];
                    continue;
                }
                var copy = Math.Min(header.Length - headerFilled, chunk.Length);
                chunk[..copy].CopyTo(header[headerFilled..]);
                headerFilled += copy;
                chunk = chunk[copy..];
                if (headerFilled < header.Length)
                {
                    continue;
                }
                headerFilled = 0;
                var (status, length) = PieceProtocol.ReadResponseHeader(header);
                Assert.True((byte)status <= (byte)PieceStatus.Forbidden, $"unknown status {(byte)status}");
                Assert.True(status == PieceStatus.Ok ? length is > 0 and <= PieceProtocol.MaxRangeLength : length == 0, $"status {status} with length {length}");
                if (status == PieceStatus.Ok)
                {
                    Assert.True(length <= _artifact.Layout.Size, $"{length} bytes answered for an artifact of {_artifact.Layout.Size}");
                    payloadLeft = length;
                    oks++;
                }
            }
        }
        Assert.True(reset || (headerFilled == 0 && payloadLeft == 0), "the server closed in the middle of a response");
        Assert.True(!expectOk || oks == 1, "the honest request was not served");
        return payload;
    }
}
