using Dragonfly.PubSub.Origins.Streams;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Dragonfly.PubSub.Origins;

/// <summary>
/// What a seed or dfget calls: resolves the origin of a URL in the <see cref="OriginRegistry"/>
/// and adds retries with exponential backoff (bounded in count and time), resume of a cut range
/// where it stopped, and an idle timeout on body reads. Thread-safe; one per process is enough.
/// </summary>
public sealed class OriginClient
{
    private readonly TimeProvider _time;
    private readonly Random _random;
    private readonly ILogger _logger;

    /// <param name="random">Jitter source; must be thread-safe (default <see cref="Random.Shared"/>).</param>
    public OriginClient(OriginRegistry registry, TimeProvider? timeProvider = null, ILogger<OriginClient>? logger = null, Random? random = null)
    {
        ArgumentNullException.ThrowIfNull(registry);
        Registry = registry;
        _time = timeProvider ?? TimeProvider.System;
        _random = random ?? Random.Shared;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
    }

    public OriginRegistry Registry { get; }

    /// <inheritdoc cref="IOrigin.StatAsync"/>
    public async Task<OriginObject> StatAsync(Uri url, OriginRequestOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= OriginRequestOptions.Default;
        var origin = Registry.Resolve(url);
        var retry = NewRetry(options);
        while (true)
        {
            try
            {
                return await origin.StatAsync(url, options, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (RetryState.IsRetryable(e, cancellationToken))
            {
                await retry.FailedAsync(url, e, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// A stream of <paramref name="length"/> bytes from <paramref name="offset"/> (to the end when
    /// null; fewer only when the object ends first). Cuts and stalls are resumed transparently
    /// within the retry policy; when it is spent, reads throw <see cref="OriginException"/>.
    /// </summary>
    public async Task<Stream> OpenRangeAsync(Uri url, long offset, long? length, OriginRequestOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        if (length is { } l)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(l);
        }
        options ??= OriginRequestOptions.Default;
        var origin = Registry.Resolve(url);
        var retry = NewRetry(options);
        var first = await OpenWithRetryAsync(origin, url, offset, length, options, retry, cancellationToken).ConfigureAwait(false);
        return new ResumingRangeStream(origin, url, offset, length, options, retry, first, _time, _logger);
    }

    /// <summary>
    /// Reads the bytes at <paramref name="offset"/> into <paramref name="destination"/> (one piece)
    /// and returns how many were read: <c>destination.Length</c>, fewer only when the object ends.
    /// </summary>
    public async Task<int> ReadRangeAsync(Uri url, long offset, Memory<byte> destination, OriginRequestOptions? options = null, CancellationToken cancellationToken = default)
    {
        if (destination.Length == 0)
        {
            return 0;
        }
        var stream = await OpenRangeAsync(url, offset, destination.Length, options, cancellationToken).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            var total = 0;
            while (total < destination.Length)
            {
                var read = await stream.ReadAsync(destination[total..], cancellationToken).ConfigureAwait(false);
                if (read == 0)
                {
                    break;
                }
                total += read;
            }
            return total;
        }
    }

    internal static async Task<Stream> OpenWithRetryAsync(IOrigin origin, Uri url, long offset, long? length, OriginRequestOptions options,
        RetryState retry, CancellationToken cancellationToken)
    {
        while (true)
        {
            try
            {
                return await origin.OpenRangeAsync(url, offset, length, options, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (RetryState.IsRetryable(e, cancellationToken))
            {
                await retry.FailedAsync(url, e, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private RetryState NewRetry(OriginRequestOptions options) => new(options.Retry, _time, _random, _logger);
}
