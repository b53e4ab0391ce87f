using System.Collections.Concurrent;

namespace Dragonfly.PubSub.Origins.Tests.Infrastructure;

/// <summary>
/// An in-memory origin whose failures a test scripts: failed opens, connections cut after some
/// bytes, bodies that stall. Records every open. Never waits on the real clock: a test that needs
/// time to pass advances its fake clock in <see cref="OnRead"/> or once <see cref="Stalled"/> completes.
/// </summary>
internal sealed class ScriptedOrigin(byte[] data) : IOrigin
{
    private readonly TaskCompletionSource _stalled = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _opens;
    private int _stats;

    public IReadOnlyCollection<string> Schemes { get; } = ["mem"];

    public ConcurrentQueue<(long Offset, long? Length)> Opens { get; } = new();

    public int StatCalls => _stats;

    /// <summary>Given the open's index (0-based), the exception it throws, or null.</summary>
    public Func<int, Exception?> FailOpen { get; init; } = _ => null;

    /// <summary>Given the open's index, after how many bytes its stream is cut (IOException), or null.</summary>
    public Func<int, long?> CutAfter { get; init; } = _ => null;

    /// <summary>Given the open's index, after how many bytes its stream stops sending without closing, or null.</summary>
    public Func<int, long?> StallAfter { get; init; } = _ => null;

    /// <summary>Like an HTTP origin answering 200 to a range request: sends from byte 0, the window skips ahead.</summary>
    public bool IgnoresRanges { get; init; }

    /// <summary>Each read of a body returns at most this many bytes.</summary>
    public int ReadChunk { get; init; } = int.MaxValue;

    /// <summary>
    /// Called before every chunk a body returns (a test advances its fake clock here to model a slow
    /// origin); like a socket, the read then fails if its token was cancelled meanwhile.
    /// </summary>
    public Action? OnRead { get; init; }

    /// <summary>Completes when a body first reaches its <see cref="StallAfter"/> point (its read is then waiting).</summary>
    public Task Stalled => _stalled.Task;

    /// <summary>Given the stat's index, the exception it throws, or null.</summary>
    public Func<int, Exception?> FailStat { get; init; } = _ => null;

    public Task<OriginObject> StatAsync(Uri url, OriginRequestOptions options, CancellationToken cancellationToken)
    {
        var index = Interlocked.Increment(ref _stats) - 1;
        return FailStat(index) is { } error
            ? Task.FromException<OriginObject>(error)
            : Task.FromResult(new OriginObject { Url = url, Size = data.Length, SupportsRanges = true });
    }

    public Task<Stream> OpenRangeAsync(Uri url, long offset, long? length, OriginRequestOptions options, CancellationToken cancellationToken)
    {
        var index = Interlocked.Increment(ref _opens) - 1;
        Opens.Enqueue((offset, length));
        if (FailOpen(index) is { } error)
        {
            return Task.FromException<Stream>(error);
        }
        if (IgnoresRanges)
        {
            var whole = new ScriptedStream(this, data, CutAfter(index), StallAfter(index));
            return Task.FromResult<Stream>(new Streams.RangeWindowStream(whole, offset, length, _ => new InvalidOperationException("beyond the end")));
        }
        var end = length is { } n ? Math.Min(data.Length, offset + n) : data.Length;
        return Task.FromResult<Stream>(new ScriptedStream(this, data.AsMemory((int)offset, (int)(end - offset)), CutAfter(index), StallAfter(index)));
    }

    private sealed class ScriptedStream(ScriptedOrigin origin, ReadOnlyMemory<byte> bytes, long? cutAfter, long? stallAfter) : Stream
    {
        private int _position;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (_position == cutAfter)
            {
                throw new IOException("connection reset by peer");
            }
            if (_position == stallAfter)
            {
                origin._stalled.TrySetResult();
                await Task.Delay(Timeout.Infinite, cancellationToken);
            }
            origin.OnRead?.Invoke();
            cancellationToken.ThrowIfCancellationRequested();
            var limit = Math.Min(origin.ReadChunk, bytes.Length - _position);
            if (cutAfter is { } cut)
            {
                limit = (int)Math.Min(limit, cut - _position);
            }
            if (stallAfter is { } stall)
            {
                limit = (int)Math.Min(limit, stall - _position);
            }
            var count = Math.Min(buffer.Length, limit);
            bytes.Slice(_position, count).CopyTo(buffer);
            _position += count;
            return count;
        }

        public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
