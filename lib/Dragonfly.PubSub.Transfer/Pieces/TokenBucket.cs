namespace Dragonfly.PubSub.Transfer.Pieces;

/// <summary>
/// A byte-rate limiter shared by many transfers. Tokens refill at <c>bytesPerSecond</c> up to a
/// burst of a tenth of a second; a take larger than what is there goes into debt and waits it
/// off, so one chunk may pass at once but the long-run rate holds. 0 means unlimited.
/// Thread-safe; callers are served roughly in the order they arrive.
/// </summary>
public sealed class TokenBucket
{
    private readonly long _rate;
    private readonly double _capacity;
    private readonly TimeProvider _time;
    private readonly Lock _lock = new();
    private double _tokens;
    private long _last;

    public TokenBucket(long bytesPerSecond, TimeProvider time)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytesPerSecond);
        ArgumentNullException.ThrowIfNull(time);
        _rate = bytesPerSecond;
        _time = time;
        _capacity = Math.Max(1, bytesPerSecond / 10.0);
        _tokens = _capacity;
        _last = time.GetTimestamp();
    }

    public long BytesPerSecond => _rate;

    public bool IsUnlimited => _rate == 0;

    /// <summary>Waits until <paramref name="bytes"/> may pass. Completes synchronously while under the rate.</summary>
    public ValueTask TakeAsync(int bytes, CancellationToken ct)
    {
        if (_rate == 0 || bytes <= 0)
        {
            return ValueTask.CompletedTask;
        }
        TimeSpan wait;
        lock (_lock)
        {
            var now = _time.GetTimestamp();
            _tokens = Math.Min(_capacity, _tokens + _time.GetElapsedTime(_last, now).TotalSeconds * _rate);
            _last = now;
            _tokens -= bytes;
            if (_tokens >= 0)
            {
                return ValueTask.CompletedTask;
            }
            // In debt: this caller waits until the refill covers it; later callers queue behind.
            wait = TimeSpan.FromSeconds(-_tokens / _rate);
        }
        return new ValueTask(Task.Delay(wait, _time, ct));
    }
}
