using System.Net;
using System.Net.Sockets;
using Dragonfly.PubSub.Agent.Tests.Support;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Transfer;
using Dragonfly.PubSub.Transfer.Pieces;
using Microsoft.Extensions.Logging.Abstractions;

namespace Dragonfly.PubSub.Agent.Tests.Pieces;

/// <summary>
/// SO_RCVLOWAT on the fetcher's connections: the kernel gathers 64 KiB per wake-up while a piece's
/// body is sure to bring that much, and a read never waits for bytes that will not come.
/// </summary>
public sealed class ReceiveLowWaterTests
{
    [Fact]
    public async Task TheMark_IsRaisedOnlyWhileThatManyPromisedBytesAreStillToCome()
    {
        using var pair = await SocketPair.ConnectAsync();
        var lowWater = new ReceiveLowWater(pair.Client);

        lowWater.BeforeRead();
        Assert.Equal(1, LowWaterOf(pair.Client)); // nothing promised: wake at the first byte

        lowWater.Promise(3 * ReceiveLowWater.Mark);
        lowWater.BeforeRead();
        Assert.Equal(ReceiveLowWater.Mark, LowWaterOf(pair.Client));

        lowWater.AfterRead(2 * ReceiveLowWater.Mark + 1); // fewer than Mark still to come
        lowWater.BeforeRead();
        Assert.Equal(1, LowWaterOf(pair.Client));
    }

    [Fact]
    public async Task APromisedBody_TricklingIn_IsReadToItsLastByte()
    {
        using var pair = await SocketPair.ConnectAsync();
        using var stream = new SocketPeerStream(pair.Client);
        var body = new byte[ReceiveLowWater.Mark * 2 + 1000];
        Random.Shared.NextBytes(body);
        stream.LowWater.Promise(body.Length);

        // The sender trickles the body 4 KiB at a time, as a rate-limited parent does, and keeps
        // the connection open: a read waiting for a full mark at the tail would wait for ever.
        var sending = Task.Run(async () =>
        {
            for (var offset = 0; offset < body.Length; offset += 4096)
            {
                await pair.Server.SendAsync(body.AsMemory(offset, Math.Min(4096, body.Length - offset)), SocketFlags.None);
                await Task.Delay(2);
            }
        });
        var received = new byte[body.Length];
        var total = 0;
        var sawMark = false;
        while (total < body.Length)
        {
            var n = await stream.ReadAsync(received.AsMemory(total), CancellationToken.None).AsTask().Within();
            Assert.NotEqual(0, n);
            total += n;
            sawMark |= LowWaterOf(pair.Client) == ReceiveLowWater.Mark;
        }
        await sending.Within();

        Assert.Equal(body, received);
        Assert.True(sawMark, "the reads never gathered a full mark");
        Assert.Equal(1, LowWaterOf(pair.Client)); // back to waking at once for the next header
    }

    [Theory]
    [InlineData(256 * 1024)]
    [InlineData(PieceLayout.MinPieceSize)]
    public async Task APieceFromARateLimitedParent_ArrivesWhole(int pieceSize)
    {
        using var dir = new TempDirectory();
        var artifact = await TestArtifact.CreateAsync(dir.Path, 2 * pieceSize + 100, pieceSize);
        // 4 MB/s: the parent sends in token-bucket slices, so each piece's tail comes after the reader went to wait.
        await using var parent = await TestPeer.StartAsync("parent", new TransferOptions { DataDir = dir.Path, UploadLimit = 4_000_000 });
        parent.Pieces.AddComplete(artifact.Digest, artifact.Layout, artifact.Path);
        await using var fetcher = new PieceFetcher(new TransferOptions { DataDir = dir.Path }, NullLogger<PieceFetcher>.Instance);

        for (var i = 0; i < artifact.Layout.PieceCount; i++)
        {
            var buffer = new byte[artifact.Layout.LengthOf(i)];
            var result = await fetcher.FetchAsync("127.0.0.1", parent.Port, DigestKey.From(artifact.Digest), artifact.Layout.OffsetOf(i), buffer,
                artifact.Manifest.PieceDigests[i].Memory, CancellationToken.None).AsTask().Within();

            Assert.Equal(FetchStatus.Ok, result.Status);
            Assert.Equal(artifact.Bytes.AsSpan((int)artifact.Layout.OffsetOf(i), buffer.Length).ToArray(), buffer);
        }
    }

    private static int LowWaterOf(Socket socket) =>
        (int)socket.GetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReceiveLowWater)!;

    private sealed class SocketPair : IDisposable
    {
        private SocketPair(Socket client, Socket server)
        {
            Client = client;
            Server = server;
        }

        public Socket Client { get; }
        public Socket Server { get; }

        public static async Task<SocketPair> ConnectAsync()
        {
            using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            listener.Listen(1);
            var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await client.ConnectAsync(listener.LocalEndPoint!);
            var server = await listener.AcceptAsync();
            return new SocketPair(client, server);
        }

        public void Dispose()
        {
            Client.Dispose();
            Server.Dispose();
        }
    }
}
