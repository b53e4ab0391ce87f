using System.Net.Sockets;

namespace Dragonfly.PubSub.Transfer.Pieces;

/// <summary>
/// The send deadline of one peer-port connection (issue 11, attack 7): while a response write is armed,
/// the client must take the bytes within the timeout, or the socket is closed under the write. That
/// ends the handler, which frees its upload slot; a client that requests 64 MiB and never reads holds
/// a slot for one timeout, not forever. Closing the socket works for every kind of write (sendfile,
/// TLS), where a cancellation token would not.
/// </summary>
internal sealed class SendDeadline : IDisposable
{
    private readonly CancellationTokenSource _expiry = new();
    private readonly CancellationTokenRegistration _closeOnExpiry;
    private readonly TimeSpan _timeout;

    public SendDeadline(Socket socket, TimeSpan timeout)
    {
        _timeout = timeout;
        _closeOnExpiry = _expiry.Token.Register(static s => ((Socket)s!).Dispose(), socket);
    }

    /// <summary>True once the deadline closed the socket.</summary>
    public bool Expired => _expiry.IsCancellationRequested;

    public void Arm() => _expiry.CancelAfter(_timeout);

    public void Disarm() => _expiry.CancelAfter(Timeout.InfiniteTimeSpan);

    public async ValueTask WriteAsync(PeerStream stream, ReadOnlyMemory<byte> buffer, CancellationToken ct)
    {
        Arm();
        await stream.WriteAsync(buffer, ct).ConfigureAwait(false);
        Disarm();
    }

    public void Dispose()
    {
        _closeOnExpiry.Dispose();
        _expiry.Dispose();
    }
}
