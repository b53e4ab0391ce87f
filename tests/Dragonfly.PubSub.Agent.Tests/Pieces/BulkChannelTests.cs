using System.Buffers.Binary;
using System.Net.Security;
using System.Net.Sockets;
using System.Text;
using Dragonfly.PubSub.Agent.Tests.Support;
using Dragonfly.PubSub.Security;
using Dragonfly.PubSub.Transfer.Pieces;

namespace Dragonfly.PubSub.Agent.Tests.Pieces;

/// <summary>
/// The peer connection's bulk channel: agreed by ALPN in the mutually authenticated TLS 1.3
/// handshake, keyed by secrets swapped inside it, then 64 KiB AEAD frames. It must carry every
/// byte both ways, never show plaintext on the wire, and fail a connection whose frames were
/// altered, replayed, reflected, cut or oversized; a peer without it stays on TLS records.
/// </summary>
public sealed class BulkChannelTests : IDisposable
{
    private static readonly byte[] ClientSecret = Enumerable.Range(1, BulkKeys.SecretLength).Select(i => (byte)i).ToArray();
    private static readonly byte[] ServerSecret = Enumerable.Range(101, BulkKeys.SecretLength).Select(i => (byte)i).ToArray();
    private readonly FleetCa _ca = FleetCa.Create("test fleet");
    private readonly HashSet<string> _revoked = [];

    [Theory]
    [InlineData("aes-128-gcm", "Aes128Gcm")]
    [InlineData("aes-256-gcm", "Aes256Gcm")]
    [InlineData("chacha20-poly1305", "ChaCha20Poly1305")]
    public async Task BothEndsOfferingIt_AgreeOnTheBulkChannel_WithTheNegotiatedAead_AndCarryEveryByteBothWays(string cipher, string aead)
    {
        var expected = Enum.Parse<BulkAlgorithm>(aead);
        Assert.True(TlsCiphers.TryParse(cipher, out var ciphers, out _));
        using var pair = await SocketPair.ConnectAsync();
        var (client, server) = await HandshakeAsync(pair, TestPeerTls.Create(_ca, "child", _revoked, ciphers), TestPeerTls.Create(_ca, "parent", _revoked, ciphers));
        using (client)
        using (server)
        {
            Assert.Equal(expected, Assert.IsType<BulkPeerStream>(client).Algorithm);
            Assert.Equal(expected, Assert.IsType<BulkPeerStream>(server).Algorithm);
            Assert.Equal("parent", client.RemotePeerId);
            Assert.Equal("child", server.RemotePeerId);

            foreach (var size in new[] { 1, 9, BulkPeerStream.FrameSize - 1, BulkPeerStream.FrameSize, BulkPeerStream.FrameSize + 1, 1024 * 1024 + 3 })
            {
                await RoundTripAsync(server, client, size);
                await RoundTripAsync(client, server, size);
            }
        }
    }

    [Theory]
    [InlineData(false, true)]
    [InlineData(true, false)]
    [InlineData(false, false)]
    public async Task AnEndThatDoesNotOfferIt_KeepsTheConnectionOnTlsRecords(bool clientOffers, bool serverOffers)
    {
        using var pair = await SocketPair.ConnectAsync();
        var (client, server) = await HandshakeAsync(pair,
            TestPeerTls.Create(_ca, "child", _revoked, bulkChannel: clientOffers),
            TestPeerTls.Create(_ca, "parent", _revoked, bulkChannel: serverOffers));
        using (client)
        using (server)
        {
            Assert.IsType<TlsPeerStream>(client);
            Assert.IsType<TlsPeerStream>(server);
            await RoundTripAsync(server, client, 200_000);
            await RoundTripAsync(client, server, 9);
        }
    }

    [Fact]
    public async Task OnTheWire_EachFrameIsCiphertextWithTwentyBytesOfOverhead()
    {
        using var wire = await SocketPair.ConnectAsync();
        using var sender = Stream(wire.Server, isClient: false);
        var plaintext = Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("dragonfly piece bytes ", 4000)));

        await sender.WriteAsync(plaintext, CancellationToken.None);
        var frames = (plaintext.Length + BulkPeerStream.FrameSize - 1) / BulkPeerStream.FrameSize;
        var raw = await ReceiveExactlyAsync(wire.Client, plaintext.Length + frames * 20);

        Assert.Equal(BulkPeerStream.FrameSize, BinaryPrimitives.ReadInt32BigEndian(raw));
        Assert.Equal(-1, raw.AsSpan().IndexOf("dragonfly"u8));
        Assert.Equal(plaintext, await OpenAsync(raw, plaintext.Length));
    }

    [Fact]
    public async Task AFrameWithOneBitFlipped_FailsTheRead_AndEveryReadAfterIt()
    {
        var raw = await SealAsync(new byte[1000], new byte[1000]);
        raw[4 + 500] ^= 0x01; // in the first frame's ciphertext; the second frame is intact, yet must not be read

        using var wire = await SocketPair.ConnectAsync();
        using var receiver = Stream(wire.Client, isClient: true);
        await wire.Server.SendAsync(raw);

        await Assert.ThrowsAsync<IOException>(() => receiver.ReadAsync(new byte[1000], CancellationToken.None).AsTask().Within());
        await Assert.ThrowsAsync<IOException>(() => receiver.ReadAsync(new byte[1000], CancellationToken.None).AsTask().Within());
    }

    [Fact]
    public async Task AnAlteredLength_FailsTheFrame()
    {
        var raw = await SealAsync(new byte[1000]);
        BinaryPrimitives.WriteInt32BigEndian(raw, 999); // the frame now claims one byte less, and its tag moves

        await Assert.ThrowsAsync<IOException>(() => OpenAsync(raw, 999));
    }

    [Fact]
    public async Task AReplayedFrame_Fails()
    {
        var raw = await SealAsync(new byte[1000]);
        var twice = raw.Concat(raw).ToArray();

        using var wire = await SocketPair.ConnectAsync();
        using var receiver = Stream(wire.Client, isClient: true);
        await wire.Server.SendAsync(twice);

        Assert.Equal(1000, await receiver.ReadAsync(new byte[1000], CancellationToken.None).AsTask().Within());
        await Assert.ThrowsAsync<IOException>(() => receiver.ReadAsync(new byte[1000], CancellationToken.None).AsTask().Within());
    }

    [Fact]
    public async Task FramesSwappedInOrder_Fail()
    {
        var first = await SealAsync(new byte[100], new byte[200]);
        var swapped = first.AsSpan(120).ToArray().Concat(first.AsSpan(0, 120).ToArray()).ToArray(); // the 200-byte frame, then the 100-byte one

        await Assert.ThrowsAsync<IOException>(() => OpenAsync(swapped, 200));
    }

    [Fact]
    public async Task AFrameReflectedBackToItsSender_Fails()
    {
        using var wire = await SocketPair.ConnectAsync();
        using var client = Stream(wire.Client, isClient: true);
        await client.WriteAsync(new byte[1000], CancellationToken.None);
        var raw = await ReceiveExactlyAsync(wire.Server, 1020);

        await wire.Server.SendAsync(raw); // what the client sent comes back to it
        await Assert.ThrowsAsync<IOException>(() => client.ReadAsync(new byte[1000], CancellationToken.None).AsTask().Within());
    }

    [Theory]
    [InlineData(BulkPeerStream.MaxFrame + 1)]
    [InlineData(0)]
    [InlineData(-1)]
    public async Task AFrameLengthOutsideTheLimits_IsRefusedAtItsHeader(int length)
    {
        using var wire = await SocketPair.ConnectAsync();
        using var receiver = Stream(wire.Client, isClient: true);
        var header = new byte[4];
        BinaryPrimitives.WriteInt32BigEndian(header, length);

        await wire.Server.SendAsync(header); // and nothing more: the read must not wait for the body
        var e = await Assert.ThrowsAsync<IOException>(() => receiver.ReadAsync(new byte[10], CancellationToken.None).AsTask().Within());
        Assert.Contains("frame of", e.Message);
    }

    [Theory]
    [InlineData(2)] // inside the length
    [InlineData(1019)] // before the tag's last byte
    public async Task ClosedInsideAFrame_IsAnError_ClosedBetweenFrames_IsTheEnd(int cutAfter)
    {
        var raw = await SealAsync(new byte[1000]);

        using (var cut = await SocketPair.ConnectAsync())
        using (var receiver = Stream(cut.Client, isClient: true))
        {
            await cut.Server.SendAsync(raw.AsMemory(0, cutAfter));
            cut.Server.Shutdown(SocketShutdown.Send);
            await Assert.ThrowsAsync<IOException>(() => receiver.ReadAsync(new byte[1000], CancellationToken.None).AsTask().Within());
        }

        using var whole = await SocketPair.ConnectAsync();
        using var reader = Stream(whole.Client, isClient: true);
        await whole.Server.SendAsync(raw);
        whole.Server.Shutdown(SocketShutdown.Send);
        var buffer = new byte[2000];
        Assert.Equal(1000, await reader.ReadAsync(buffer, CancellationToken.None).AsTask().Within());
        Assert.Equal(0, await reader.ReadAsync(buffer, CancellationToken.None).AsTask().Within());
    }

    [Fact]
    public async Task BothEnds_TurnToTheNextKeyAtTheSameFrame_AndAnEndThatDoesNotTurn_FailsThere()
    {
        using var wire = await SocketPair.ConnectAsync();
        using var sender = Stream(wire.Server, isClient: false, framesPerKey: 3);
        using var receiver = Stream(wire.Client, isClient: true, framesPerKey: 3);
        for (var i = 0; i < 10; i++)
        {
            await RoundTripAsync(sender, receiver, 1000 + i);
        }

        var raw = await SealAsync(framesPerKey: 3, Enumerable.Range(0, 4).Select(_ => new byte[100]).ToArray());
        using var late = await SocketPair.ConnectAsync();
        using var stuck = Stream(late.Client, isClient: true, framesPerKey: 4);
        await late.Server.SendAsync(raw);
        Assert.Equal(300, await stuck.ReadAsync(new byte[300], CancellationToken.None).AsTask().Within());
        await Assert.ThrowsAsync<IOException>(() => stuck.ReadAsync(new byte[100], CancellationToken.None).AsTask().Within());
    }

    [Fact]
    public async Task AFrameSentRightBehindTheServersSecret_IsNotSwallowedByTheTlsLayer()
    {
        using var pair = await SocketPair.ConnectAsync();
        var identity = TestPeerTls.Identity(_ca, "parent", _revoked, TlsCiphers.Default);
        var serving = Task.Run(async () =>
        {
            // A server that speaks first: its secret and a frame leave together, before the client has read either.
            var ssl = new SslStream(new NetworkStream(pair.Server, ownsSocket: false));
            var options = identity.ServerOptions(requireClientCertificate: true);
            options.ApplicationProtocols = [BulkKeys.Protocol, BulkKeys.TlsOnly];
            await ssl.AuthenticateAsServerAsync(options);
            var keys = await BulkKeys.ExchangeAsync(ssl, isClient: false, BulkKeys.AlgorithmOf(ssl.NegotiatedCipherSuite)!.Value, CancellationToken.None);
            var stream = new BulkPeerStream(pair.Server, new ReceiveLowWater(pair.Server), keys, ssl, "child");
            await stream.WriteAsync("hello from the server"u8.ToArray(), CancellationToken.None);
            return stream;
        });

        using var client = await TlsPeerStream.ConnectAsync(pair.Client, TestPeerTls.Create(_ca, "child", _revoked), "parent", CancellationToken.None).AsTask().Within();
        using var server = await serving.Within();
        var received = new byte[21];
        Assert.Equal(21, await client.ReadAsync(received, CancellationToken.None).AsTask().Within());
        Assert.Equal("hello from the server", Encoding.ASCII.GetString(received));
    }

    [Fact]
    public async Task AServerThatNamesNoProtocol_AnOlderAgent_IsSpokenToInTlsRecords()
    {
        using var pair = await SocketPair.ConnectAsync();
        var identity = TestPeerTls.Identity(_ca, "parent", _revoked, TlsCiphers.Default);
        using var ssl = new SslStream(new NetworkStream(pair.Server, ownsSocket: false));
        var accepting = ssl.AuthenticateAsServerAsync(identity.ServerOptions(requireClientCertificate: true));

        using var client = await TlsPeerStream.ConnectAsync(pair.Client, TestPeerTls.Create(_ca, "child", _revoked), "parent", CancellationToken.None).AsTask().Within();
        await accepting.Within();

        Assert.IsType<TlsPeerStream>(client);
        await client.WriteAsync("request"u8.ToArray(), CancellationToken.None);
        var request = new byte[7];
        await ssl.ReadExactlyAsync(request).AsTask().Within();
        Assert.Equal("request", Encoding.ASCII.GetString(request));
        await ssl.WriteAsync("answer"u8.ToArray());
        var answer = new byte[6];
        Assert.Equal(6, await client.ReadAsync(answer, CancellationToken.None).AsTask().Within());
        Assert.Equal("answer", Encoding.ASCII.GetString(answer));
    }

    public void Dispose() => _ca.Dispose();

    private static async Task<(PeerStream Client, PeerStream Server)> HandshakeAsync(SocketPair pair, PeerTls client, PeerTls server)
    {
        var accepting = TlsPeerStream.AcceptAsync(pair.Server, server, CancellationToken.None).AsTask();
        var connected = await TlsPeerStream.ConnectAsync(pair.Client, client, "parent", CancellationToken.None).AsTask().Within();
        return (connected, await accepting.Within());
    }

    /// <summary>Writes <paramref name="size"/> random bytes one way and reads them in a 9-byte header and the rest, as the piece protocol does.</summary>
    private static async Task RoundTripAsync(PeerStream from, PeerStream to, int size)
    {
        var sent = new byte[size];
        Random.Shared.NextBytes(sent);
        var writing = from.WriteAsync(sent, CancellationToken.None).AsTask();
        var received = new byte[size];
        var head = Math.Min(9, size);
        Assert.Equal(head, await to.ReadAsync(received.AsMemory(0, head), CancellationToken.None).AsTask().Within());
        Assert.Equal(size - head, await to.ReadAsync(received.AsMemory(head), CancellationToken.None).AsTask().Within());
        await writing.Within();
        Assert.Equal(sent, received);
    }

    /// <summary>A bulk stream over <paramref name="socket"/> with the fixed test secrets (no TLS session behind it).</summary>
    private static BulkPeerStream Stream(Socket socket, bool isClient, ulong framesPerKey = BulkCipher.DefaultFramesPerKey) =>
        new(socket, new ReceiveLowWater(socket), BulkKeys.Derive(ClientSecret, ServerSecret, isClient, BulkAlgorithm.Aes128Gcm, framesPerKey), new MemoryStream(), "peer");

    /// <summary>The bytes the server side puts on the wire for these writes, one frame each.</summary>
    private static Task<byte[]> SealAsync(params byte[][] writes) => SealAsync(BulkCipher.DefaultFramesPerKey, writes);

    private static async Task<byte[]> SealAsync(ulong framesPerKey, params byte[][] writes)
    {
        using var wire = await SocketPair.ConnectAsync();
        using var sender = Stream(wire.Server, isClient: false, framesPerKey);
        foreach (var write in writes)
        {
            await sender.WriteAsync(write, CancellationToken.None);
        }
        return await ReceiveExactlyAsync(wire.Client, writes.Sum(w => w.Length + 20));
    }

    /// <summary>What the client side reads from these raw bytes.</summary>
    private static async Task<byte[]> OpenAsync(byte[] raw, int length)
    {
        using var wire = await SocketPair.ConnectAsync();
        using var receiver = Stream(wire.Client, isClient: true);
        await wire.Server.SendAsync(raw);
        var plaintext = new byte[length];
        Assert.Equal(length, await receiver.ReadAsync(plaintext, CancellationToken.None).AsTask().Within());
        return plaintext;
    }

    private static async Task<byte[]> ReceiveExactlyAsync(Socket socket, int length)
    {
        var buffer = new byte[length];
        var received = 0;
        while (received < length)
        {
            var n = await socket.ReceiveAsync(buffer.AsMemory(received), SocketFlags.None).AsTask().Within();
            Assert.NotEqual(0, n);
            received += n;
        }
        return buffer;
    }
}
