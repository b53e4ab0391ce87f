namespace Dragonfly.PubSub.Transfer.Sources;

/// <summary>
/// Where the source of a URL task reads pieces from (the origin). Implementations retry
/// transient trouble themselves and are called concurrently, one call per piece.
/// </summary>
public interface IPieceSource
{
    /// <summary>What the source is, for messages: never credentials, query strings or headers.</summary>
    string Description { get; }

    /// <summary>
    /// Reads exactly <c>destination.Length</c> bytes at <paramref name="offset"/>. Throws
    /// <see cref="PieceSourceException"/> when it gives up; <see cref="OperationCanceledException"/>
    /// when <paramref name="ct"/> is cancelled.
    /// </summary>
    Task ReadAsync(long offset, Memory<byte> destination, CancellationToken ct);
}
