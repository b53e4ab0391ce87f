using System.Net.Sockets;
using System.Threading.Tasks.Sources;

namespace Dragonfly.PubSub.Transfer.Pieces;

/// <summary>
/// Sends a header and a file range with one <see cref="Socket.SendPacketsAsync"/>, which the runtime
/// turns into sendfile(2) on Linux: file bytes go from the page cache to the socket without being
/// copied through managed memory. One instance per connection, reused for every response.
/// </summary>
internal sealed class FileSender : SocketAsyncEventArgs, IValueTaskSource
{
    private ManualResetValueTaskSourceCore<bool> _source = new() { RunContinuationsAsynchronously = true };
    private readonly SendPacketsElement[] _two = new SendPacketsElement[2];
    private readonly SendPacketsElement[] _one = new SendPacketsElement[1];

    public FileSender() : base(unsafeSuppressExecutionContextFlow: true)
    {
    }

    /// <summary>Sends <paramref name="header"/> (may be empty) then <paramref name="count"/> bytes of <paramref name="file"/>.</summary>
    public ValueTask SendAsync(Socket socket, byte[] header, int headerLength, FileStream file, long offset, int count)
    {
        _source.Reset();
        SendPacketsElement[] elements;
        if (headerLength > 0)
        {
            _two[0] = new SendPacketsElement(header, 0, headerLength);
            _two[1] = new SendPacketsElement(file, offset, count);
            elements = _two;
        }
        else
        {
            _one[0] = new SendPacketsElement(file, offset, count);
            elements = _one;
        }
        SendPacketsElements = elements;
        if (!socket.SendPacketsAsync(this))
        {
            Complete();
        }
        return new ValueTask(this, _source.Version);
    }

    protected override void OnCompleted(SocketAsyncEventArgs e) => Complete();

    private void Complete()
    {
        SendPacketsElements = null;
        Array.Clear(_two);
        Array.Clear(_one);
        if (SocketError == SocketError.Success)
        {
            _source.SetResult(true);
        }
        else
        {
            _source.SetException(new SocketException((int)SocketError));
        }
    }

    void IValueTaskSource.GetResult(short token) => _source.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource.GetStatus(short token) => _source.GetStatus(token);

    void IValueTaskSource.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _source.OnCompleted(continuation, state, token, flags);
}
