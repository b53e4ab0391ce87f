using System.Buffers;

namespace Dragonfly.PubSub.Origins.Streams;

/// <summary>
/// A window of an inner stream: skips <c>skip</c> bytes on the first read (for origins that ignore
/// ranges), then yields at most <c>limit</c> bytes. Disposing disposes the inner stream and the
/// owned resources (the HTTP response, the FTP control connection).
/// </summary>
internal sealed class RangeWindowStream : ReadOnlyStream
{
    private readonly Stream _inner;
    private readonly IDisposable?[] _owned;
    private readonly Func<long, Exception> _endedWhileSkipping;
    private long _skip;
    private long? _remaining;
    private bool _disposed;

    public RangeWindowStream(Stream inner, long skip, long? limit, Func<long, Exception> endedWhileSkipping, params IDisposable?[] owned)
    {
        _inner = inner;
        _skip = skip;
        _remaining = limit;
        _endedWhileSkipping = endedWhileSkipping;
        _owned = owned;
    }

    /// <summary>Called once when the window was fully read; may throw to report a bad end (FTP reply).</summary>
    public Func<CancellationToken, ValueTask>? OnInnerEnd { get; init; }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_skip > 0)
        {
            await SkipAsync(cancellationToken).ConfigureAwait(false);
        }
        if (_remaining == 0 || buffer.Length == 0)
        {
            return 0;
        }
        if (_remaining is { } remaining && remaining < buffer.Length)
        {
            buffer = buffer[..(int)remaining];
        }
        var read = await _inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        if (read == 0)
        {
            if (OnInnerEnd is { } onEnd)
            {
                await onEnd(cancellationToken).ConfigureAwait(false);
            }
            _remaining = 0;
            return 0;
        }
        _remaining -= read;
        return read;
    }

    /// <summary>True while bytes before the window remain to be skipped.</summary>
    public bool HasPendingSkip => _skip > 0;

    /// <summary>
    /// Skips with one read of the inner stream, so a caller can apply its idle timeout per read
    /// rather than to the whole skip (which can be most of a large object).
    /// </summary>
    public async ValueTask SkipSomeAsync(CancellationToken cancellationToken)
    {
        var scratch = ArrayPool<byte>.Shared.Rent(81920);
        try
        {
            var read = await _inner.ReadAsync(scratch.AsMemory(0, (int)Math.Min(scratch.Length, _skip)), cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                throw _endedWhileSkipping(_skip);
            }
            _skip -= read;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(scratch);
        }
    }

    private async ValueTask SkipAsync(CancellationToken cancellationToken)
    {
        while (_skip > 0)
        {
            await SkipSomeAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing && !_disposed)
        {
            _disposed = true;
            _inner.Dispose();
            foreach (var owned in _owned)
            {
                owned?.Dispose();
            }
        }
        base.Dispose(disposing);
    }
}
