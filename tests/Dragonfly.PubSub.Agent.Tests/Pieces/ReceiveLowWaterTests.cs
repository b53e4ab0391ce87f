using System.Net;
using System.Net.Sockets;
using Dragonfly.PubSub.Agent.Tests.Support;
using Dragonfly.PubSub.Security;
using Dragonfly.PubSub.Transfer.Pieces;

namespace Dragonfly.PubSub.Agent.Tests.Pieces;

/// <summary>
/// SO_RCVLOWAT on the fetcher's connections: the kernel gathers 64 KiB per wake-up while a piece's
/// body is sure to bring that much, and a read never waits for bytes that will not come — in plain
/// TCP and in TLS, whose ciphertext the promise counts in plaintext bytes.
/// </summary>
public sealed class ReceiveLowWaterTests
{
    private const int Mark = ReceiveLowWater.Mark;

    [Fact]
    public async Task TheMark_IsRaisedOnlyWhileThatManyPromisedBytesAreStillToCome()
    {
        using var pair = await SocketPair.ConnectAsync();
        var lowWater = new ReceiveLowWater(pair.Client);
        var buffer = new byte[4 * Mark];

        await pair.Server.SendAsync(new byte[1]);
        Assert.Equal(1, await lowWater.ReceiveAsync(buffer, CancellationToken.None).AsTask().Within());
        Assert.Equal(1, LowWaterOf(pair.Client)); // nothing promised: wake at the first byte

        lowWater.Promise(lowWater.Received + 3 * Mark);
        await pair.Server.SendAsync(new byte[2 * Mark + 1]);
        var got = await lowWater.ReceiveAsync(buffer, CancellationToken.None).AsTask().Within();
        Assert.Equal(Mark, LowWaterOf(pair.Client));
        while (got < 2 * Mark + 1)
        {
            got += await lowWater.ReceiveAsync(buffer, CancellationToken.None).AsTask().Within();
        }

        await pair.Server.SendAsync(new byte[1]); // fewer than Mark still to come
        Assert.Equal(1, await lowWater.ReceiveAsync(buffer, CancellationToken.None).AsTask().Within());
        Assert.Equal(1, LowWaterOf(pair.Client));
    }

    [Fact]
    public async Task APromisedBody_TricklingIn_IsReadToItsLastByte()
    {
        using var pair = await SocketPair.ConnectAsync();
        using var stream = new SocketPeerStream(pair.Client);
        var body = RandomBody();
        stream.LowWater.Promise(body.Length);

        var sending = TrickleAsync(body, pair.Client, (chunk, ct) => pair.Server.SendAsync(chunk, SocketFlags.None, ct).AsTask());
        var received = new byte[body.Length];
        var total = 0;
        while (total < body.Length)
        {
            var n = await stream.ReadAsync(received.AsMemory(total), CancellationToken.None).AsTask().Within();
            Assert.NotEqual(0, n);
            total += n;
        }

        Assert.True(await sending.Within(), "the reads never gathered a full mark");
        Assert.Equal(body, received);

        // The next answer's 5-byte header is not held back waiting for a mark.
        await pair.Server.SendAsync(new byte[5], SocketFlags.None);
        Assert.Equal(5, await stream.ReadAsync(new byte[5], CancellationToken.None).AsTask().Within());
    }

    [Theory]
    [InlineData(true)] // the bulk channel's frames
    [InlineData(false)] // TLS records throughout
    public async Task APromisedBody_TricklingInOverTls_IsReadToItsLastByte(bool bulkChannel)
    {
        using var pair = await SocketPair.ConnectAsync();
        using var ca = FleetCa.Create("test fleet");
        var revoked = new HashSet<string>();
        var accepting = TlsPeerStream.AcceptAsync(pair.Server, TestPeerTls.Create(ca, "parent", revoked, bulkChannel: bulkChannel), CancellationToken.None).AsTask();
        using var client = await TlsPeerStream.ConnectAsync(pair.Client, TestPeerTls.Create(ca, "child", revoked, bulkChannel: bulkChannel), "parent", CancellationToken.None).AsTask().Within();
        using var server = await accepting.Within();
        Assert.Equal(bulkChannel, client is BulkPeerStream);
        var body = RandomBody();
        // The plaintext length: the ciphertext of the records (or frames) carrying it is longer.
        client.LowWater.Promise(client.LowWater.Received + body.Length);

        // One TLS record (or frame) per 4 KiB write: the last ones reach the client after it went to wait.
        var sending = TrickleAsync(body, pair.Client, (chunk, ct) => server.WriteAsync(chunk, ct).AsTask());
        var received = new byte[body.Length];
        Assert.Equal(body.Length, await client.ReadAsync(received, CancellationToken.None).AsTask().Within());

        Assert.True(await sending.Within(), "the reads never gathered a full mark");
        Assert.Equal(body, received);

        await server.WriteAsync(new byte[5], CancellationToken.None);
        Assert.Equal(5, await client.ReadAsync(new byte[5], CancellationToken.None).AsTask().Within());
    }

    private static byte[] RandomBody()
    {
        var body = new byte[Mark * 2 + 1000];
        Random.Shared.NextBytes(body);
        return body;
    }

    /// <summary>
    /// Sends 4 KiB at a time with pauses, as a rate-limited parent does, keeping the connection open
    /// (a read waiting for a full mark at the tail would wait for ever); true if the receiving socket
    /// was seen gathering a full mark.
    /// </summary>
    private static async Task<bool> TrickleAsync(byte[] body, Socket receiver, Func<ReadOnlyMemory<byte>, CancellationToken, Task> send)
    {
        var sawMark = false;
        for (var offset = 0; offset < body.Length; offset += 4096)
        {
            await send(body.AsMemory(offset, Math.Min(4096, body.Length - offset)), CancellationToken.None);
            await Task.Delay(2);
            sawMark |= LowWaterOf(receiver) == Mark;
        }
        return sawMark;
    }

    private static int LowWaterOf(Socket socket) =>
        (int)socket.GetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReceiveLowWater)!;
}
