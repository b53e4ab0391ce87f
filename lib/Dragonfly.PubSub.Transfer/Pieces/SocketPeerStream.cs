using System.Net.Sockets;

namespace Dragonfly.PubSub.Transfer.Pieces;

/// <summary>The plain-TCP peer connection (<c>--insecure</c>): raw socket calls, and sendfile for file ranges.</summary>
internal sealed class SocketPeerStream(Socket socket) : PeerStream
{
    private FileSender? _sender;
    private readonly ReceiveLowWater _lowWater = new(socket);

    public Socket Socket => socket;

    public override string? RemoteAddress => AddressOf(socket);

    public override ReceiveLowWater LowWater => _lowWater;

    /// <summary>Nothing: reads go straight to the socket.</summary>
    public override int BufferedAhead => 0;

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct) => _lowWater.ReceiveAsync(buffer, ct);

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken ct)
    {
        while (!buffer.IsEmpty)
        {
            var n = await socket.SendAsync(buffer, SocketFlags.None, ct).ConfigureAwait(false);
            buffer = buffer[n..];
        }
    }

    /// <summary>Header then file bytes by sendfile(2): the bytes never pass through managed memory.</summary>
    public ValueTask SendFileAsync(byte[] header, int headerLength, FileStream file, long offset, int count)
    {
        _sender ??= new FileSender();
        return _sender.SendAsync(socket, header, headerLength, file, offset, count);
    }

    public override void Dispose()
    {
        socket.Dispose();
        _sender?.Dispose();
    }
}
