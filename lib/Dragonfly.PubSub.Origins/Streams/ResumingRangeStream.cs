using Microsoft.Extensions.Logging;

namespace Dragonfly.PubSub.Origins.Streams;

/// <summary>
/// A range read that survives cut connections and stalls: on a transient failure it waits the
/// backoff of its <see cref="RetryState"/> and reopens the range where it stopped.
/// </summary>
internal sealed class ResumingRangeStream : ReadOnlyStream
{
    private readonly IOrigin _origin;
    private readonly Uri _url;
    private readonly long _offset;
    private readonly OriginRequestOptions _options;
    private readonly RetryState _retry;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private Stream? _inner;
    private CancellationTokenSource _idle;
    private long _consumed;
    private long? _remaining;
    private bool _ended;
    private bool _disposed;

    public ResumingRangeStream(IOrigin origin, Uri url, long offset, long? length, OriginRequestOptions options, RetryState retry,
        Stream first, TimeProvider time, ILogger logger)
    {
        _origin = origin;
        _url = url;
        _offset = offset;
        _remaining = length;
        _options = options;
        _retry = retry;
        _inner = first;
        _time = time;
        _logger = logger;
        _idle = new CancellationTokenSource(Timeout.InfiniteTimeSpan, time);
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_ended || _remaining == 0 || buffer.Length == 0)
        {
            return 0;
        }
        if (_remaining is { } remaining && remaining < buffer.Length)
        {
            buffer = buffer[..(int)remaining];
        }
        while (true)
        {
            if (_inner is null)
            {
                OriginLog.Resuming(_logger, OriginUrl.Redact(_url), _offset + _consumed);
                _inner = await OriginClient.OpenWithRetryAsync(_origin, _url, _offset + _consumed, _remaining, _options, _retry, cancellationToken).ConfigureAwait(false);
            }
            try
            {
                // An origin that ignores ranges sends everything before the offset first: each
                // read of that gets its own idle timeout, or a long skip would count as a stall.
                while (_inner is RangeWindowStream { HasPendingSkip: true } window)
                {
                    await WithIdleTimeoutAsync(window, static (w, _, ct) => Skip(w, ct), Memory<byte>.Empty, cancellationToken).ConfigureAwait(false);
                }
                var read = await WithIdleTimeoutAsync(_inner, static (s, b, ct) => s.ReadAsync(b, ct), buffer, cancellationToken).ConfigureAwait(false);
                if (read == 0)
                {
                    _ended = true; // the origin delivered the range (or the object ended)
                    return 0;
                }
                _consumed += read;
                _remaining -= read;
                return read;
            }
            catch (Exception e) when (RetryState.IsRetryable(e, cancellationToken))
            {
                await _inner.DisposeAsync().ConfigureAwait(false);
                _inner = null;
                await _retry.FailedAsync(_url, e, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private static async ValueTask<int> Skip(RangeWindowStream window, CancellationToken cancellationToken)
    {
        await window.SkipSomeAsync(cancellationToken).ConfigureAwait(false);
        return 0;
    }

    private async ValueTask<int> WithIdleTimeoutAsync<TStream>(TStream stream, Func<TStream, Memory<byte>, CancellationToken, ValueTask<int>> read,
        Memory<byte> buffer, CancellationToken cancellationToken)
    {
        // One timer source per stream, re-armed per read; replaced only after it fired.
        if (!_idle.TryReset())
        {
            _idle.Dispose();
            _idle = new CancellationTokenSource(Timeout.InfiniteTimeSpan, _time);
        }
        var idle = _idle;
        using var link = cancellationToken.UnsafeRegister(static state => ((CancellationTokenSource)state!).Cancel(), idle);
        idle.CancelAfter(_options.IdleTimeout);
        return await read(stream, buffer, idle.Token).ConfigureAwait(false);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing && !_disposed)
        {
            _disposed = true;
            _inner?.Dispose();
            _idle.Dispose();
        }
        base.Dispose(disposing);
    }

    public override async ValueTask DisposeAsync()
    {
        if (!_disposed)
        {
            _disposed = true;
            if (_inner is not null)
            {
                await _inner.DisposeAsync().ConfigureAwait(false);
            }
            _idle.Dispose();
        }
        await base.DisposeAsync().ConfigureAwait(false);
    }
}
