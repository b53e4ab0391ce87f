namespace Dragonfly.PubSub.Origins;

/// <summary>
/// The client of one kind of origin (one or more URL schemes). Each call is a single attempt:
/// failures surface as <see cref="OriginException"/> (with <see cref="OriginException.IsTransient"/>
/// telling whether a retry may help) or, while a body is being read, as <see cref="IOException"/>.
/// <see cref="OriginClient"/> adds retries with backoff, resume after a cut and idle timeouts.
/// </summary>
public interface IOrigin
{
    /// <summary>Lowercase URL schemes this origin serves, e.g. <c>http</c> and <c>https</c>.</summary>
    IReadOnlyCollection<string> Schemes { get; }

    /// <summary>Size, range support and validators of the object at <paramref name="url"/>.</summary>
    Task<OriginObject> StatAsync(Uri url, OriginRequestOptions options, CancellationToken cancellationToken);

    /// <summary>
    /// A stream of the object's bytes from <paramref name="offset"/>: exactly <paramref name="length"/>
    /// bytes, fewer only when the object ends first, or everything to the end when
    /// <paramref name="length"/> is null. The stream ends cleanly only when that range was delivered;
    /// a cut connection throws. Origins that cannot seek skip ahead to the offset.
    /// </summary>
    Task<Stream> OpenRangeAsync(Uri url, long offset, long? length, OriginRequestOptions options, CancellationToken cancellationToken);
}
